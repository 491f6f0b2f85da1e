//! Matcher parsing against arbitrary input: it never panics, and whatever it prints parses back to the same
//! matcher.

use proptest::prelude::*;
use vigil_alerting::{MatchOp, Matcher, Matchers};

fn op() -> impl Strategy<Value = MatchOp> {
    prop_oneof![Just(MatchOp::Equal), Just(MatchOp::NotEqual), Just(MatchOp::Regex), Just(MatchOp::NotRegex)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parsing_never_panics(s in "\\PC{0,40}") {
        let _ = Matcher::parse(&s);
        let _ = Matchers::parse(&s);
    }

    #[test]
    fn parsing_punctuation_soup_never_panics(s in "[{}=!~,\"'`\\\\ a-z\\n\\t.()|*+?^$]{0,30}") {
        let _ = Matcher::parse(&s);
        let _ = Matchers::parse(&s);
    }

    #[test]
    fn printed_matchers_parse_back(name in "[a-zA-Z_][a-zA-Z0-9_]{0,10}", op in op(), value in "\\PC{0,20}") {
        if let Ok(m) = Matcher::new(op, name, value) {
            let text = m.to_string();
            let back = Matcher::parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            prop_assert_eq!(back.name(), m.name());
            prop_assert_eq!(back.op(), m.op());
            prop_assert_eq!(back.value(), m.value());
            // And inside a list.
            let list = Matchers(vec![m.clone(), m.clone()]).to_string();
            prop_assert_eq!(Matchers::parse(&list).unwrap().0, vec![m.clone(), m]);
        }
    }
}
