//! The Prometheus text exposition format, version 0.0.4: an encoder for `/metrics` and a parser for scrapes.

mod encode;
mod parse;

pub use encode::{write_value, TextEncoder, CONTENT_TYPE};
pub use parse::{parse, Family, ParseError, Sample, MAX_LINE_LEN};
