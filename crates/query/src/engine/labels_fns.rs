//! Functions that rewrite labels or reorder a vector: `label_replace`, `label_join`, `sort`, `sort_desc`,
//! `sort_by_label`, `sort_by_label_desc`.

use std::cmp::Ordering;

use promql_parser::parser::Expr;
use regex::Regex;
use vigil_model::{Labels, METRIC_NAME};

use super::call::arg;
use super::eval::Evaluator;
use super::types::{EvalSeries, Grid, Val};
use super::QueryError;

impl Evaluator<'_> {
    pub(crate) fn eval_string(&mut self, e: &Expr, grid: Grid) -> Result<String, QueryError> {
        match e {
            Expr::StringLiteral(s) => Ok(s.val.clone()),
            other => match self.eval(other, grid)? {
                Val::String(s) => Ok(s),
                v => Err(QueryError::Execution(format!("expected string, got {}", v.type_name()))),
            },
        }
    }

    pub(crate) fn eval_label_replace(&mut self, args: &[&Expr], grid: Grid) -> Result<Val, QueryError> {
        let dst = self.eval_string(arg(args, 1)?, grid)?;
        let replacement = self.eval_string(arg(args, 2)?, grid)?;
        let src = self.eval_string(arg(args, 3)?, grid)?;
        let pattern = self.eval_string(arg(args, 4)?, grid)?;
        let regex = regex::RegexBuilder::new(&format!("^(?s:{pattern})$"))
            .size_limit(vigil_model::matcher::REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| QueryError::Execution(format!("invalid regular expression in label_replace(): {e}")))?;
        if !is_label_name(&dst) {
            return Err(QueryError::Execution(format!("invalid destination label name in label_replace(): {dst}")));
        }
        let mut series = self.eval(arg(args, 0)?, grid)?.into_vector()?;
        for s in &mut series {
            self.limits.tick()?;
            replace_label(s, &regex, &dst, &replacement, &src);
        }
        Ok(Val::Vector(series))
    }

    pub(crate) fn eval_label_join(&mut self, args: &[&Expr], grid: Grid) -> Result<Val, QueryError> {
        let dst = self.eval_string(arg(args, 1)?, grid)?;
        let separator = self.eval_string(arg(args, 2)?, grid)?;
        let mut sources = Vec::new();
        for a in args.iter().skip(3) {
            let src = self.eval_string(a, grid)?;
            if !is_label_name(&src) {
                return Err(QueryError::Execution(format!("invalid source label name in label_join(): {src}")));
            }
            sources.push(src);
        }
        if !is_label_name(&dst) {
            return Err(QueryError::Execution(format!("invalid destination label name in label_join(): {dst}")));
        }
        let mut series = self.eval(arg(args, 0)?, grid)?.into_vector()?;
        for s in &mut series {
            self.limits.tick()?;
            let joined: Vec<&str> = sources.iter().map(|l| s.labels.get(l).unwrap_or("")).collect();
            let value = joined.join(&separator);
            s.labels.set(&dst, &value);
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
        Ok(Val::Vector(series))
    }

    pub(crate) fn eval_sort(&mut self, name: &str, args: &[&Expr], grid: Grid) -> Result<Val, QueryError> {
        let mut by = Vec::new();
        for a in args.iter().skip(1) {
            by.push(self.eval_string(a, grid)?);
        }
        let mut series = self.eval(arg(args, 0)?, grid)?.into_vector()?;
        // Only an instant result has an order; a range result is sorted by labels in the end anyway.
        if !grid.is_instant() {
            return Ok(Val::Vector(series));
        }
        let value = |s: &EvalSeries| s.points.first().map_or(f64::NAN, |p| p.1);
        match name {
            "sort" => series.sort_by(|a, b| by_value(value(a), value(b), false)),
            "sort_desc" => series.sort_by(|a, b| by_value(value(a), value(b), true)),
            "sort_by_label" => series.sort_by(|a, b| by_labels(&a.labels, &b.labels, &by)),
            _ => series.sort_by(|a, b| by_labels(&a.labels, &b.labels, &by).reverse()),
        }
        Ok(Val::Vector(series))
    }
}

/// Whether `name` is a valid label name: since Prometheus 3, any non-empty UTF-8. U+FFFD stands for bytes of a
/// string literal that are not UTF-8 (see `escapes.rs`).
fn is_label_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(char::REPLACEMENT_CHARACTER)
}

fn replace_label(s: &mut EvalSeries, regex: &Regex, dst: &str, replacement: &str, src: &str) {
    let value = s.labels.get(src).unwrap_or("");
    let Some(captures) = regex.captures(value) else { return };
    let mut result = String::new();
    captures.expand(replacement, &mut result);
    s.labels.set(dst, &result);
    if dst == METRIC_NAME {
        s.drop_name = false;
    }
}

/// Ascending (or descending) by value, NaN last either way.
fn by_value(a: f64, b: f64, descending: bool) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if descending => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// By the given labels' values in natural order, then by the whole label set.
fn by_labels(a: &Labels, b: &Labels, by: &[String]) -> Ordering {
    for name in by {
        let (x, y) = (a.get(name).unwrap_or(""), b.get(name).unwrap_or(""));
        if x != y {
            return natural_cmp(x, y);
        }
    }
    a.cmp(b)
}

/// Natural order: runs of digits compare as numbers, everything else as text.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(n), Ok(m)) => n.cmp(&m),
            _ => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len())
}

/// Splits a string into maximal runs of ASCII digits and of other characters.
fn chunks(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev_digit = None;
    for (i, c) in s.char_indices() {
        let digit = c.is_ascii_digit();
        if prev_digit.is_some_and(|p| p != digit) {
            out.push(&s[start..i]);
            start = i;
        }
        prev_digit = Some(digit);
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_digit_runs_as_numbers() {
        let mut v = vec!["4m600", "4m1000", "4m5", "1.111.3", "1.2.3", "1.11.3", "10", "9", ""];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["", "1.2.3", "1.11.3", "1.111.3", "4m5", "4m600", "4m1000", "9", "10"]);
    }
}
