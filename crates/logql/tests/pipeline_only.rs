//! `parse_pipeline`: a pipeline without a selector, as the agent's log sources configure it, run line by line.

use vigil_logql::{parse_pipeline, LabelsBuilder};
use vigil_model::Labels;

#[test]
fn runs_filters_and_parsers_over_lines() {
    let p = parse_pipeline(r#"| logfmt | level != "debug" | drop ts"#).unwrap();
    let mut b = LabelsBuilder::new(Labels::from_pairs([("job", "app")]).unwrap());
    assert!(p.process(0, "level=debug msg=x ts=1", &mut b).is_none());
    b.reset();
    let line = p.process(0, "level=info msg=hello ts=1", &mut b).unwrap();
    assert_eq!(line, "level=info msg=hello ts=1");
    let mut got = Vec::new();
    b.for_each(|n, v| got.push((n.to_string(), v.to_string())));
    got.sort();
    let want: Vec<(String, String)> = [("job", "app"), ("level", "info"), ("msg", "hello")]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn empty_text_passes_everything() {
    let p = parse_pipeline("").unwrap();
    let mut b = LabelsBuilder::new(Labels::default());
    assert_eq!(p.process(0, "anything", &mut b).unwrap(), "anything");
    assert!(b.unchanged());
}

#[test]
fn errors_are_positioned_within_the_text() {
    let e = |t: &str| parse_pipeline(t).err().unwrap().to_string();
    assert_eq!(e("| nope"), "parse error at line 1, col 3: syntax error: unexpected IDENTIFIER");
    assert_eq!(e(r#"{app="x"}"#), "parse error at line 1, col 1: syntax error: unexpected {");
    assert!(
        e(r#"| regexp "(unclosed""#).starts_with("parse error at line 1, col 3: error parsing regexp"),
        "{}",
        e(r#"| regexp "(unclosed""#)
    );
    assert!(e(r#"| pattern "<_> <_>""#).contains("pattern"), "{}", e(r#"| pattern "<_> <_>""#));
}
