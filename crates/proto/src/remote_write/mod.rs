//! Prometheus remote_write 1.0: snappy block-compressed protobuf `WriteRequest`s, decoded under size limits.
//!
//! Receiving: [`decompress`], then [`RequestView::parse`] and [`RequestView::validate`], which borrow the body
//! (the server's path); or [`decode_write_request`] then [`to_series`] for owned messages. Sending:
//! [`encode_write_request`].
//! Every error is the sender's fault and maps to HTTP 400.

mod limits;
mod messages;
mod series;
mod view;
mod wire;

pub use limits::DecodeLimits;
pub use messages::{Exemplar, Histogram, Label, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest};
pub use series::{into_series, to_series, DecodedSeries, SeriesProblem};
pub use view::{RequestView, SeriesView};

use prost::Message as _;

/// The `Content-Type` of a remote_write body.
pub const CONTENT_TYPE: &str = "application/x-protobuf";
/// The `Content-Encoding` of a remote_write body.
pub const CONTENT_ENCODING: &str = "snappy";
/// The `X-Prometheus-Remote-Write-Version` header value of protocol 1.0.
pub const VERSION_HEADER_VALUE: &str = "0.1.0";

/// Snappy emits at most 64 bytes per 3-byte copy element, so no block expands by more than this factor.
const MAX_SNAPPY_EXPANSION: usize = 22;

/// Why a request body was rejected.
#[derive(Debug, thiserror::Error)]
pub enum RemoteWriteError {
    #[error("request body is {size} bytes, more than the limit of {limit}")]
    BodyTooLarge { size: usize, limit: usize },
    #[error("invalid snappy block: {0}")]
    Snappy(snap::Error),
    #[error("snappy header announces {size} decompressed bytes, more than the limit of {limit}")]
    DecompressedTooLarge { size: usize, limit: usize },
    #[error("snappy header announces {size} decompressed bytes, impossible for a {compressed}-byte block")]
    ImplausibleLength { size: usize, compressed: usize },
    #[error("malformed protobuf at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: &'static str },
    #[error("invalid protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("more than {limit} {what} in one request")]
    TooMany { what: &'static str, limit: usize },
    #[error("series {series}: more than {limit} labels")]
    TooManyLabels { series: usize, limit: usize },
    #[error("series {series}: a label name or value of {bytes} bytes, more than the limit of {limit}")]
    LabelTooLong { series: usize, bytes: usize, limit: usize },
    #[error("series {index}: {problem}")]
    InvalidSeries { index: usize, problem: SeriesProblem },
}

/// Decompresses one request body, checking the limits before allocating.
pub fn decompress(body: &[u8], limits: &DecodeLimits) -> Result<Vec<u8>, RemoteWriteError> {
    if body.len() > limits.max_compressed_bytes {
        return Err(RemoteWriteError::BodyTooLarge { size: body.len(), limit: limits.max_compressed_bytes });
    }
    let size = snap::raw::decompress_len(body).map_err(RemoteWriteError::Snappy)?;
    if size > limits.max_decompressed_bytes {
        return Err(RemoteWriteError::DecompressedTooLarge { size, limit: limits.max_decompressed_bytes });
    }
    if size > body.len().saturating_mul(MAX_SNAPPY_EXPANSION) {
        return Err(RemoteWriteError::ImplausibleLength { size, compressed: body.len() });
    }
    let mut raw = vec![0u8; size];
    let n = snap::raw::Decoder::new().decompress(body, &mut raw).map_err(RemoteWriteError::Snappy)?;
    raw.truncate(n);
    Ok(raw)
}

/// Decompresses and decodes one request body into owned messages. The wire format and the limits are checked
/// by [`RequestView::parse`] first, so what decoding allocates is bounded by the limits.
pub fn decode_write_request(body: &[u8], limits: &DecodeLimits) -> Result<WriteRequest, RemoteWriteError> {
    let raw = decompress(body, limits)?;
    RequestView::parse(&raw, limits)?;
    Ok(WriteRequest::decode(raw.as_slice())?)
}

/// Encodes and snappy-compresses a request, ready to POST.
///
/// # Panics
///
/// If the encoded request exceeds 4 GiB, which snappy's block format cannot represent.
pub fn encode_write_request(req: &WriteRequest) -> Vec<u8> {
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw).expect("remote_write request larger than snappy's 4 GiB limit")
}

#[cfg(test)]
mod tests;
