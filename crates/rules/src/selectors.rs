//! The metric names an expression's selectors read, so the server knows which new samples may change a rule.

use std::collections::BTreeSet;

use promql_parser::label::MatchOp;
use promql_parser::parser::{Expr, VectorSelector};
use vigil_model::METRIC_NAME;

/// Every metric name `expr` selects, or `None` when a selector does not name one exactly (`{job="x"}`,
/// `{__name__=~"a|b"}`, `or` alternatives): then any series may matter.
pub fn metric_names(expr: &Expr) -> Option<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    collect(expr, &mut names)?;
    Some(names)
}

fn collect(expr: &Expr, names: &mut BTreeSet<String>) -> Option<()> {
    match expr {
        Expr::VectorSelector(vs) => names.insert(selector_name(vs)?),
        Expr::MatrixSelector(ms) => names.insert(selector_name(&ms.vs)?),
        Expr::Aggregate(a) => {
            collect(&a.expr, names)?;
            if let Some(param) = &a.param {
                collect(param, names)?;
            }
            true
        }
        Expr::Unary(u) => return collect(&u.expr, names),
        Expr::Binary(b) => {
            collect(&b.lhs, names)?;
            return collect(&b.rhs, names);
        }
        Expr::Paren(p) => return collect(&p.expr, names),
        Expr::Subquery(s) => return collect(&s.expr, names),
        Expr::Call(c) => {
            for arg in &c.args.args {
                collect(arg, names)?;
            }
            true
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => true,
        Expr::Extension(_) => return None,
    };
    Some(())
}

fn selector_name(vs: &VectorSelector) -> Option<String> {
    if !vs.matchers.or_matchers.is_empty() {
        return None;
    }
    if let Some(name) = &vs.name {
        return Some(name.clone());
    }
    vs.matchers
        .matchers
        .iter()
        .find(|m| m.name == METRIC_NAME && matches!(m.op, MatchOp::Equal))
        .map(|m| m.value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(q: &str) -> Option<Vec<String>> {
        metric_names(&vigil_query::parse_expr(q).unwrap()).map(|n| n.into_iter().collect())
    }

    #[test]
    fn names_of_every_selector_in_the_tree() {
        assert_eq!(
            names("sum by (job) (rate(http_errors_total[5m])) / on(job) group_left up > 0.1 and absent(x)").unwrap(),
            ["http_errors_total", "up", "x"]
        );
        assert_eq!(names(r#"{__name__="node_load1"} > 2"#).unwrap(), ["node_load1"]);
        assert_eq!(names("max_over_time(a[10m:1m]) > scalar(b)").unwrap(), ["a", "b"]);
        assert_eq!(names("vector(1)").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn unnamed_selectors_mean_any_series() {
        assert_eq!(names(r#"{job="node"} == 0"#), None);
        assert_eq!(names(r#"count({__name__=~"node_.*"}) > 1"#), None);
        assert_eq!(names(r#"up + {job="x"}"#), None);
    }
}
