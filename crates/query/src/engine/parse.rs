//! Parsing with guards: hostile queries (huge, or nested so deeply that recursion would exhaust the stack) are
//! rejected before the recursive parser and evaluator ever see them.

use promql_parser::parser::value::ValueType;
use promql_parser::parser::{self, Expr};

use super::durations::evaluate_durations;
use super::escapes::decode_byte_escapes;
use super::QueryError;

/// Longest accepted query text, in bytes.
pub(crate) const MAX_QUERY_BYTES: usize = 256 * 1024;

/// Bound on the depth of the expression tree, estimated from the text before parsing.
pub(crate) const MAX_DEPTH: usize = 400;

pub(crate) fn parse_query(query: &str) -> Result<Expr, QueryError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(QueryError::BadRequest(format!("query is longer than {MAX_QUERY_BYTES} bytes")));
    }
    if depth_bound(query) > MAX_DEPTH {
        return Err(QueryError::BadRequest(format!("query is nested deeper than {MAX_DEPTH} levels")));
    }
    if query.trim().is_empty() {
        return Err(QueryError::Parse("no expression found in input".into()));
    }
    let renamed = renamed_functions(query);
    let evaluated = evaluate_durations(&renamed)?;
    parser::parse(&decode_byte_escapes(&evaluated)).map_err(QueryError::Parse)
}

/// Functions Prometheus 3 renamed, by their Prometheus 2 name, so that older rules and dashboards still parse.
const RENAMED_FUNCTIONS: [(&str, &str); 1] = [("holt_winters", "double_exponential_smoothing")];

/// `query` with calls of a function by its old name (an identifier outside strings and label matchers, followed
/// by an opening parenthesis) renamed to the new one.
fn renamed_functions(query: &str) -> std::borrow::Cow<'_, str> {
    if !RENAMED_FUNCTIONS.iter().any(|(old, _)| query.contains(old)) {
        return query.into();
    }
    let bytes = query.as_bytes();
    let mut out = String::with_capacity(query.len() + 16);
    let (mut copied, mut braces, mut i) = (0, 0usize, 0);
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' | b'`' => i = skip_string(bytes, i),
            b'{' => braces += 1,
            b'}' => braces = braces.saturating_sub(1),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':') {
                    i += 1;
                }
                let calls = query[i..].trim_start().starts_with('(');
                let renamed = RENAMED_FUNCTIONS.iter().find(|(old, _)| *old == &query[start..i]);
                if let (Some((_, new)), true, 0) = (renamed, calls, braces) {
                    out.push_str(&query[copied..start]);
                    out.push_str(new);
                    copied = i;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&query[copied..]);
    out.into()
}

/// The index of the closing quote of the string literal opening at `start` (or the end of the text).
pub(crate) fn skip_string(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() && bytes[i] != quote {
        if bytes[i] == b'\\' && quote != b'`' {
            i += 1;
        }
        i += 1;
    }
    i
}

/// The index just past the line of the comment starting at `start` (or the end of the text).
pub(crate) fn skip_comment(bytes: &[u8], start: usize) -> usize {
    bytes[start..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| start + n + 1)
}

/// An upper bound of the AST depth: the deepest bracket nesting plus the number of operators (a chain such as
/// `a + a + ... + a` nests one level per operator). String literals and label matchers are skipped.
fn depth_bound(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut nesting, mut max_nesting, mut operators, mut braces) = (0usize, 0usize, 0usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' | b'`' => i = skip_string(bytes, i),
            b'{' => braces += 1,
            b'}' => braces = braces.saturating_sub(1),
            _ if braces > 0 => {}
            b'(' | b'[' => {
                nesting += 1;
                max_nesting = max_nesting.max(nesting);
            }
            b')' | b']' => nesting = nesting.saturating_sub(1),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'<' | b'>' | b'=' | b'!' => operators += 1,
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':') {
                    i += 1;
                }
                let word = &query[start..i];
                if ["and", "or", "unless", "atan2"].iter().any(|k| word.eq_ignore_ascii_case(k)) {
                    operators += 1;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    max_nesting + operators
}

/// `"scalar"`, `"vector"`, `"matrix"` or `"string"`.
pub(crate) fn value_type(expr: &Expr) -> &'static str {
    match expr.value_type() {
        ValueType::Scalar => "scalar",
        ValueType::Vector => "vector",
        ValueType::Matrix => "matrix",
        ValueType::String => "string",
    }
}

/// Removes any number of enclosing parentheses.
pub(crate) fn unparen(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

#[cfg(test)]
mod tests {
    use super::renamed_functions;

    #[test]
    fn prometheus_2_function_names_are_renamed_only_where_they_are_calls() {
        let cases = [
            ("holt_winters(x[5m], 0.5, 0.5)", "double_exponential_smoothing(x[5m], 0.5, 0.5)"),
            ("sum(holt_winters (x[5m], 0.1, 0.9))", "sum(double_exponential_smoothing (x[5m], 0.1, 0.9))"),
            ("holt_winters", "holt_winters"),
            ("holt_winters{a=\"holt_winters(\"}", "holt_winters{a=\"holt_winters(\"}"),
            (
                "label_replace(x, \"holt_winters(\", 'holt_winters(', \"a\", \"b\")",
                "label_replace(x, \"holt_winters(\", 'holt_winters(', \"a\", \"b\")",
            ),
            ("sum by (holt_winters) (x)", "sum by (holt_winters) (x)"),
            ("my_holt_winters(x)", "my_holt_winters(x)"),
            ("rate(x[1m]) + holt_winters(y[1m], .5, .5)", "rate(x[1m]) + double_exponential_smoothing(y[1m], .5, .5)"),
        ];
        for (query, expected) in cases {
            assert_eq!(renamed_functions(query), expected, "{query}");
        }
    }
}
