//! Shared timestamp columns. Every series scraped from one target has the same timestamps, so a block stores
//! them once: a chunk is split into a timestamp column (a chunk whose values are all 0, shared by every chunk
//! with the same timestamps) and a values chunk (the values at times 0, 1, 2, ..., whose regular timestamps
//! cost nothing). Both are ordinary chunks; reading zips them back together.

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
    Ok(Some(Split { timestamps, values: values.bytes().to_vec() }))
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
    Ok(chunk.bytes().to_vec())
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
/// values chunk joined with its timestamp column. An error describes the damage.
pub(super) fn decode(
    stored: &[u8],
    column: Option<&[u8]>,
    mint: i64,
    maxt: i64,
    out: &mut Vec<(i64, u64)>,
) -> Result<(), String> {
    let chunk = Chunk::from_bytes(stored).map_err(|e| e.to_string())?;
    let Some(column) = column else {
        for sample in chunk.iter() {
            let (t, v) = sample.map_err(|e| e.to_string())?;
            if t > maxt {
                break;
            }
            if t >= mint {
                out.push((t, v.to_bits()));
            }
        }
        return Ok(());
    };
    let times = Chunk::from_bytes(column).map_err(|e| format!("timestamp column: {e}"))?;
    if times.num_samples() != chunk.num_samples() {
        return Err(format!(
            "values chunk has {} samples, its timestamp column {}",
            chunk.num_samples(),
            times.num_samples()
        ));
    }
    for (time, value) in times.iter().zip(chunk.iter()) {
        let (t, _) = time.map_err(|e| format!("timestamp column: {e}"))?;
        if t > maxt {
            break;
        }
        let (_, v) = value.map_err(|e| e.to_string())?;
        if t >= mint {
            out.push((t, v.to_bits()));
        }
    }
    Ok(())
}
