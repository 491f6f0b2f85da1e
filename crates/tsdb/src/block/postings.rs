//! Postings lists in the index: the series ordinals of one label pair, as delta varints or as a serialized
//! roaring bitmap, whichever is smaller.

use roaring::RoaringBitmap;

use super::cursor::{put_uvarint, uvarint_len, Cursor, Malformed};

/// Encoding tag: `uvarint count`, then per ordinal `uvarint (ordinal - previous - 1)` with previous = -1.
const DELTAS: u8 = 0;
/// Encoding tag: a roaring bitmap in the portable serialization (RoaringFormatSpec).
const ROARING: u8 = 1;

/// Appends the postings record of `ids`: `uvarint len | tag | payload`, len counting the tag and the payload.
pub(super) fn encode(ids: &mut RoaringBitmap, out: &mut Vec<u8>) {
    let mut deltas_len = uvarint_len(ids.len());
    let mut prev: Option<u32> = None;
    for id in ids.iter() {
        deltas_len += uvarint_len(gap(prev, id));
        prev = Some(id);
    }
    ids.optimize();
    let roaring_len = ids.serialized_size();
    if deltas_len < roaring_len {
        put_uvarint(out, 1 + deltas_len as u64);
        out.push(DELTAS);
        put_uvarint(out, ids.len());
        let mut prev = None;
        for id in ids.iter() {
            put_uvarint(out, gap(prev, id));
            prev = Some(id);
        }
    } else {
        put_uvarint(out, 1 + roaring_len as u64);
        out.push(ROARING);
        ids.serialize_into(&mut *out).expect("writing to a Vec cannot fail");
    }
}

fn gap(prev: Option<u32>, id: u32) -> u64 {
    match prev {
        None => u64::from(id),
        Some(p) => u64::from(id - p - 1),
    }
}

/// Decodes the postings record at the cursor; every ordinal must be below `num_series`.
pub(super) fn decode(c: &mut Cursor<'_>, num_series: u32) -> Result<RoaringBitmap, Malformed> {
    let len = c.uvarint()?;
    let start = c.pos();
    let mut body = c.sub(len)?;
    let ids = match body.u8()? {
        DELTAS => decode_deltas(&mut body, num_series)?,
        ROARING => decode_roaring(&mut body)?,
        _ => return Err(Malformed { offset: start, reason: "unknown postings encoding" }),
    };
    if ids.max().is_some_and(|max| max >= num_series) {
        return Err(Malformed { offset: start, reason: "postings name a series beyond the last" });
    }
    Ok(ids)
}

fn decode_deltas(c: &mut Cursor<'_>, num_series: u32) -> Result<RoaringBitmap, Malformed> {
    let count = c.uvarint()?;
    // Each ordinal takes at least one byte.
    if count > c.remaining() as u64 {
        return Err(c.error("postings count exceeds the data"));
    }
    let mut ids = RoaringBitmap::new();
    let mut next = 0u64;
    for _ in 0..count {
        let id = next.checked_add(c.uvarint()?).filter(|&id| id < u64::from(num_series));
        let Some(id) = id else { return Err(c.error("postings name a series beyond the last")) };
        ids.insert(id as u32);
        next = id + 1;
    }
    if !c.is_empty() {
        return Err(c.error("data after the postings"));
    }
    Ok(ids)
}

/// Reads a serialized roaring bitmap after checking that its container count fits the data, so a corrupt
/// header cannot make the decoder allocate more than the data could hold.
fn decode_roaring(c: &mut Cursor<'_>) -> Result<RoaringBitmap, Malformed> {
    const NO_RUN_COOKIE: u32 = 12346;
    const RUN_COOKIE: u32 = 12347;
    let base = c.pos();
    let mut header = *c;
    let bytes = c.take(c.remaining() as u64)?;
    let cookie = header.u32_le()?;
    // Per container: a 4-byte description and at least 2 bytes of data, plus the header's own fields.
    let (containers, header_bytes) = if cookie == NO_RUN_COOKIE {
        let n = u64::from(header.u32_le()?);
        (n, 8 + 4 * n)
    } else if cookie & 0xffff == RUN_COOKIE {
        let n = u64::from(cookie >> 16) + 1;
        (n, 4 + n.div_ceil(8))
    } else {
        return Err(Malformed { offset: base, reason: "unknown roaring cookie" });
    };
    if containers > 65536 || header_bytes + 6 * containers > bytes.len() as u64 {
        return Err(Malformed { offset: base, reason: "roaring container count exceeds the data" });
    }
    let mut rest = bytes;
    let ids = RoaringBitmap::deserialize_from(&mut rest)
        .map_err(|_| Malformed { offset: base, reason: "invalid roaring bitmap" })?;
    if !rest.is_empty() {
        let offset = base + (bytes.len() - rest.len()) as u64;
        return Err(Malformed { offset, reason: "data after the postings" });
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(ids: &RoaringBitmap) -> (u8, RoaringBitmap) {
        let mut out = Vec::new();
        encode(&mut ids.clone(), &mut out);
        let mut c = Cursor::new(&out, 0, out.len() as u64).unwrap();
        let decoded = decode(&mut c, u32::MAX).unwrap();
        assert!(c.is_empty());
        let mut prefix = Cursor::new(&out, 0, out.len() as u64).unwrap();
        prefix.uvarint().unwrap();
        (out[prefix.pos() as usize], decoded)
    }

    #[test]
    fn sparse_lists_use_deltas_and_dense_ones_roaring() {
        let sparse: RoaringBitmap = [3, 70, 1000, 1_000_000].into_iter().collect();
        assert_eq!(round_trip(&sparse), (DELTAS, sparse));
        let dense: RoaringBitmap = (0..10_000).collect();
        assert_eq!(round_trip(&dense), (ROARING, dense));
        let empty = RoaringBitmap::new();
        assert_eq!(round_trip(&empty).1, empty);
    }

    #[test]
    fn hostile_roaring_headers_are_refused_before_allocating() {
        // A no-run cookie claiming 65536 containers in 12 bytes.
        let mut out = vec![13, ROARING];
        out.extend_from_slice(&12346u32.to_le_bytes());
        out.extend_from_slice(&65536u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        let err = decode(&mut Cursor::new(&out, 0, out.len() as u64).unwrap(), 10).unwrap_err();
        assert_eq!(err.reason, "roaring container count exceeds the data");
        // Ordinals at or beyond the series count.
        let mut out = Vec::new();
        encode(&mut [5u32].into_iter().collect(), &mut out);
        assert!(decode(&mut Cursor::new(&out, 0, out.len() as u64).unwrap(), 5).is_err());
    }
}
