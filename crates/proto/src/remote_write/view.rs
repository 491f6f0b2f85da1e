//! A remote_write request parsed in place: label strings borrow the decompressed body and every series' labels
//! and samples live in two shared vectors, so a request of thousands of series costs a handful of allocations.
//!
//! [`RequestView::parse`] checks the wire format and the [`DecodeLimits`] as it goes; [`RequestView::validate`]
//! then checks the series as Prometheus does (see `series.rs`). Exemplars and native histograms are checked for
//! shape and counted, not kept.

use prost::Message as _;

use super::limits::{too_many, Totals};
use super::series::check_pairs;
use super::wire::{Field, Fields};
use super::{DecodeLimits, MetricMetadata, RemoteWriteError};

/// Where one series' labels and samples end in the shared vectors.
#[derive(Clone, Copy, Debug)]
struct Span {
    labels_end: usize,
    samples_end: usize,
}

/// One series of a [`RequestView`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesView<'v, 'a> {
    /// As sent until [`RequestView::validate`]; then sorted by name, names unique, empty values dropped.
    pub labels: &'v [(&'a str, &'a str)],
    /// `(timestamp ms, value)` in request order.
    pub samples: &'v [(i64, f64)],
}

/// A parsed `WriteRequest` borrowing the decompressed body.
#[derive(Debug, Default)]
pub struct RequestView<'a> {
    labels: Vec<(&'a str, &'a str)>,
    samples: Vec<(i64, f64)>,
    series: Vec<Span>,
    /// Exemplars that came with the series; vigil does not store them.
    pub exemplars: usize,
    /// Native histogram samples that came with the series; vigil does not store them.
    pub histograms: usize,
    pub metadata: Vec<MetricMetadata>,
}

impl<'a> RequestView<'a> {
    /// Parses a decompressed request, failing on the first malformed field or exceeded limit.
    pub fn parse(raw: &'a [u8], limits: &DecodeLimits) -> Result<RequestView<'a>, RemoteWriteError> {
        // Sized for what a label (about 25 bytes on the wire) and a series with one sample (about 150) take,
        // so that a typical request never copies its vectors while growing them.
        let mut view = RequestView {
            labels: Vec::with_capacity(raw.len() / 16),
            samples: Vec::with_capacity(raw.len() / 64),
            series: Vec::with_capacity(raw.len() / 64),
            ..RequestView::default()
        };
        let mut totals = Totals::default();
        let mut top = Fields::new(raw, 0);
        while let Some((num, field)) = top.next_field()? {
            match (num, field) {
                (1, Field::Len(body, at)) => {
                    if view.series.len() >= limits.max_series_per_request {
                        return Err(too_many("series", limits.max_series_per_request));
                    }
                    view.parse_series(Fields::new(body, at), limits, &mut totals)?;
                }
                (3, Field::Len(body, _)) => {
                    if view.metadata.len() >= limits.max_metadata_per_request {
                        return Err(too_many("metadata entries", limits.max_metadata_per_request));
                    }
                    view.metadata.push(MetricMetadata::decode(body)?);
                }
                (1 | 3, _) => return Err(top.malformed_field("a message field is not length-delimited")),
                _ => {}
            }
        }
        Ok(view)
    }

    /// Sorts every series' labels and checks them: legacy-charset names, no duplicate names, a valid metric
    /// name. Labels with empty values are dropped afterwards, as Prometheus does. Fails on the first bad series.
    pub fn validate(&mut self) -> Result<(), RemoteWriteError> {
        let mut start = 0;
        let mut kept = 0;
        for (index, span) in self.series.iter_mut().enumerate() {
            let pairs = &mut self.labels[start..span.labels_end];
            check_pairs(pairs).map_err(|problem| RemoteWriteError::InvalidSeries { index, problem })?;
            for i in start..span.labels_end {
                if !self.labels[i].1.is_empty() {
                    self.labels[kept] = self.labels[i];
                    kept += 1;
                }
            }
            start = span.labels_end;
            span.labels_end = kept;
        }
        self.labels.truncate(kept);
        Ok(())
    }

    /// How many series the request has.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// How many float samples the request has.
    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }

    /// The series in request order.
    pub fn series(&self) -> impl ExactSizeIterator<Item = SeriesView<'_, 'a>> + '_ {
        let mut labels_start = 0;
        let mut samples_start = 0;
        self.series.iter().map(move |span| {
            let view = SeriesView {
                labels: &self.labels[labels_start..span.labels_end],
                samples: &self.samples[samples_start..span.samples_end],
            };
            labels_start = span.labels_end;
            samples_start = span.samples_end;
            view
        })
    }

    fn parse_series(
        &mut self,
        mut fields: Fields<'a>,
        limits: &DecodeLimits,
        totals: &mut Totals,
    ) -> Result<(), RemoteWriteError> {
        let index = self.series.len();
        let mut labels = 0usize;
        while let Some((num, field)) = fields.next_field()? {
            let Field::Len(body, at) = field else {
                if (1..=4).contains(&num) {
                    return Err(fields.malformed_field("a message field is not length-delimited"));
                }
                continue;
            };
            match num {
                1 => {
                    labels += 1;
                    if labels > limits.max_labels_per_series {
                        return Err(RemoteWriteError::TooManyLabels {
                            series: index,
                            limit: limits.max_labels_per_series,
                        });
                    }
                    totals.add_label(limits)?;
                    self.labels.push(parse_label(index, Fields::new(body, at), limits)?);
                }
                2 => {
                    totals.add_sample(limits)?;
                    self.samples.push(parse_sample(Fields::new(body, at))?);
                }
                3 => {
                    totals.add_sample(limits)?;
                    check_exemplar(index, Fields::new(body, at), limits, totals)?;
                    self.exemplars += 1;
                }
                4 => {
                    totals.add_sample(limits)?;
                    self.histograms += 1;
                }
                _ => {}
            }
        }
        self.series.push(Span { labels_end: self.labels.len(), samples_end: self.samples.len() });
        Ok(())
    }
}

/// A `Label`: name (1) and value (2), both UTF-8 strings; absent fields are empty.
fn parse_label<'a>(
    series: usize,
    fields: Fields<'a>,
    limits: &DecodeLimits,
) -> Result<(&'a str, &'a str), RemoteWriteError> {
    // What every encoder writes: name then value, each shorter than 128 bytes, nothing else.
    if let [0x0a, name_len, rest @ ..] = fields.rest() {
        let name_len = usize::from(*name_len);
        if let Some((name, [0x12, value_len, value @ ..])) = rest.split_at_checked(name_len) {
            let short = name_len < 128 && *value_len < 128 && value.len() == usize::from(*value_len);
            if short && name_len.max(value.len()) <= limits.max_label_bytes {
                // `rest` is the name, the value's tag and length (two ASCII bytes) and the value: one check
                // covers both strings, and both ends of the tag are character boundaries.
                if let Ok(both) = std::str::from_utf8(rest) {
                    return Ok((&both[..name.len()], &both[name.len() + 2..]));
                }
            }
        }
    }
    parse_label_fields(series, fields, limits)
}

/// [`parse_label`] for any encoding, with the error naming what is wrong.
fn parse_label_fields<'a>(
    series: usize,
    mut fields: Fields<'a>,
    limits: &DecodeLimits,
) -> Result<(&'a str, &'a str), RemoteWriteError> {
    let (mut name, mut value) = ("", "");
    while let Some((num, field)) = fields.next_field()? {
        if !matches!(num, 1 | 2) {
            continue;
        }
        let Field::Len(bytes, _) = field else {
            return Err(fields.malformed_field("a label name or value is not a string"));
        };
        if bytes.len() > limits.max_label_bytes {
            return Err(RemoteWriteError::LabelTooLong { series, bytes: bytes.len(), limit: limits.max_label_bytes });
        }
        let text =
            std::str::from_utf8(bytes).map_err(|_| fields.malformed_field("a label name or value is not UTF-8"))?;
        if num == 1 {
            name = text;
        } else {
            value = text;
        }
    }
    Ok((name, value))
}

/// A `Sample`: value (1, double) and timestamp (2, int64); absent fields are zero.
fn parse_sample(fields: Fields<'_>) -> Result<(i64, f64), RemoteWriteError> {
    // What every encoder writes: the value, then the timestamp, nothing else.
    if let [0x09, b0, b1, b2, b3, b4, b5, b6, b7, 0x10, varint @ ..] = fields.rest() {
        if let Some(t) = whole_varint(varint) {
            return Ok((t as i64, f64::from_le_bytes([*b0, *b1, *b2, *b3, *b4, *b5, *b6, *b7])));
        }
    }
    parse_sample_fields(fields)
}

/// The value of a varint that fills `bytes` exactly and fits in 64 bits.
fn whole_varint(bytes: &[u8]) -> Option<u64> {
    let (last, init) = bytes.split_last()?;
    if bytes.len() > 10 || *last & 0x80 != 0 || init.iter().any(|b| b & 0x80 == 0) || (bytes.len() == 10 && *last > 1) {
        return None;
    }
    Some(bytes.iter().enumerate().fold(0u64, |v, (i, b)| v | (u64::from(b & 0x7f) << (7 * i))))
}

/// [`parse_sample`] for any encoding, with the error naming what is wrong.
fn parse_sample_fields(mut fields: Fields<'_>) -> Result<(i64, f64), RemoteWriteError> {
    let (mut t, mut v) = (0i64, 0f64);
    while let Some((num, field)) = fields.next_field()? {
        match (num, field) {
            (1, Field::Fixed64(bits)) => v = f64::from_bits(bits),
            // int64 travels as its two's complement in a varint.
            (2, Field::Varint(n)) => t = n as i64,
            (1, _) => return Err(fields.malformed_field("a sample value is not a double")),
            (2, _) => return Err(fields.malformed_field("a sample timestamp is not a varint")),
            _ => {}
        }
    }
    Ok((t, v))
}

/// An `Exemplar`: its labels count against the limits and must be well formed.
fn check_exemplar(
    series: usize,
    mut fields: Fields<'_>,
    limits: &DecodeLimits,
    totals: &mut Totals,
) -> Result<(), RemoteWriteError> {
    let mut labels = 0usize;
    while let Some((num, field)) = fields.next_field()? {
        match (num, field) {
            (1, Field::Len(body, at)) => {
                labels += 1;
                if labels > limits.max_labels_per_series {
                    return Err(RemoteWriteError::TooManyLabels { series, limit: limits.max_labels_per_series });
                }
                totals.add_label(limits)?;
                parse_label(series, Fields::new(body, at), limits)?;
            }
            (1, _) => return Err(fields.malformed_field("a message field is not length-delimited")),
            _ => {}
        }
    }
    Ok(())
}
