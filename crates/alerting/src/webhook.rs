//! The webhook payload (version 4) exactly as Alertmanager's webhook notifier writes it: Go's field order,
//! Go's JSON string escaping (`<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026`), RFC 3339 times with
//! nanoseconds, the receiver name through `regexp.QuoteMeta`, and the trailing newline of `json.Encoder`.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};

use crate::labels::LabelSet;
use crate::notification::{common, status_of, Notification, NotifiedAlert};
use crate::time::go_time_string;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    receiver: String,
    status: &'static str,
    alerts: Vec<AlertJson<'a>>,
    group_labels: &'a LabelSet,
    common_labels: LabelSet,
    common_annotations: LabelSet,
    #[serde(rename = "externalURL")]
    external_url: &'a str,
    version: &'static str,
    group_key: &'a str,
    truncated_alerts: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertJson<'a> {
    status: &'static str,
    labels: &'a LabelSet,
    annotations: &'a LabelSet,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL")]
    generator_url: &'a str,
    fingerprint: String,
}

/// The request body for one webhook notification. With `max_alerts` above zero, only that many alerts are
/// sent and `truncatedAlerts` counts the rest; the status and common labels describe the alerts sent.
pub fn render(n: &Notification, max_alerts: u64) -> Vec<u8> {
    let limit = usize::try_from(max_alerts).unwrap_or(usize::MAX);
    let (alerts, truncated): (&[NotifiedAlert], u64) = if max_alerts > 0 && n.alerts.len() > limit {
        (&n.alerts[..limit], (n.alerts.len() - limit) as u64)
    } else {
        (&n.alerts, 0)
    };
    let msg = Message {
        receiver: quote_meta(&n.receiver),
        status: status_of(alerts).as_str(),
        alerts: alerts
            .iter()
            .map(|a| AlertJson {
                status: a.status.as_str(),
                labels: &a.labels,
                annotations: &a.annotations,
                starts_at: a.starts_at.to_go_string(),
                ends_at: go_time_string(a.ends_at),
                generator_url: &a.generator_url,
                fingerprint: a.fingerprint.to_string(),
            })
            .collect(),
        group_labels: &n.group_labels,
        common_labels: common(alerts.iter().map(|a| &a.labels)),
        common_annotations: common(alerts.iter().map(|a| &a.annotations)),
        external_url: &n.external_url,
        version: "4",
        group_key: &n.group_key,
        truncated_alerts: truncated,
    };
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    msg.serialize(&mut ser).expect("serializing to memory cannot fail");
    out.push(b'\n');
    out
}

/// Go's `regexp.QuoteMeta`, which Alertmanager applies to the receiver name in template data.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes strings as Go's `encoding/json` does by default.
struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(&mut self, w: &mut W, escape: CharEscape) -> io::Result<()> {
        let s: String = match escape {
            CharEscape::Quote => "\\\"".into(),
            CharEscape::ReverseSolidus => "\\\\".into(),
            CharEscape::Solidus => "/".into(),
            CharEscape::LineFeed => "\\n".into(),
            CharEscape::CarriageReturn => "\\r".into(),
            CharEscape::Tab => "\\t".into(),
            // Go (before 1.22, which Alertmanager 0.25 is built with) has no short forms for these.
            CharEscape::Backspace => "\\u0008".into(),
            CharEscape::FormFeed => "\\u000c".into(),
            CharEscape::AsciiControl(b) => format!("\\u{:04x}", b),
        };
        w.write_all(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_meta_like_go() {
        assert_eq!(quote_meta("team-x.ops"), r"team-x\.ops");
        assert_eq!(quote_meta("a+b*(c)|[d]{e}^$?\\"), r"a\+b\*\(c\)\|\[d\]\{e\}\^\$\?\\");
    }

    #[test]
    fn strings_escape_like_go() {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
        "a<b>&c\"d\\e\n\u{8}\u{1}\u{7f}é\u{2028}/".serialize(&mut ser).unwrap();
        let want = "\"a\\u003cb\\u003e\\u0026c\\\"d\\\\e\\n\\u0008\\u0001\u{7f}é\\u2028/\"";
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }
}
