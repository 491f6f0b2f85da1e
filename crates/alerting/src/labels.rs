//! Alert label sets as Alertmanager sees them: their fingerprint, their ordering, and their text form in
//! group keys (Go's `%q` quoting), so keys and fingerprints match Alertmanager's byte for byte.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// Labels or annotations of an alert, sorted by name.
pub type LabelSet = BTreeMap<String, String>;

/// The 64-bit identity of a label set: FNV-1a over `name 0xff value 0xff` for each label in name order, as
/// `model.LabelSet.Fingerprint` computes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub u64);

const FNV_OFFSET: u64 = 14_695_981_039_346_656_037;
const FNV_PRIME: u64 = 1_099_511_628_211;
const SEPARATOR: u8 = 0xff;

impl Fingerprint {
    pub fn of(labels: &LabelSet) -> Fingerprint {
        let mut h = FNV_OFFSET;
        let mut add = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(FNV_PRIME);
            }
        };
        for (name, value) in labels {
            add(name.as_bytes());
            add(&[SEPARATOR]);
            add(value.as_bytes());
            add(&[SEPARATOR]);
        }
        Fingerprint(h)
    }
}

impl fmt::Display for Fingerprint {
    /// Sixteen lowercase hex digits, as in the webhook's `fingerprint` field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, the label names Alertmanager 0.25 accepts on alerts.
pub fn is_valid_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The text of a label set as `model.LabelSet.String` prints it in Alertmanager 0.25: each pair as
/// `name="value"` (Go `%q` quoting), the pairs sorted as strings, joined by `", "`, in braces.
///
/// The pairs are sorted as formatted strings, not by name: `a0="x"` comes before `a="y"` because `0` sorts
/// before `=`. That is what the prometheus/common version Alertmanager 0.25 links does, and group keys inherit it.
pub fn label_set_string(labels: &LabelSet) -> String {
    let mut pairs: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={}", go_quote(v))).collect();
    pairs.sort_unstable();
    format!("{{{}}}", pairs.join(", "))
}

/// Go's `strconv.Quote`: double quotes, `\"` and `\\`, the short escapes for `\a \b \f \n \r \t \v`, `\xNN` for
/// other ASCII controls, and `\uNNNN` / `\UNNNNNNNN` for characters Go does not consider printable.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if go_is_print(c) => out.push(c),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space. Rust's standard
/// library has no general-category tables, so this rejects what Go rejects in practice: controls, every
/// space and separator but U+0020, format characters, private use and noncharacters. Unassigned code points,
/// which Go also rejects, are accepted here.
fn go_is_print(c: char) -> bool {
    let u = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let format_chars: &[(u32, u32)] = &[
        (0x00ad, 0x00ad),
        (0x0600, 0x0605),
        (0x061c, 0x061c),
        (0x06dd, 0x06dd),
        (0x070f, 0x070f),
        (0x0890, 0x0891),
        (0x08e2, 0x08e2),
        (0x180e, 0x180e),
        (0x200b, 0x200f),
        (0x202a, 0x202e),
        (0x2060, 0x2064),
        (0x2066, 0x206f),
        (0xfeff, 0xfeff),
        (0xfff9, 0xfffb),
        (0x110bd, 0x110bd),
        (0x110cd, 0x110cd),
        (0x13430, 0x1343f),
        (0x1bca0, 0x1bca3),
        (0x1d173, 0x1d17a),
        (0xe0001, 0xe0001),
        (0xe0020, 0xe007f),
        // Private use areas.
        (0xe000, 0xf8ff),
        (0xf0000, 0x10ffff),
        // Noncharacters.
        (0xfdd0, 0xfdef),
    ];
    if format_chars.iter().any(|&(lo, hi)| (lo..=hi).contains(&u)) {
        return false;
    }
    (u & 0xfffe) != 0xfffe
}

/// `model.LabelSet.Before`: fewer labels first; otherwise the first differing label in name order decides, a
/// missing label sorting first.
pub fn label_set_before(a: &LabelSet, b: &LabelSet) -> Ordering {
    if a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort_unstable();
    names.dedup();
    for n in names {
        match (a.get(n), b.get(n)) {
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    Ordering::Equal
}

/// `types.AlertSlice`'s order in notifications: by `job`, then `instance` (alerts lacking the label last),
/// then [`label_set_before`].
pub fn alert_order(a: &LabelSet, b: &LabelSet) -> Ordering {
    for key in ["job", "instance"] {
        match (a.get(key), b.get(key)) {
            (None, None) => continue,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    label_set_before(a, b)
}

/// Builds a label set from pairs; a test and example convenience.
pub fn labels<const N: usize>(pairs: [(&str, &str); N]) -> LabelSet {
    pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_match_prometheus_common() {
        // The empty set hashes to the FNV offset basis, as `emptyLabelSignature` does.
        assert_eq!(Fingerprint::of(&LabelSet::new()).0, 14_695_981_039_346_656_037);
        // FNV-1a over "alertname\xffup\xff", computed independently.
        let mut h = FNV_OFFSET;
        for b in b"alertname\xffup\xff" {
            h ^= u64::from(*b);
            h = h.wrapping_mul(FNV_PRIME);
        }
        assert_eq!(Fingerprint::of(&labels([("alertname", "up")])).0, h);
        assert_eq!(Fingerprint(0xab).to_string(), "00000000000000ab");
    }

    #[test]
    fn go_quote_matches_strconv_quote() {
        assert_eq!(go_quote("plain"), r#""plain""#);
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("tab\there\nnl"), r#""tab\there\nnl""#);
        assert_eq!(go_quote("\u{0}\u{1b}\u{7f}"), r#""\x00\x1b\x7f""#);
        assert_eq!(go_quote("é日本"), "\"é日本\"");
        assert_eq!(go_quote("\u{a0}\u{200b}\u{feff}"), r#""\u00a0\u200b\ufeff""#);
        assert_eq!(go_quote("\u{85}"), r#""\u0085""#);
        assert_eq!(go_quote("\u{f0000}"), r#""\U000f0000""#);
        assert_eq!(go_quote("😀"), "\"😀\"");
    }

    #[test]
    fn label_set_string_sorts_formatted_pairs() {
        assert_eq!(label_set_string(&LabelSet::new()), "{}");
        assert_eq!(label_set_string(&labels([("b", "2"), ("a", "1")])), r#"{a="1", b="2"}"#);
        // "a0=" sorts before "a=" because '0' < '='.
        assert_eq!(label_set_string(&labels([("a", "x"), ("a0", "y")])), r#"{a0="y", a="x"}"#);
    }

    #[test]
    fn alerts_sort_by_job_then_instance_then_labels() {
        let a = labels([("job", "a"), ("x", "1")]);
        let b = labels([("job", "b")]);
        let none = labels([("alertname", "z")]);
        assert_eq!(alert_order(&a, &b), Ordering::Less);
        assert_eq!(alert_order(&none, &a), Ordering::Greater);
        let i1 = labels([("job", "a"), ("instance", "1")]);
        let i2 = labels([("job", "a"), ("instance", "2")]);
        assert_eq!(alert_order(&i2, &i1), Ordering::Greater);
        assert_eq!(label_set_before(&labels([("a", "1")]), &labels([("a", "1"), ("b", "1")])), Ordering::Less);
        assert_eq!(label_set_before(&labels([("a", "1")]), &labels([("b", "1")])), Ordering::Greater);
    }
}
