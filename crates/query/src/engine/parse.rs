//! Parsing with guards: hostile queries (huge, or nested so deeply that recursion would exhaust the stack) are
//! rejected before the recursive parser and evaluator ever see them.

use promql_parser::parser::value::ValueType;
use promql_parser::parser::{self, Expr};

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
    parser::parse(query).map_err(QueryError::Parse)
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
            b'"' | b'\'' | b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != c {
                    if bytes[i] == b'\\' && c != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
            }
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
