//! `| pattern "<ip> - - <_> \"<method> <uri> <_>\" <status>"`: literals and captures, matched left to right,
//! each capture running up to the first occurrence of the literal after it.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Literal(String),
    /// A named capture; `None` for `<_>`.
    Capture(Option<String>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(Vec<Node>);

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let mut nodes: Vec<Node> = Vec::new();
        let mut rest = text;
        let mut literal = String::new();
        while !rest.is_empty() {
            if rest.starts_with('<') {
                if let Some(end) = rest.find('>') {
                    let name = &rest[1..end];
                    if name == "_" || is_name(name) {
                        if !literal.is_empty() {
                            nodes.push(Node::Literal(std::mem::take(&mut literal)));
                        }
                        if matches!(nodes.last(), Some(Node::Capture(_))) {
                            return Err(format!("invalid pattern {text:?}: found consecutive capture <{name}>"));
                        }
                        let name = (name != "_").then(|| name.to_string());
                        if name.is_some() && nodes.iter().any(|n| *n == Node::Capture(name.clone())) {
                            return Err(format!(
                                "invalid pattern {text:?}: duplicate capture <{}>",
                                name.unwrap_or_default()
                            ));
                        }
                        nodes.push(Node::Capture(name));
                        rest = &rest[end + 1..];
                        continue;
                    }
                }
            }
            let c = rest.chars().next().unwrap_or(' ');
            literal.push(c);
            rest = &rest[c.len_utf8()..];
        }
        if !literal.is_empty() {
            nodes.push(Node::Literal(literal));
        }
        if !nodes.iter().any(|n| matches!(n, Node::Capture(Some(_)))) {
            return Err(format!("invalid pattern {text:?}: at least one named capture is required"));
        }
        Ok(Pattern(nodes))
    }

    /// Calls `emit(name, value)` for each named capture of `line`. Matching stops at the first literal not
    /// found; captures before it are still emitted, as Loki does.
    pub(crate) fn matches<'a>(&self, line: &'a str, emit: &mut dyn FnMut(&str, &'a str)) {
        let mut rest = line;
        let mut i = 0;
        while i < self.0.len() {
            match &self.0[i] {
                Node::Literal(l) => {
                    if i == 0 {
                        match rest.strip_prefix(l.as_str()) {
                            Some(r) => rest = r,
                            None => return,
                        }
                    } else {
                        // Reached only for a literal that starts the pattern; captures consume the others.
                        return;
                    }
                    i += 1;
                }
                Node::Capture(name) => {
                    let value = match self.0.get(i + 1) {
                        Some(Node::Literal(l)) => match rest.find(l.as_str()) {
                            Some(at) => {
                                let v = &rest[..at];
                                rest = &rest[at + l.len()..];
                                i += 1;
                                v
                            }
                            None => return,
                        },
                        _ => std::mem::take(&mut rest),
                    };
                    if let Some(name) = name {
                        emit(name, value);
                    }
                    i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &str, line: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        Pattern::parse(p).unwrap().matches(line, &mut |k, v| out.push((k.to_string(), v.to_string())));
        out
    }

    #[test]
    fn matches_nginx_lines() {
        let p = r#"<ip> - - <_> "<method> <uri> <_>" <status> <size>"#;
        let got = run(p, r#"10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "GET /a?b=c HTTP/1.1" 200 512"#);
        let want = [("ip", "10.0.0.1"), ("method", "GET"), ("uri", "/a?b=c"), ("status", "200"), ("size", "512")];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(run("<a> x <b>", "1 y 2"), [("a".to_string(), "1 y 2".to_string())][..0]);
        assert_eq!(
            run("[<a>] <b>", "[1] 2 3"),
            [("a".to_string(), "1".to_string()), ("b".to_string(), "2 3".to_string())]
        );
    }

    #[test]
    fn rejects_bad_patterns() {
        assert!(Pattern::parse("<_> x").unwrap_err().contains("at least one named capture"));
        assert!(Pattern::parse("<a><b>").unwrap_err().contains("consecutive"));
        assert!(Pattern::parse("<a> <a>").unwrap_err().contains("duplicate"));
        assert_eq!(Pattern::parse("<a> <1b>").unwrap().0.len(), 2);
    }
}
