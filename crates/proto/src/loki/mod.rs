//! Loki's push API: snappy block-compressed protobuf `PushRequest`s and the JSON body, decoded under limits into
//! stream label sets and [`LogEntry`]s, and encoded for vigil's own sender.
//!
//! Receiving: [`decode_push`] (`application/x-protobuf`, snappy) or [`decode_push_json`] (`application/json`).
//! Sending: [`encode_push`]. Every error is the sender's fault and maps to HTTP 400.

mod json;
mod labels;
mod messages;
mod wire;

pub use json::decode_push_json;
pub use labels::{format_labels, parse_labels, LabelsParseError, MAX_LABELS_STRING_BYTES};
pub use messages::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};

use prost::Message as _;
use vigil_model::{log::LogEntry, Labels};

/// The path Loki serves pushes on.
pub const PUSH_PATH: &str = "/loki/api/v1/push";
/// The `Content-Type` of a protobuf push body (snappy-compressed).
pub const CONTENT_TYPE_PROTOBUF: &str = "application/x-protobuf";
pub const CONTENT_TYPE_JSON: &str = "application/json";

/// Snappy emits at most 64 bytes per 3-byte copy element, so no block expands by more than this factor.
const MAX_SNAPPY_EXPANSION: usize = 22;

/// Caps applied to one push body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushLimits {
    /// The body as received (compressed for protobuf).
    pub max_body_bytes: usize,
    /// The protobuf after decompression; checked against the snappy header before anything is allocated.
    pub max_decompressed_bytes: usize,
    pub max_streams: usize,
    /// Entries of all streams together.
    pub max_entries: usize,
    pub max_labels_per_stream: usize,
    /// Structured metadata pairs of one entry.
    pub max_metadata_per_entry: usize,
}

impl Default for PushLimits {
    fn default() -> Self {
        PushLimits {
            max_body_bytes: 16 << 20,
            max_decompressed_bytes: 64 << 20,
            max_streams: 10_000,
            max_entries: 1_000_000,
            max_labels_per_stream: 64,
            max_metadata_per_entry: 128,
        }
    }
}

/// Why a push body was rejected.
#[derive(Debug, thiserror::Error)]
pub enum LokiError {
    #[error("push body is {size} bytes, more than the limit of {limit}")]
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
    #[error("invalid json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("more than {limit} {what} in one push")]
    TooMany { what: &'static str, limit: usize },
    #[error("stream {stream}: {source}")]
    Labels { stream: usize, source: LabelsParseError },
    #[error("stream {stream}: more than {limit} labels")]
    TooManyLabels { stream: usize, limit: usize },
    #[error("stream {stream}: no labels")]
    NoLabels { stream: usize },
    #[error("stream {stream}, entry {entry}: {reason}")]
    InvalidEntry { stream: usize, entry: usize, reason: String },
}

/// A decoded push: streams with their entries, in the order sent. Streams are not merged.
pub type Streams = Vec<(Labels, Vec<LogEntry>)>;

/// Encodes streams as a snappy-compressed `PushRequest`, ready to POST. Fields become structured metadata.
///
/// # Panics
///
/// If the encoded request exceeds 4 GiB, which snappy's block format cannot represent.
pub fn encode_push(streams: &[(Labels, Vec<LogEntry>)]) -> Vec<u8> {
    let raw = to_request(streams).encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw).expect("loki push larger than snappy's 4 GiB limit")
}

/// The `PushRequest` message for some streams.
pub fn to_request(streams: &[(Labels, Vec<LogEntry>)]) -> PushRequest {
    PushRequest {
        streams: streams
            .iter()
            .map(|(labels, entries)| StreamAdapter {
                labels: format_labels(labels),
                entries: entries
                    .iter()
                    .map(|e| EntryAdapter {
                        timestamp: Some(Timestamp {
                            seconds: e.ts_ns.div_euclid(1_000_000_000),
                            nanos: e.ts_ns.rem_euclid(1_000_000_000) as i32,
                        }),
                        line: e.line.clone(),
                        structured_metadata: e
                            .fields
                            .iter()
                            .map(|(n, v)| LabelPairAdapter { name: n.clone(), value: v.clone() })
                            .collect(),
                    })
                    .collect(),
                hash: 0,
            })
            .collect(),
    }
}

/// Decompresses and decodes a protobuf push body. The wire is walked first (`wire.rs`) so that the stream and
/// entry counts are checked before decoding allocates for them.
pub fn decode_push(body: &[u8], limits: &PushLimits) -> Result<Streams, LokiError> {
    let raw = decompress(body, limits)?;
    wire::check_counts(&raw, limits)?;
    let req = PushRequest::decode(raw.as_slice())?;
    let mut out = Vec::with_capacity(req.streams.len());
    for (i, s) in req.streams.into_iter().enumerate() {
        let labels = stream_labels(i, &s.labels, limits)?;
        let mut entries = Vec::with_capacity(s.entries.len());
        for (j, e) in s.entries.into_iter().enumerate() {
            if e.structured_metadata.len() > limits.max_metadata_per_entry {
                return Err(too_many_metadata(i, j, limits));
            }
            let ts = e.timestamp.unwrap_or_default();
            let ts_ns = ts
                .seconds
                .checked_mul(1_000_000_000)
                .and_then(|s| s.checked_add(i64::from(ts.nanos)))
                .filter(|_| (0..1_000_000_000).contains(&ts.nanos))
                .ok_or_else(|| LokiError::InvalidEntry {
                    stream: i,
                    entry: j,
                    reason: format!("timestamp {}s {}ns out of range", ts.seconds, ts.nanos),
                })?;
            let fields = e.structured_metadata.into_iter().map(|p| (p.name, p.value)).collect();
            entries.push(LogEntry { ts_ns, line: e.line, fields });
        }
        out.push((labels, entries));
    }
    Ok(out)
}

pub(crate) fn stream_labels(stream: usize, s: &str, limits: &PushLimits) -> Result<Labels, LokiError> {
    let labels = parse_labels(s).map_err(|source| LokiError::Labels { stream, source })?;
    check_labels(stream, labels, limits)
}

pub(crate) fn check_labels(stream: usize, labels: Labels, limits: &PushLimits) -> Result<Labels, LokiError> {
    if labels.is_empty() {
        return Err(LokiError::NoLabels { stream });
    }
    if labels.len() > limits.max_labels_per_stream {
        return Err(LokiError::TooManyLabels { stream, limit: limits.max_labels_per_stream });
    }
    Ok(labels)
}

pub(crate) fn too_many_metadata(stream: usize, entry: usize, limits: &PushLimits) -> LokiError {
    LokiError::InvalidEntry {
        stream,
        entry,
        reason: format!("more than {} structured metadata pairs", limits.max_metadata_per_entry),
    }
}

/// Decompresses one snappy block, checking the limits before allocating.
fn decompress(body: &[u8], limits: &PushLimits) -> Result<Vec<u8>, LokiError> {
    if body.len() > limits.max_body_bytes {
        return Err(LokiError::BodyTooLarge { size: body.len(), limit: limits.max_body_bytes });
    }
    let size = snap::raw::decompress_len(body).map_err(LokiError::Snappy)?;
    if size > limits.max_decompressed_bytes {
        return Err(LokiError::DecompressedTooLarge { size, limit: limits.max_decompressed_bytes });
    }
    if size > body.len().saturating_mul(MAX_SNAPPY_EXPANSION) {
        return Err(LokiError::ImplausibleLength { size, compressed: body.len() });
    }
    let mut raw = vec![0u8; size];
    let n = snap::raw::Decoder::new().decompress(body, &mut raw).map_err(LokiError::Snappy)?;
    raw.truncate(n);
    Ok(raw)
}

#[cfg(test)]
mod tests;
