//! Encodes samples as Prometheus text format 0.0.4, grouping each family and sorting families by name.
//!
//! The encoder keeps one text buffer per family across scrapes, so a steady-state scrape allocates nothing
//! beyond growth of the output itself.

use std::collections::HashMap;
use std::fmt::Write as _;

use vigil_model::{Desc, MetricKind, MetricSink};

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug)]
struct FamilyBuf {
    name: String,
    help: String,
    kind: MetricKind,
    body: String,
    samples: usize,
}

/// Collects samples, then writes them out grouped by family with `# HELP` and `# TYPE` lines.
#[derive(Debug, Default)]
pub struct TextEncoder {
    families: Vec<FamilyBuf>,
    by_name: HashMap<String, usize>,
    order: Vec<usize>,
}

impl TextEncoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends every family that received samples since the last call, sorted by name, and resets them.
    pub fn finish(&mut self, out: &mut String) {
        self.order.clear();
        self.order.extend((0..self.families.len()).filter(|&i| self.families[i].samples > 0));
        let families = &self.families;
        self.order.sort_unstable_by(|&a, &b| families[a].name.cmp(&families[b].name));
        for &i in &self.order {
            let f = &mut self.families[i];
            out.push_str("# HELP ");
            out.push_str(&f.name);
            out.push(' ');
            escape_help(&f.help, out);
            out.push_str("\n# TYPE ");
            out.push_str(&f.name);
            out.push(' ');
            out.push_str(f.kind.as_str());
            out.push('\n');
            out.push_str(&f.body);
            f.body.clear();
            f.samples = 0;
        }
    }

    fn family_index(&mut self, desc: &Desc<'_>) -> usize {
        if let Some(&i) = self.by_name.get(desc.name) {
            return i;
        }
        let i = self.families.len();
        self.families.push(FamilyBuf {
            name: desc.name.to_owned(),
            help: desc.help.to_owned(),
            kind: desc.kind,
            body: String::new(),
            samples: 0,
        });
        self.by_name.insert(desc.name.to_owned(), i);
        i
    }
}

impl MetricSink for TextEncoder {
    fn sample(&mut self, desc: &Desc<'_>, labels: &[(&str, &str)], value: f64) {
        let i = self.family_index(desc);
        let f = &mut self.families[i];
        f.samples += 1;
        let body = &mut f.body;
        body.push_str(desc.name);
        if !labels.is_empty() {
            body.push('{');
            for (n, (k, v)) in labels.iter().enumerate() {
                if n > 0 {
                    body.push(',');
                }
                body.push_str(k);
                body.push_str("=\"");
                escape_label_value(v, body);
                body.push('"');
            }
            body.push('}');
        }
        body.push(' ');
        write_value(value, body);
        body.push('\n');
    }
}

/// Writes a sample value the way Prometheus parsers accept it: integers without a fraction, `NaN`, `+Inf`.
pub fn write_value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else if v == 0.0 || (1e-5..1e15).contains(&v.abs()) {
        let _ = write!(out, "{v}");
    } else {
        let _ = write!(out, "{v:e}");
    }
}

fn escape_label_value(v: &str, out: &mut String) {
    if !v.contains(['\\', '"', '\n']) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_families_sorts_them_and_escapes() {
        let mut enc = TextEncoder::new();
        let b = Desc::gauge("b_metric", "B help with \\ and\nnewline.");
        let a = Desc::counter("a_total", "A help.");
        enc.sample(&b, &[("x", "1")], 1.5);
        enc.sample(&a, &[], 3.0);
        enc.sample(&b, &[("x", "q\"u\\o\nte")], f64::NAN);
        let mut out = String::new();
        enc.finish(&mut out);
        assert_eq!(
            out,
            "# HELP a_total A help.\n# TYPE a_total counter\na_total 3\n\
             # HELP b_metric B help with \\\\ and\\nnewline.\n# TYPE b_metric gauge\n\
             b_metric{x=\"1\"} 1.5\nb_metric{x=\"q\\\"u\\\\o\\nte\"} NaN\n"
        );
        // A second scrape starts empty: families without samples are not written.
        enc.sample(&a, &[], 4.0);
        out.clear();
        enc.finish(&mut out);
        assert_eq!(out, "# HELP a_total A help.\n# TYPE a_total counter\na_total 4\n");
    }

    #[test]
    fn values_round_trip() {
        for v in [0.0, -0.0, 1.0, -3.0, 0.25, 1e-7, 1.7e9, 123456789012345678.0, 1e300, f64::MIN_POSITIVE] {
            let mut s = String::new();
            write_value(v, &mut s);
            assert_eq!(s.parse::<f64>().unwrap(), v, "{s}");
        }
        let mut s = String::new();
        write_value(f64::INFINITY, &mut s);
        write_value(f64::NEG_INFINITY, &mut s);
        assert_eq!(s, "+Inf-Inf");
    }
}
