//! `meta.json`: a block's time range, resolution, compaction level, statistics and sources, with a CRC-32.

use std::path::Path;

use super::error::{corrupt, BlockError};
use super::json::{self, Member, Value};

/// The version of `meta.json` this code writes and reads.
pub const META_VERSION: u32 = 1;

/// Resolution of a block holding raw samples.
pub const RAW_RESOLUTION: i64 = 0;

/// The most bytes `meta.json` may have; the writer refuses longer source lists.
pub(super) const MAX_META_BYTES: u64 = 1 << 20;

/// What a block holds, from its `meta.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockMeta {
    /// The format version of `meta.json`, [`META_VERSION`].
    pub version: u32,
    /// The first millisecond the block covers.
    pub min_t: i64,
    /// The end of the block's range, exclusive: every sample is before it.
    pub max_t: i64,
    /// Milliseconds between samples of a downsampled block (300000, 3600000); [`RAW_RESOLUTION`] for raw ones.
    pub resolution_ms: i64,
    /// 1 for a block cut from the head; a compacted block's level is above its sources'.
    pub level: u32,
    pub stats: BlockStats,
    /// Names of the blocks this one was compacted from; empty for level 1.
    pub sources: Vec<String>,
}

/// Counts of what a block holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockStats {
    pub series: u64,
    pub chunks: u64,
    pub samples: u64,
}

const CRC_KEY: &str = "crc32";

/// The bytes of `meta.json`: pretty-printed JSON whose last member is the CRC-32 of every byte before it.
pub(super) fn encode(meta: &BlockMeta) -> Vec<u8> {
    let mut out = String::new();
    out.push_str(&format!("{{\n  \"version\": {},\n", meta.version));
    out.push_str(&format!("  \"min_t\": {},\n  \"max_t\": {},\n", meta.min_t, meta.max_t));
    out.push_str(&format!("  \"resolution_ms\": {},\n  \"level\": {},\n", meta.resolution_ms, meta.level));
    let s = &meta.stats;
    out.push_str(&format!(
        "  \"stats\": {{\n    \"series\": {},\n    \"chunks\": {},\n    \"samples\": {}\n  }},\n",
        s.series, s.chunks, s.samples
    ));
    out.push_str("  \"sources\": [");
    for (i, source) in meta.sources.iter().enumerate() {
        out.push_str(if i == 0 { "\n    " } else { ",\n    " });
        json::write_string(&mut out, source);
    }
    out.push_str(if meta.sources.is_empty() { "],\n  " } else { "\n  ],\n  " });
    let crc = crc32fast::hash(out.as_bytes());
    out.push_str(&format!("\"{CRC_KEY}\": \"{crc:08x}\"\n}}\n"));
    out.into_bytes()
}

/// Reads `meta.json`: valid JSON, a matching checksum, a known version, exactly the expected fields.
pub(super) fn decode(path: &Path, bytes: &[u8]) -> Result<BlockMeta, BlockError> {
    let value =
        json::parse(bytes).map_err(|e| corrupt(path, Some(e.offset as u64), format!("invalid json: {}", e.reason)))?;
    let Value::Object(members) = value else { return Err(corrupt(path, Some(0), "not a json object")) };
    let crc_member = members.last().filter(|m| m.key == CRC_KEY);
    let Some(Member { value: Value::String(stored), offset, .. }) = crc_member else {
        return Err(corrupt(path, None, format!("the last member is not {CRC_KEY:?}")));
    };
    // The checksum line and the closing brace are the exact end of the file, so no byte is unchecked.
    if bytes[*offset..] != *format!("\"{CRC_KEY}\": \"{stored}\"\n}}\n").as_bytes() {
        return Err(corrupt(
            path,
            Some(*offset as u64),
            format!("bytes after the start of {CRC_KEY:?} are not its line"),
        ));
    }
    let computed = crc32fast::hash(&bytes[..*offset]);
    // Lowercase only, so that flipping a letter's case bit is caught too.
    let lowercase_hex = stored.len() == 8 && stored.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !lowercase_hex || u32::from_str_radix(stored, 16).ok() != Some(computed) {
        return Err(corrupt(path, None, format!("checksum mismatch: stored {stored:?}, computed {computed:08x}")));
    }
    let fields = Fields { path, members: &members[..members.len() - 1] };
    let version = fields.integer("version")?;
    if version != i128::from(META_VERSION) {
        let version = u32::try_from(version).unwrap_or(u32::MAX);
        return Err(BlockError::UnsupportedVersion { path: path.to_path_buf(), version });
    }
    let stats = match fields.get("stats")? {
        Value::Object(members) => {
            let stats = Fields { path, members };
            stats.only(&["series", "chunks", "samples"])?;
            BlockStats {
                series: stats.number("series")?,
                chunks: stats.number("chunks")?,
                samples: stats.number("samples")?,
            }
        }
        _ => return Err(corrupt(path, None, "field \"stats\" is not an object")),
    };
    let sources = match fields.get("sources")? {
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(corrupt(path, None, "field \"sources\" holds a non-string")),
            })
            .collect::<Result<Vec<String>, BlockError>>()?,
        _ => return Err(corrupt(path, None, "field \"sources\" is not an array")),
    };
    fields.only(&["version", "min_t", "max_t", "resolution_ms", "level", "stats", "sources"])?;
    let meta = BlockMeta {
        version: META_VERSION,
        min_t: fields.number("min_t")?,
        max_t: fields.number("max_t")?,
        resolution_ms: fields.number("resolution_ms")?,
        level: fields.number("level")?,
        stats,
        sources,
    };
    if meta.min_t >= meta.max_t || meta.level == 0 || meta.resolution_ms < 0 {
        return Err(corrupt(path, None, "time range, level or resolution out of range"));
    }
    Ok(meta)
}

/// The members of one object, looked up by key.
struct Fields<'a> {
    path: &'a Path,
    members: &'a [Member],
}

impl Fields<'_> {
    fn get(&self, key: &str) -> Result<&Value, BlockError> {
        let mut found = self.members.iter().filter(|m| m.key == key);
        match (found.next(), found.next()) {
            (Some(m), None) => Ok(&m.value),
            (None, _) => Err(corrupt(self.path, None, format!("missing field {key:?}"))),
            (Some(_), Some(m)) => Err(corrupt(self.path, Some(m.offset as u64), format!("duplicate field {key:?}"))),
        }
    }

    fn integer(&self, key: &str) -> Result<i128, BlockError> {
        match self.get(key)? {
            Value::Integer(n) => Ok(*n),
            _ => Err(corrupt(self.path, None, format!("field {key:?} is not an integer"))),
        }
    }

    /// An integer field that must fit `T`.
    fn number<T: TryFrom<i128>>(&self, key: &str) -> Result<T, BlockError> {
        T::try_from(self.integer(key)?).map_err(|_| corrupt(self.path, None, format!("field {key:?} is out of range")))
    }

    /// Fails on a member whose key is not in `known`.
    fn only(&self, known: &[&str]) -> Result<(), BlockError> {
        match self.members.iter().find(|m| !known.contains(&m.key.as_str())) {
            Some(m) => Err(corrupt(self.path, Some(m.offset as u64), format!("unknown field {:?}", m.key))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BlockMeta {
        BlockMeta {
            version: META_VERSION,
            min_t: -5,
            max_t: 7_200_000,
            resolution_ms: 300_000,
            level: 2,
            stats: BlockStats { series: 3, chunks: 9, samples: u64::MAX },
            sources: vec!["b-0001".into(), "quote\"and\\slash".into()],
        }
    }

    #[test]
    fn round_trips_and_reads_as_expected() {
        for meta in [sample(), BlockMeta { sources: Vec::new(), level: 1, ..sample() }] {
            let bytes = encode(&meta);
            assert_eq!(decode(Path::new("m"), &bytes).unwrap(), meta);
        }
        let text = String::from_utf8(encode(&BlockMeta { sources: Vec::new(), ..sample() })).unwrap();
        let crc = crc32fast::hash(&text.as_bytes()[..text.find("\"crc32\"").unwrap()]);
        let expected = format!(
            "{{\n  \"version\": 1,\n  \"min_t\": -5,\n  \"max_t\": 7200000,\n  \"resolution_ms\": 300000,\n  \
             \"level\": 2,\n  \"stats\": {{\n    \"series\": 3,\n    \"chunks\": 9,\n    \"samples\": \
             18446744073709551615\n  }},\n  \"sources\": [],\n  \"crc32\": \"{crc:08x}\"\n}}\n"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let bytes = encode(&sample());
        for i in 0..bytes.len() * 8 {
            let mut bad = bytes.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(decode(Path::new("m"), &bad).is_err(), "flip of bit {i} went unnoticed");
        }
    }

    #[test]
    fn a_newer_version_is_unsupported_not_corrupt() {
        let text = String::from_utf8(encode(&sample())).unwrap().replace("\"version\": 1", "\"version\": 2");
        let body = &text[..text.find("\"crc32\"").unwrap()];
        let crc = crc32fast::hash(body.as_bytes());
        let text = format!("{body}\"crc32\": \"{crc:08x}\"\n}}\n");
        let err = decode(Path::new("m"), text.as_bytes()).unwrap_err();
        assert!(matches!(err, BlockError::UnsupportedVersion { version: 2, .. }), "{err}");
    }
}
