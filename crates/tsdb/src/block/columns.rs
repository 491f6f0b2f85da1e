//! Shared timestamp columns. Every series scraped from one target has the same timestamps, so a block stores
//! them once: a chunk is split into a timestamp column (a chunk whose values are all 0, shared by every chunk
//! with the same timestamps) and a values chunk (the values at times 0, 1, 2, ..., whose regular timestamps
//! cost nothing). Both are ordinary chunks; reading zips them back together. Values chunks are packed (in the
//! split grouped encoding) where they can be, which decodes several times faster than the compact one.

use crate::chunk::{Chunk, ChunkAppender, ChunkError};

/// Chunks with fewer samples are stored whole: splitting would not pay for the second chunk header.
pub(super) const MIN_SPLIT_SAMPLES: usize = 8;

/// A chunk split into its timestamps and a values-only chunk.
pub(super) struct Split {
    pub timestamps: Vec<i64>,
    pub values: Vec<u8>,
}

/// Splits a chunk, or returns `None` when it is too small to be worth it.
pub(super) fn split(bytes: &[u8]) -> Result<Option<Split>, ChunkError> {
    let chunk = Chunk::from_bytes(bytes)?;
    if chunk.num_samples() < MIN_SPLIT_SAMPLES {
        return Ok(None);
    }
    let mut timestamps = Vec::with_capacity(chunk.num_samples());
    let mut values = ChunkAppender::new();
    for (i, sample) in chunk.iter().enumerate() {
        let (t, v) = sample?;
        timestamps.push(t);
        values.append(i as i64, v)?;
    }
    Ok(Some(Split { timestamps, values: packed(&values)? }))
}

/// The bytes of a finished values chunk: packed when its values are decimals, else as appended.
fn packed(values: &ChunkAppender) -> Result<Vec<u8>, ChunkError> {
    Ok(Chunk::from_bytes(values.bytes())?.pack()?.unwrap_or_else(|| values.bytes().to_vec()))
}

/// A whole chunk of samples (strictly increasing in time, at most `MAX_SAMPLES`).
pub(super) fn whole_chunk(samples: &[(i64, u64)]) -> Result<Vec<u8>, ChunkError> {
    let mut chunk = ChunkAppender::new();
    for &(t, bits) in samples {
        chunk.append(t, f64::from_bits(bits))?;
    }
    Ok(chunk.bytes().to_vec())
}

/// The values chunk of samples (at most `MAX_SAMPLES`), to be read with their timestamp column.
pub(super) fn values_chunk(samples: &[(i64, u64)]) -> Result<Vec<u8>, ChunkError> {
    let mut chunk = ChunkAppender::new();
    for (i, &(_, bits)) in samples.iter().enumerate() {
        chunk.append(i as i64, f64::from_bits(bits))?;
    }
    packed(&chunk)
}

/// The column chunk holding `timestamps` (strictly increasing).
pub(super) fn timestamp_column(timestamps: &[i64]) -> Result<Vec<u8>, ChunkError> {
    let mut column = ChunkAppender::new();
    for &t in timestamps {
        column.append(t, 0.0)?;
    }
    Ok(column.bytes().to_vec())
}

/// Appends the samples in `[mint, maxt]` of a stored chunk to `out` as `(t, value bits)`: a whole chunk, or a
/// values chunk joined with its timestamp column. An error describes the damage; `out` is then left as it was.
pub(super) fn decode(
    stored: &[u8],
    column: Option<&[u8]>,
    mint: i64,
    maxt: i64,
    out: &mut Vec<(i64, u64)>,
) -> Result<(), String> {
    let chunk = Chunk::from_bytes(stored).map_err(|e| e.to_string())?;
    let Some(column) = column else {
        return chunk.decode_into(mint, maxt, out).map_err(|e| e.to_string());
    };
    let times = Chunk::from_bytes(column).map_err(|e| format!("timestamp column: {e}"))?;
    if times.num_samples() != chunk.num_samples() {
        return Err(format!(
            "values chunk has {} samples, its timestamp column {}",
            chunk.num_samples(),
            times.num_samples()
        ));
    }
    let start = out.len();
    let result = join(&times, &chunk, mint, maxt, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Appends the samples in `[mint, maxt]` of a timestamp column and its values chunk to `out`. Both are decoded
/// in bulk into `out` (timestamps up to `maxt`, then as many values), then zipped in place.
fn join(times: &Chunk, values: &Chunk, mint: i64, maxt: i64, out: &mut Vec<(i64, u64)>) -> Result<(), String> {
    let start = out.len();
    decode_column(times, maxt, out).map_err(|e| format!("timestamp column: {e}"))?;
    let taken = out.len() - start;
    if values.decode_numbered_values(&mut out[start..]).map_err(|e| e.to_string())? {
        let skip = out[start..].partition_point(|s| s.0 < mint);
        out.drain(start..start + skip);
        return Ok(());
    }
    // The values chunk's timestamps are the sample numbers 0, 1, 2, ...
    let values_start = out.len();
    values.decode_into(i64::MIN, taken as i64 - 1, out).map_err(|e| e.to_string())?;
    let numbered = out[values_start..].iter().enumerate().all(|(i, s)| s.0 == i as i64);
    if out.len() - values_start != taken || !numbered {
        return Err("values chunk timestamps are not sample numbers".to_string());
    }
    let skip = out[start..values_start].partition_point(|s| s.0 < mint);
    for i in skip..taken {
        out[start + i - skip] = (out[start + i].0, out[values_start + i].1);
    }
    out.truncate(start + taken - skip);
    Ok(())
}

/// How many decoded timestamp columns each thread keeps. A series has a column per block chunk, usually one per
/// 2 h, and its columns are read in a cycle series after series: the cache must hold a whole day's worth, or it
/// evicts each column just before it is needed again.
const CACHED_COLUMNS: usize = 32;
/// Columns longer than this are decoded and not kept, which bounds each thread's cache to a few MiB.
const MAX_CACHED_LEN: usize = 8192;

/// A timestamp column decoded up to `maxt`, recognised by its exact bytes, so a hit is always right.
struct CachedColumn {
    bytes: Vec<u8>,
    maxt: i64,
    times: Vec<(i64, u64)>,
}

thread_local! {
    /// Columns decoded lately on this thread. The series of one target share a column and a query reads them
    /// close together, so most columns are decoded once per query rather than once per series.
    static COLUMNS: std::cell::RefCell<(Vec<CachedColumn>, usize)> = const { std::cell::RefCell::new((Vec::new(), 0)) };
}

/// Appends the timestamps of column `times` up to `maxt` to `out` (as `(t, 0)`), from the cache if there.
fn decode_column(times: &Chunk, maxt: i64, out: &mut Vec<(i64, u64)>) -> Result<(), ChunkError> {
    let bytes = times.bytes();
    COLUMNS.with_borrow_mut(|(cache, next)| {
        if let Some(hit) = cache.iter().find(|c| c.maxt == maxt && c.bytes == bytes) {
            out.extend_from_slice(&hit.times);
            return Ok(());
        }
        let mut decoded = Vec::new();
        times.decode_into(i64::MIN, maxt, &mut decoded)?;
        out.extend_from_slice(&decoded);
        if decoded.len() > MAX_CACHED_LEN {
            return Ok(());
        }
        let entry = CachedColumn { bytes: bytes.to_vec(), maxt, times: decoded };
        if cache.len() < CACHED_COLUMNS {
            cache.push(entry);
        } else {
            cache[*next] = entry;
            *next = (*next + 1) % CACHED_COLUMNS;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

    /// Scrape timestamps a few milliseconds late and decimal values, with a staleness marker.
    fn samples() -> Vec<(i64, u64)> {
        (0..200)
            .map(|i: i64| {
                let v = if i == 77 { f64::from_bits(STALE_NAN) } else { (i * 37 % 101) as f64 / 100.0 };
                (1_700_000_000_000 + i * 10_000 + i * i % 5, v.to_bits())
            })
            .collect()
    }

    #[test]
    fn a_split_chunk_decodes_like_the_whole_one_over_any_range() {
        let samples = samples();
        let whole = whole_chunk(&samples).unwrap();
        let split = split(&whole).unwrap().unwrap();
        let column = timestamp_column(&split.timestamps).unwrap();
        let mut bounds = vec![i64::MIN, i64::MAX];
        for i in [0, 1, 7, 100, 198, 199] {
            bounds.extend([samples[i].0 - 1, samples[i].0, samples[i].0 + 1]);
        }
        for &mint in &bounds {
            for &maxt in &bounds {
                let want: Vec<(i64, u64)> = samples.iter().copied().filter(|s| (mint..=maxt).contains(&s.0)).collect();
                let mut got = vec![(1, 1)];
                decode(&whole, None, mint, maxt, &mut got).unwrap();
                assert_eq!(got[1..], want[..], "whole chunk, [{mint}, {maxt}]");
                let mut got = vec![(1, 1)];
                decode(&split.values, Some(&column), mint, maxt, &mut got).unwrap();
                assert_eq!(got[1..], want[..], "split chunk, [{mint}, {maxt}]");
            }
        }
    }

    #[test]
    fn cached_columns_are_told_apart_by_their_bytes() {
        // More targets than the cache holds, each with its own timestamps, read round-robin as a query does.
        let targets: Vec<Vec<(i64, u64)>> = (0..CACHED_COLUMNS as i64 + 3)
            .map(|k| samples().into_iter().map(|(t, v)| (t + k % 4 + (k / 4) * 1000, v)).collect())
            .collect();
        let encoded: Vec<(Vec<u8>, Vec<u8>)> = targets
            .iter()
            .map(|samples| {
                let split = split(&whole_chunk(samples).unwrap()).unwrap().unwrap();
                (split.values, timestamp_column(&split.timestamps).unwrap())
            })
            .collect();
        for round in 0..3 {
            for (k, (values, column)) in encoded.iter().enumerate() {
                let maxt = targets[k][150 + round].0;
                let mut got = Vec::new();
                decode(values, Some(column), i64::MIN, maxt, &mut got).unwrap();
                assert_eq!(got, targets[k][..151 + round], "target {k}, round {round}");
            }
        }
    }

    #[test]
    fn damage_is_an_error_that_leaves_the_output_alone() {
        let samples = samples();
        let split = split(&whole_chunk(&samples).unwrap()).unwrap().unwrap();
        let column = timestamp_column(&split.timestamps).unwrap();
        // Values at times other than the sample numbers would be joined to the wrong timestamps.
        let mut shifted = ChunkAppender::new();
        for (i, &(_, bits)) in samples.iter().enumerate() {
            shifted.append(i as i64 + 5, f64::from_bits(bits)).unwrap();
        }
        let cut_column = &column[..column.len() - 1];
        let cut_values = &split.values[..split.values.len() - 1];
        for (values, column) in
            [(shifted.bytes(), &column[..]), (&split.values[..], cut_column), (cut_values, &column[..])]
        {
            for mint in [i64::MIN, samples[50].0] {
                let mut out = vec![(1, 1)];
                assert!(decode(values, Some(column), mint, i64::MAX, &mut out).is_err());
                assert_eq!(out, [(1, 1)]);
            }
        }
    }
}
