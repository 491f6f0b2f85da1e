//! Size limits for remote_write bodies, and a pass over the raw protobuf that enforces them before decoding.
//!
//! A two-byte empty `Label` becomes a 48-byte struct once decoded, so a body that is small enough can still
//! decode into gigabytes. Counting the repeated fields on the wire first bounds what the decoder allocates.

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

/// Walks a `WriteRequest` on the wire and fails on the first limit it exceeds or the first malformed field.
pub(super) fn check_shape(buf: &[u8], limits: &DecodeLimits) -> Result<(), RemoteWriteError> {
    let mut totals = Totals::default();
    let mut series = 0usize;
    let mut metadata = 0usize;
    let mut top = Fields::new(buf, 0);
    while let Some((num, field)) = top.next_field()? {
        match (num, field) {
            (1, Field::Len(body, at)) => {
                if series >= limits.max_series_per_request {
                    return Err(too_many("series", limits.max_series_per_request));
                }
                check_series(series, Fields::new(body, at), limits, &mut totals)?;
                series += 1;
            }
            (3, Field::Len(..)) => {
                metadata += 1;
                if metadata > limits.max_metadata_per_request {
                    return Err(too_many("metadata entries", limits.max_metadata_per_request));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[derive(Default)]
struct Totals {
    samples: usize,
    labels: usize,
}

impl Totals {
    fn add_sample(&mut self, limits: &DecodeLimits) -> Result<(), RemoteWriteError> {
        self.samples += 1;
        if self.samples > limits.max_samples_per_request {
            return Err(too_many("samples", limits.max_samples_per_request));
        }
        Ok(())
    }

    fn add_label(&mut self, limits: &DecodeLimits) -> Result<(), RemoteWriteError> {
        self.labels += 1;
        if self.labels > limits.max_labels_per_request {
            return Err(too_many("labels", limits.max_labels_per_request));
        }
        Ok(())
    }
}

fn too_many(what: &'static str, limit: usize) -> RemoteWriteError {
    RemoteWriteError::TooMany { what, limit }
}

fn check_series(
    index: usize,
    mut fields: Fields<'_>,
    limits: &DecodeLimits,
    totals: &mut Totals,
) -> Result<(), RemoteWriteError> {
    let mut labels = 0usize;
    while let Some((num, field)) = fields.next_field()? {
        let Field::Len(body, at) = field else { continue };
        match num {
            1 => {
                labels += 1;
                if labels > limits.max_labels_per_series {
                    return Err(RemoteWriteError::TooManyLabels { series: index, limit: limits.max_labels_per_series });
                }
                totals.add_label(limits)?;
                check_label(index, Fields::new(body, at), limits)?;
            }
            2 | 4 => totals.add_sample(limits)?,
            3 => {
                totals.add_sample(limits)?;
                let mut exemplar = Fields::new(body, at);
                let mut exemplar_labels = 0usize;
                while let Some((num, field)) = exemplar.next_field()? {
                    if let (1, Field::Len(body, at)) = (num, field) {
                        exemplar_labels += 1;
                        if exemplar_labels > limits.max_labels_per_series {
                            return Err(RemoteWriteError::TooManyLabels {
                                series: index,
                                limit: limits.max_labels_per_series,
                            });
                        }
                        totals.add_label(limits)?;
                        check_label(index, Fields::new(body, at), limits)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_label(series: usize, mut fields: Fields<'_>, limits: &DecodeLimits) -> Result<(), RemoteWriteError> {
    while let Some((num, field)) = fields.next_field()? {
        if let (1 | 2, Field::Len(body, _)) = (num, field) {
            if body.len() > limits.max_label_bytes {
                return Err(RemoteWriteError::LabelTooLong {
                    series,
                    bytes: body.len(),
                    limit: limits.max_label_bytes,
                });
            }
        }
    }
    Ok(())
}

/// One field's payload; length-delimited payloads carry their absolute offset for error messages.
enum Field<'a> {
    Varint,
    Fixed,
    Len(&'a [u8], usize),
}

/// Iterates over the fields of one message without decoding their contents.
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` within the whole request.
    base: usize,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Fields { buf, pos: 0, base }
    }

    fn malformed(&self, reason: &'static str) -> RemoteWriteError {
        self.malformed_at(self.pos, reason)
    }

    fn malformed_at(&self, pos: usize, reason: &'static str) -> RemoteWriteError {
        RemoteWriteError::Malformed { offset: self.base + pos, reason }
    }

    fn varint(&mut self) -> Result<u64, RemoteWriteError> {
        let start = self.pos;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos) else { return Err(self.malformed_at(start, "truncated varint")) };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.malformed_at(start, "varint longer than 10 bytes"))
    }

    fn skip(&mut self, n: usize) -> Result<(), RemoteWriteError> {
        if self.buf.len() - self.pos < n {
            return Err(self.malformed("field runs past the end of its message"));
        }
        self.pos += n;
        Ok(())
    }

    fn next_field(&mut self) -> Result<Option<(u64, Field<'a>)>, RemoteWriteError> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let num = key >> 3;
        if num == 0 {
            return Err(self.malformed("field number 0"));
        }
        let field = match key & 7 {
            0 => {
                self.varint()?;
                Field::Varint
            }
            1 => {
                self.skip(8)?;
                Field::Fixed
            }
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| self.malformed("length does not fit in memory"))?;
                let start = self.pos;
                self.skip(len)?;
                Field::Len(&self.buf[start..self.pos], self.base + start)
            }
            5 => {
                self.skip(4)?;
                Field::Fixed
            }
            _ => return Err(self.malformed("unsupported wire type (groups are not used by remote_write)")),
        };
        Ok(Some((num, field)))
    }
}
