//! Content negotiation for scrapes: the `Accept` header vigil sends and the format a response's
//! `Content-Type` selects.

/// The exposition formats the scrape parser understands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4, also the fallback for unknown or missing content types.
    #[default]
    PrometheusText,
    /// OpenMetrics text 1.0.0 (and its pre-release 0.0.1).
    OpenMetrics,
}

/// The `Accept` header of a scrape, preferring OpenMetrics like Prometheus 2.42 does.
pub const ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The `Content-Type` of an OpenMetrics exposition.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl Format {
    /// The format of a response with this `Content-Type`. OpenMetrics needs its media type with version
    /// 1.0.0, 0.0.1 or no version; anything else, including OpenMetrics versions not known here, is parsed as
    /// the text format, which is what targets fall back to.
    pub fn from_content_type(content_type: &str) -> Format {
        let mut parts = content_type.split(';');
        let media = parts.next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/openmetrics-text") {
            return Format::PrometheusText;
        }
        let version = parts.find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case("version").then(|| v.trim().trim_matches('"'))
        });
        match version {
            None | Some("1.0.0" | "0.0.1") => Format::OpenMetrics,
            Some(_) => Format::PrometheusText,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_select_the_parser() {
        for (ct, want) in [
            ("application/openmetrics-text; version=1.0.0; charset=utf-8", Format::OpenMetrics),
            ("application/openmetrics-text;version=0.0.1", Format::OpenMetrics),
            ("Application/OpenMetrics-Text; Version=\"1.0.0\"", Format::OpenMetrics),
            ("application/openmetrics-text", Format::OpenMetrics),
            (OPENMETRICS_CONTENT_TYPE, Format::OpenMetrics),
            ("application/openmetrics-text; version=2.0.0", Format::PrometheusText),
            ("text/plain; version=0.0.4; charset=utf-8", Format::PrometheusText),
            ("text/html", Format::PrometheusText),
            ("", Format::PrometheusText),
        ] {
            assert_eq!(Format::from_content_type(ct), want, "{ct}");
        }
    }

    #[test]
    fn accept_header_prefers_openmetrics() {
        let first = ACCEPT_HEADER.split(',').next().unwrap();
        assert_eq!(Format::from_content_type(first), Format::OpenMetrics);
        assert!(ACCEPT_HEADER.contains("text/plain;version=0.0.4;q=0.5"));
    }
}
