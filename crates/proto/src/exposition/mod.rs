//! Metric exposition formats: the Prometheus text format 0.0.4 (encoder for `/metrics`, parser for scrapes) and
//! the OpenMetrics 1.0 text format (parser for scrapes).

mod encode;
mod format;
mod openmetrics;
mod parse;

pub use encode::{write_value, TextEncoder, CONTENT_TYPE};
pub use format::{Format, ACCEPT_HEADER, OPENMETRICS_CONTENT_TYPE};
pub use parse::{parse, Family, ParseError, Sample, MAX_LINE_LEN};

/// Parses a scrape body in the given format; pick the format with [`Format::from_content_type`].
pub fn parse_with(text: &str, format: Format) -> Result<Vec<Family>, ParseError> {
    match format {
        Format::PrometheusText => parse(text),
        Format::OpenMetrics => openmetrics::parse(text),
    }
}

#[cfg(test)]
mod tests;
