//! Cutting texts to a service's limit on a character boundary, marked with `…` as Alertmanager does.

/// `s` if it has at most `max` characters; otherwise its first `max - 1` characters and `…`. The second value
/// says whether anything was cut.
pub fn truncate_chars(s: &str, max: usize) -> (String, bool) {
    match s.char_indices().nth(max) {
        None => (s.to_owned(), false),
        Some(_) if max == 0 => (String::new(), true),
        Some(_) => {
            let end = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
            (format!("{}…", &s[..end]), true)
        }
    }
}

/// `s` cut to at most `max` bytes on a character boundary, the last of them `…` when cut.
pub fn truncate_bytes(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_owned(), false);
    }
    let budget = max.saturating_sub('…'.len_utf8());
    let mut end = budget.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if max < '…'.len_utf8() {
        return (String::new(), true);
    }
    (format!("{}…", &s[..end]), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_characters() {
        assert_eq!(truncate_chars("abc", 3), ("abc".into(), false));
        assert_eq!(truncate_chars("abcd", 3), ("ab…".into(), true));
        assert_eq!(truncate_chars("ééé€", 3), ("éé…".into(), true));
        assert_eq!(truncate_chars("ab", 0), (String::new(), true));
        assert_eq!(truncate_bytes("aé€", 5), ("a…".into(), true));
        assert_eq!(truncate_bytes("abc", 3), ("abc".into(), false));
    }
}
