//! A small JSON writer for API responses, with Prometheus' number formats: timestamps as seconds with
//! millisecond fractions, sample values as strings (`"NaN"`, `"+Inf"`).

use std::fmt::Write;

use vigil_model::Labels;

/// Appends JSON text to a string; the caller writes the structure, this writes the tokens.
#[derive(Default)]
pub struct Json {
    out: String,
}

impl Json {
    pub fn with_capacity(capacity: usize) -> Json {
        Json { out: String::with_capacity(capacity) }
    }

    pub fn finish(self) -> String {
        self.out
    }

    pub fn raw(&mut self, text: &str) -> &mut Json {
        self.out.push_str(text);
        self
    }

    /// A JSON string literal.
    pub fn string(&mut self, s: &str) -> &mut Json {
        self.out.push('"');
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.out.push_str(&s[start..i]);
            if escape.is_empty() {
                let _ = write!(self.out, "\\u{b:04x}");
            } else {
                self.out.push_str(escape);
            }
            start = i + 1;
        }
        self.out.push_str(&s[start..]);
        self.out.push('"');
        self
    }

    /// A millisecond timestamp as Prometheus writes it: seconds, and a 3-digit fraction when not whole.
    pub fn timestamp(&mut self, t_ms: i64) -> &mut Json {
        let abs = t_ms.unsigned_abs();
        if t_ms < 0 {
            self.out.push('-');
        }
        let _ = write!(self.out, "{}", abs / 1000);
        if !abs.is_multiple_of(1000) {
            let _ = write!(self.out, ".{:03}", abs % 1000);
        }
        self
    }

    /// A sample value as a JSON string, formatted like Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
    pub fn value(&mut self, v: f64) -> &mut Json {
        self.out.push('"');
        format_value(&mut self.out, v);
        self.out.push('"');
        self
    }

    /// `[t, "v"]`.
    pub fn point(&mut self, t_ms: i64, v: f64) -> &mut Json {
        self.out.push('[');
        self.timestamp(t_ms);
        self.out.push(',');
        self.value(v);
        self.out.push(']');
        self
    }

    /// A label set as a JSON object.
    pub fn labels(&mut self, labels: &Labels) -> &mut Json {
        self.out.push('{');
        for (i, label) in labels.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.string(&label.name);
            self.out.push(':');
            self.string(&label.value);
        }
        self.out.push('}');
        self
    }

    /// A JSON array of strings.
    pub fn strings<'a>(&mut self, items: impl IntoIterator<Item = &'a str>) -> &mut Json {
        self.out.push('[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.string(item);
        }
        self.out.push(']');
        self
    }
}

/// Writes `v` the way Prometheus' API does: shortest round-trip digits without an exponent.
pub fn format_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_prometheus_writes_them() {
        let mut j = Json::default();
        j.point(1_435_781_451_781, 1.0).raw(" ").point(1_500, f64::NAN).raw(" ").point(-2_050, f64::NEG_INFINITY);
        j.raw(" ").value(1e21).raw(" ").value(1e-7).raw(" ").value(0.1 + 0.2).raw(" ").value(f64::INFINITY);
        assert_eq!(
            j.finish(),
            r#"[1435781451.781,"1"] [1.500,"NaN"] [-2.050,"-Inf"] "1000000000000000000000" "0.0000001" "0.30000000000000004" "+Inf""#
        );
    }

    #[test]
    fn strings_are_escaped() {
        let mut j = Json::default();
        j.string("a\"b\\c\nd\u{1}é");
        assert_eq!(j.finish(), r#""a\"b\\c\nd\u0001é""#);
    }
}
