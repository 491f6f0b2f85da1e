//! Loki's JSON push body: `{"streams":[{"stream":{"job":"app"},"values":[["<ns>","line",{"k":"v"}]]}]}`.
//!
//! The body size is capped before parsing, which bounds what serde allocates; counts are checked after.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use vigil_model::{log::LogEntry, Labels};

use super::{check_labels, too_many_metadata, LokiError, PushLimits, Streams};

#[derive(serde::Deserialize)]
struct Body {
    streams: Vec<Stream>,
}

#[derive(serde::Deserialize)]
struct Stream {
    stream: BTreeMap<String, String>,
    values: Vec<Value>,
}

/// `["<ns>", "line"]` or `["<ns>", "line", {"name": "value"}]`.
struct Value {
    ts: String,
    line: String,
    metadata: BTreeMap<String, String>,
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array [timestamp, line] or [timestamp, line, metadata]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let ts = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let line = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let metadata = seq.next_element()?.unwrap_or_default();
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(4, &self));
                }
                Ok(Value { ts, line, metadata })
            }
        }
        d.deserialize_seq(V)
    }
}

/// Decodes a JSON push body under `limits` (`max_body_bytes` bounds the body).
pub fn decode_push_json(body: &[u8], limits: &PushLimits) -> Result<Streams, LokiError> {
    if body.len() > limits.max_body_bytes {
        return Err(LokiError::BodyTooLarge { size: body.len(), limit: limits.max_body_bytes });
    }
    let parsed: Body = serde_json::from_slice(body)?;
    if parsed.streams.len() > limits.max_streams {
        return Err(LokiError::TooMany { what: "streams", limit: limits.max_streams });
    }
    let total: usize = parsed.streams.iter().map(|s| s.values.len()).sum();
    if total > limits.max_entries {
        return Err(LokiError::TooMany { what: "entries", limit: limits.max_entries });
    }
    let mut out = Vec::with_capacity(parsed.streams.len());
    for (i, s) in parsed.streams.into_iter().enumerate() {
        let labels = Labels::from_pairs(s.stream).map_err(|e| LokiError::Labels {
            stream: i,
            source: match e {
                vigil_model::LabelsError::Duplicate(n) => super::LabelsParseError::Duplicate(n),
                vigil_model::LabelsError::EmptyName => {
                    super::LabelsParseError::Syntax { offset: 0, reason: "empty label name" }
                }
            },
        })?;
        let labels = check_labels(i, labels, limits)?;
        let mut entries = Vec::with_capacity(s.values.len());
        for (j, v) in s.values.into_iter().enumerate() {
            if v.metadata.len() > limits.max_metadata_per_entry {
                return Err(too_many_metadata(i, j, limits));
            }
            let ts_ns = v.ts.parse::<i64>().map_err(|_| LokiError::InvalidEntry {
                stream: i,
                entry: j,
                reason: format!("timestamp {:?} is not an integer of nanoseconds", v.ts),
            })?;
            entries.push(LogEntry { ts_ns, line: v.line, fields: v.metadata.into_iter().collect() });
        }
        out.push((labels, entries));
    }
    Ok(out)
}
