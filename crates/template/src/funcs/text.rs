//! String helpers the Prometheus and Alertmanager function sets share: Go's per-rune case mapping, title casing
//! as golang.org/x/text/cases does it for ordinary text, and net.SplitHostPort.

/// Go's `strings.ToUpper`: each rune maps to one rune (so `ß` stays `ß`).
pub(crate) fn to_upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// Go's `strings.ToLower`: each rune maps to one rune.
pub(crate) fn to_lower(s: &str) -> String {
    s.chars().map(|c| c.to_lowercase().next().unwrap_or(c)).collect()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Title-cases the first letter of each word; with `lower_rest`, lowers the others (Alertmanager's `title`),
/// without it leaves them (Prometheus' `title`). Words follow Unicode word boundaries in the common cases:
/// apostrophes, periods and colons between letters, and periods and commas between digits, do not end a word.
pub(crate) fn title(s: &str, lower_rest: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let joins = match c {
            '\'' | '\u{2019}' | '.' | ':' => {
                prev.is_some_and(char::is_alphabetic) && next.is_some_and(char::is_alphabetic)
            }
            _ => false,
        } || (matches!(c, '.' | ',' | ';')
            && prev.is_some_and(|p| p.is_ascii_digit())
            && next.is_some_and(|n| n.is_ascii_digit()));
        if is_word(c) || (in_word && joins) {
            if in_word {
                if lower_rest {
                    out.push(c.to_lowercase().next().unwrap_or(c));
                } else {
                    out.push(c);
                }
            } else {
                out.push_str(&to_upper(c.encode_utf8(&mut [0; 4])));
                in_word = true;
            }
        } else {
            out.push(c);
            in_word = false;
        }
    }
    out
}

/// Go's `net.SplitHostPort`: `None` where Go returns an error.
pub(crate) fn split_host_port(hostport: &str) -> Option<(&str, &str)> {
    let i = hostport.rfind(':')?;
    let (host, j, k) = if hostport.starts_with('[') {
        let end = hostport.find(']')?;
        if end + 1 != i {
            return None;
        }
        (&hostport[1..end], 1, end + 1)
    } else {
        let host = &hostport[..i];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if hostport[j..].contains('[') || hostport[k..].contains(']') {
        return None;
    }
    Some((host, &hostport[i + 1..]))
}

/// Go's `net.JoinHostPort`.
pub(crate) fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_cases_words() {
        assert_eq!(title("aa bb CC", false), "Aa Bb CC");
        assert_eq!(title("aa bb CC", true), "Aa Bb Cc");
        assert_eq!(title("don't stop-now foo_bar 3.5kg", true), "Don't Stop-Now Foo_bar 3.5kg");
        assert_eq!(to_upper("straße"), "STRAßE");
    }

    #[test]
    fn host_ports_split_as_go() {
        assert_eq!(split_host_port("foo:80"), Some(("foo", "80")));
        assert_eq!(split_host_port("[::1]:80"), Some(("::1", "80")));
        assert_eq!(split_host_port("::1"), None);
        assert_eq!(split_host_port("foo"), None);
        assert_eq!(split_host_port("[2001:0DB8::1]::12345"), None);
    }
}
