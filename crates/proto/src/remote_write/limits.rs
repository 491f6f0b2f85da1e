//! Size limits for remote_write bodies. The request parser (`view.rs`) enforces them while it walks the wire.
//!
//! A two-byte empty `Label` becomes a 48-byte struct once decoded, so a body that is small enough can still
//! decode into gigabytes; counting the repeated fields as they are read bounds what decoding allocates.

use super::RemoteWriteError;

/// Caps applied to one request; the defaults are generous for Prometheus (2000 series per request) and for
/// agents that batch more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The snappy-compressed body as received.
    pub max_compressed_bytes: usize,
    /// The protobuf after decompression; checked against the snappy header before anything is allocated.
    pub max_decompressed_bytes: usize,
    pub max_series_per_request: usize,
    /// Samples, exemplars and native histogram samples together.
    pub max_samples_per_request: usize,
    pub max_labels_per_series: usize,
    /// Series labels and exemplar labels together.
    pub max_labels_per_request: usize,
    /// The length of one label name or one label value.
    pub max_label_bytes: usize,
    pub max_metadata_per_request: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_compressed_bytes: 32 << 20,
            max_decompressed_bytes: 128 << 20,
            max_series_per_request: 100_000,
            max_samples_per_request: 2_000_000,
            max_labels_per_series: 256,
            max_labels_per_request: 1_000_000,
            max_label_bytes: 64 << 10,
            max_metadata_per_request: 100_000,
        }
    }
}

#[derive(Default)]
pub(super) struct Totals {
    samples: usize,
    labels: usize,
}

impl Totals {
    pub(super) fn add_sample(&mut self, limits: &DecodeLimits) -> Result<(), RemoteWriteError> {
        self.samples += 1;
        if self.samples > limits.max_samples_per_request {
            return Err(too_many("samples", limits.max_samples_per_request));
        }
        Ok(())
    }

    pub(super) fn add_label(&mut self, limits: &DecodeLimits) -> Result<(), RemoteWriteError> {
        self.labels += 1;
        if self.labels > limits.max_labels_per_request {
            return Err(too_many("labels", limits.max_labels_per_request));
        }
        Ok(())
    }
}

pub(super) fn too_many(what: &'static str, limit: usize) -> RemoteWriteError {
    RemoteWriteError::TooMany { what, limit }
}
