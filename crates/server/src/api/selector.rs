//! Series selectors in `match[]` parameters (`up{job="node"}`), parsed with the PromQL parser into matcher sets.

use promql_parser::label::{MatchOp as PromOp, Matcher as PromMatcher};
use promql_parser::parser::Expr;
use vigil_model::{MatchOp, Matcher, METRIC_NAME};

use super::error::ApiError;

/// Parses a selector into its alternatives: one matcher set, or several when it uses `or` inside the braces.
pub fn parse_selector(text: &str) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let bad = |msg: String| ApiError::bad_data(format!("invalid parameter \"match[]\": {msg}"));
    let expr = vigil_query::parse_expr(text).map_err(|e| bad(e.to_string()))?;
    let Expr::VectorSelector(selector) = expr else {
        return Err(bad(format!("{text:?} is not a series selector")));
    };
    let mut sets = Vec::new();
    let alternatives = std::iter::once(&selector.matchers.matchers).chain(selector.matchers.or_matchers.iter());
    for alternative in alternatives.filter(|set| !set.is_empty() || selector.name.is_some()) {
        let mut set = alternative.iter().map(convert).collect::<Result<Vec<_>, _>>().map_err(bad)?;
        if let Some(name) = &selector.name {
            if !set.iter().any(|m| m.name() == METRIC_NAME) {
                set.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name.as_str()).map_err(|e| bad(e.to_string()))?);
            }
        }
        if set.iter().all(|m| m.matches_empty()) {
            return Err(bad("match[] must contain at least one non-empty matcher".to_string()));
        }
        sets.push(set);
    }
    if sets.is_empty() {
        return Err(bad("match[] must contain at least one non-empty matcher".to_string()));
    }
    Ok(sets)
}

fn convert(m: &PromMatcher) -> Result<Matcher, String> {
    let op = match m.op {
        PromOp::Equal => MatchOp::Equal,
        PromOp::NotEqual => MatchOp::NotEqual,
        PromOp::Re(_) => MatchOp::Regex,
        PromOp::NotRe(_) => MatchOp::NotRegex,
    };
    Matcher::new(op, m.name.as_str(), m.value.as_str()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_become_matcher_sets() {
        let sets = parse_selector(r#"up{job="node",instance=~"a.*"}"#).unwrap();
        assert_eq!(sets.len(), 1);
        let names: Vec<&str> = sets[0].iter().map(|m| m.name()).collect();
        assert_eq!(names, ["job", "instance", "__name__"]);
        assert_eq!(parse_selector(r#"{job="a" or job="b"}"#).unwrap().len(), 2);
        assert!(parse_selector("rate(up[5m])").unwrap_err().message.contains("not a series selector"));
        assert!(parse_selector(r#"{job=~".*"}"#).is_err());
        assert!(parse_selector("up{").is_err());
    }
}
