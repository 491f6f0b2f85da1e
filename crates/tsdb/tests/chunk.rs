//! Tests of `chunk`: exact round trips for every encoding (grouped and split chunks are packed from compact ones),
//! reopening, ordering, size checks on typical series, bulk decoding against the iterator, the split layout bit
//! by bit, and hostile input (truncations, random bytes, bit flips) that must give errors, never panics.

use proptest::prelude::*;
use vigil_tsdb::chunk::{Chunk, ChunkAppender, ChunkError, Encoding, MAX_SAMPLES};

/// Prometheus' staleness marker: a NaN with this exact payload.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

const ENCODINGS: [Encoding; 2] = [Encoding::Gorilla, Encoding::Compact];

/// The encodings `Chunk::pack_as` writes: grouped, which older releases wrote, and split, which `pack` writes.
const PACKED: [Encoding; 2] = [Encoding::Grouped, Encoding::Split];

fn encode(encoding: Encoding, samples: &[(i64, f64)]) -> ChunkAppender {
    let mut app = ChunkAppender::with_encoding(encoding);
    for &(t, v) in samples {
        app.append(t, v).unwrap();
    }
    app
}

fn decode(bytes: &[u8]) -> Result<Vec<(i64, f64)>, ChunkError> {
    Chunk::from_bytes(bytes)?.iter().collect()
}

/// Decodes with `Chunk::decode_into`, values as bits.
fn decode_bulk(bytes: &[u8], mint: i64, maxt: i64) -> Result<Vec<(i64, u64)>, ChunkError> {
    let mut out = Vec::new();
    Chunk::from_bytes(bytes)?.decode_into(mint, maxt, &mut out)?;
    Ok(out)
}

/// What `Chunk::decode_into` must give: the iterator's samples up to the first one after `maxt`, of which those
/// from `mint` on, or the iterator's first error.
fn iterated_range(chunk: &Chunk, mint: i64, maxt: i64) -> Result<Vec<(i64, u64)>, ChunkError> {
    let mut out = Vec::new();
    for sample in chunk.iter() {
        let (t, v) = sample?;
        if t > maxt {
            break;
        }
        if t >= mint {
            out.push((t, v.to_bits()));
        }
    }
    Ok(out)
}

/// Checks `decode_into` against the iterator: the same samples bit for bit appended after what `out` held, or
/// the same error with `out` left as it was.
fn check_decode_into(bytes: &[u8], mint: i64, maxt: i64) {
    let Ok(chunk) = Chunk::from_bytes(bytes) else { return };
    let before = vec![(7, STALE_NAN)];
    let mut out = before.clone();
    let got = chunk.decode_into(mint, maxt, &mut out);
    match (iterated_range(&chunk, mint, maxt), got) {
        (Ok(want), Ok(())) => assert!(out[1..] == want[..], "decode_into [{mint}, {maxt}]: {out:?}, want {want:?}"),
        (Err(want), Err(got)) => {
            assert_eq!(got, want, "decode_into [{mint}, {maxt}]: another error than the iterator's");
            assert_eq!(out, before, "decode_into [{mint}, {maxt}]: failed but changed its output");
        }
        (want, got) => panic!("decode_into [{mint}, {maxt}]: iterator gave {want:?}, decode_into {got:?}"),
    }
}

/// Compares samples bit for bit (NaN payloads and the sign of zero included), reporting the first difference.
fn assert_same(got: &[(i64, f64)], want: &[(i64, f64)]) {
    assert_eq!(got.len(), want.len(), "sample counts differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.0 == w.0 && g.1.to_bits() == w.1.to_bits(),
            "sample {i}: got ({}, {:#x}), want ({}, {:#x})",
            g.0,
            g.1.to_bits(),
            w.0,
            w.1.to_bits()
        );
    }
}

fn round_trip(encoding: Encoding, samples: &[(i64, f64)]) -> ChunkAppender {
    let app = encode(encoding, samples);
    assert_eq!(app.num_samples(), samples.len());
    assert_eq!(app.encoding(), encoding);
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        assert_eq!((app.min_time(), app.max_time()), (first.0, last.0));
    }
    let chunk = Chunk::from_bytes(app.bytes()).unwrap();
    assert_eq!(chunk.num_samples(), samples.len());
    assert_eq!(chunk.encoding(), encoding);
    let decoded = decode(app.bytes()).unwrap();
    assert_same(&decoded, samples);
    let bits: Vec<(i64, u64)> = decoded.iter().map(|&(t, v)| (t, v.to_bits())).collect();
    assert_eq!(decode_bulk(app.bytes(), i64::MIN, i64::MAX).unwrap(), bits);
    app
}

/// The samples packed in `encoding` (one of `PACKED`), if they qualify (regular timestamps, decimal values).
fn packed(encoding: Encoding, samples: &[(i64, f64)]) -> Option<Vec<u8>> {
    let bytes = packed_bytes(encoding, encode(Encoding::Compact, samples).bytes())?;
    assert_eq!(Chunk::from_bytes(&bytes).unwrap().encoding(), encoding);
    Some(bytes)
}

/// The bytes of the chunks `samples` pack into, in every encoding of `PACKED`; none if they do not qualify.
fn all_packed(samples: &[(i64, f64)]) -> Vec<Vec<u8>> {
    PACKED.iter().filter_map(|&encoding| packed(encoding, samples)).collect()
}

/// A counter in hundredths with jitter, as node_exporter's CPU seconds, with a staleness marker.
fn cpu_counter(n: usize) -> Vec<f64> {
    let mut m = 123_456_700i64;
    (0..n)
        .map(|i| {
            m += 1000 + (i as i64 * 7919 % 61) - 30;
            if i == n / 3 {
                f64::from_bits(STALE_NAN)
            } else {
                m as f64 / 100.0
            }
        })
        .collect()
}

/// Scrape timestamps: 10 s apart, plus `jitter(n)` milliseconds.
fn scrape_times(n: usize, jitter: impl Fn(usize) -> i64) -> Vec<i64> {
    (0..n).map(|i| 1_700_000_000_000 + i as i64 * 10_000 + jitter(i)).collect()
}

/// A small deterministic jitter of 0–4 ms.
fn jitter(i: usize) -> i64 {
    ((i * 7 + i * i * 3) % 5) as i64
}

#[test]
fn gorilla_bytes_after_the_tag_are_a_prometheus_xor_chunk() {
    let app = round_trip(Encoding::Gorilla, &[(1000, 1.0), (2000, 1.0), (3000, 2.0)]);
    #[rustfmt::skip]
    let want = [
        1, // tag
        0x00, 0x03, // count
        0xd0, 0x0f, // varint(1000)
        0x3f, 0xf0, 0, 0, 0, 0, 0, 0, // 1.0
        0xe8, 0x07, // uvarint(1000)
        // '0' (same value), '0' (dod 0), '1' '1' (new window), 00001 (leading), 001011 (11 bits), 11 ones.
        0x30, 0x97, 0xff, 0xc0,
    ];
    assert_eq!(app.bytes(), want);
}

#[test]
fn empty_chunk_reads_back_empty() {
    for encoding in ENCODINGS {
        let app = ChunkAppender::with_encoding(encoding);
        let chunk = Chunk::from_bytes(app.bytes()).unwrap();
        assert_eq!(chunk.num_samples(), 0);
        assert_eq!(chunk.iter().count(), 0);
        assert_eq!(ChunkAppender::from_bytes(app.bytes()).unwrap().num_samples(), 0);
    }
}

#[test]
fn staleness_marker_and_special_values_keep_their_bits() {
    let specials = [f64::from_bits(STALE_NAN), f64::NAN, -f64::NAN, -0.0, f64::INFINITY, f64::NEG_INFINITY];
    for encoding in ENCODINGS {
        // Specials inside a decimal series, at its start, and alone.
        let times = scrape_times(40, jitter);
        let mut samples: Vec<(i64, f64)> = times.iter().enumerate().map(|(i, &t)| (t, i as f64 * 0.25)).collect();
        for (i, &s) in specials.iter().enumerate() {
            samples[5 + i * 5].1 = s;
        }
        round_trip(encoding, &samples);
        round_trip(encoding, &[(0, f64::from_bits(STALE_NAN)), (10, 1.5), (20, 2.5)]);
        for s in specials {
            round_trip(encoding, &[(1, s), (2, s), (3, s)]);
        }
    }
}

#[test]
fn staleness_marker_does_not_push_a_decimal_chunk_to_floats() {
    let times = scrape_times(120, jitter);
    let mut samples: Vec<(i64, f64)> = times.iter().enumerate().map(|(i, &t)| (t, 1000.0 + i as f64)).collect();
    let plain = round_trip(Encoding::Compact, &samples).bytes().len();
    samples[119].1 = f64::from_bits(STALE_NAN);
    let with_marker = round_trip(Encoding::Compact, &samples).bytes().len();
    // The marker costs its 64 bits plus an escape, not a switch of all values to XOR.
    assert!(with_marker <= plain + 12, "{with_marker} bytes with the marker, {plain} without");
}

#[test]
fn out_of_order_and_duplicate_timestamps_are_rejected() {
    for encoding in ENCODINGS {
        let mut app = encode(encoding, &[(100, 1.0), (200, 2.0)]);
        let before = app.bytes().to_vec();
        assert_eq!(app.append(200, 3.0), Err(ChunkError::OutOfOrder { t: 200, last: 200 }));
        assert_eq!(app.append(150, 3.0), Err(ChunkError::OutOfOrder { t: 150, last: 200 }));
        assert_eq!(app.append(i64::MIN, 3.0), Err(ChunkError::OutOfOrder { t: i64::MIN, last: 200 }));
        assert_eq!(app.bytes(), before, "a rejected sample changed the chunk");
        assert_eq!(app.num_samples(), 2);
        app.append(201, 3.0).unwrap();
        assert_same(&decode(app.bytes()).unwrap(), &[(100, 1.0), (200, 2.0), (201, 3.0)]);
    }
}

#[test]
fn a_full_chunk_rejects_more_samples() {
    for encoding in ENCODINGS {
        let mut app = ChunkAppender::with_encoding(encoding);
        for i in 0..MAX_SAMPLES as i64 {
            app.append(i, 1.0).unwrap();
        }
        assert_eq!(app.append(MAX_SAMPLES as i64, 1.0), Err(ChunkError::Full));
        assert_eq!(Chunk::from_bytes(app.bytes()).unwrap().iter().count(), MAX_SAMPLES);
    }
}

#[test]
fn timestamps_at_the_i64_limits_round_trip() {
    for encoding in ENCODINGS {
        round_trip(encoding, &[(i64::MIN, 1.0), (i64::MAX, 2.0)]);
        round_trip(encoding, &[(i64::MIN, 1.0), (i64::MIN + 1, 2.0), (i64::MAX - 1, 3.0), (i64::MAX, 4.0)]);
        round_trip(encoding, &[(-5, 1.0), (-4, 1.0), (0, 1.0), (i64::MAX / 2, 1.0), (i64::MAX, 1.0)]);
    }
}

#[test]
fn counters_gauges_and_floats_round_trip() {
    let times = scrape_times(500, jitter);
    let series: Vec<Vec<f64>> = vec![
        (0..500).map(|i| (123_456 + i * 97 + i % 7) as f64 / 100.0).collect(),
        (0..500).map(|i| 4096.0 * (1_000_000 + (i * 37 % 101) - 50) as f64).collect(),
        (0..500).map(|i| ((i * 13 % 400) as f64) / 100.0).collect(),
        (0..500).map(|i| (i as f64).sin() * 1e6).collect(),
        (0..500).map(|i| if i < 250 { 7.0 } else { 7.5 }).collect(),
        (0..500).map(|i| if i % 100 == 99 { f64::from_bits(STALE_NAN) } else { i as f64 * 1e-9 }).collect(),
        (0..500).map(|i| 1e300 * i as f64).collect(),
        (0..500).map(|i| if i % 2 == 0 { 9_007_199_254_740_992.0 } else { -9_007_199_254_740_993.0 }).collect(),
    ];
    for values in series {
        let samples: Vec<(i64, f64)> = times.iter().copied().zip(values).collect();
        for encoding in ENCODINGS {
            round_trip(encoding, &samples);
        }
        let on_the_grid: Vec<(i64, f64)> = samples.iter().enumerate().map(|(i, s)| (i as i64 * 10_000, s.1)).collect();
        for bytes in all_packed(&on_the_grid) {
            assert_same(&decode(&bytes).unwrap(), &on_the_grid);
            check_decode_into(&bytes, i64::MIN, i64::MAX);
        }
    }
}

#[test]
fn decimals_needing_more_digits_round_trip() {
    // Each sequence makes the appender widen its decimal scale, method or shift, re-encoding earlier samples;
    // the ones starting 78.33 and 69.80011 re-encode while re-encoding. Rounding at many digits can pick
    // integers that differ from the earlier ones times ten.
    let sequences: [&[f64]; 8] = [
        &[1.0, 1.5, 1.25, 1.125, 1.0625, 3.0, 1e-9],
        &[4096.0, 8192.0, 12288.0, 4097.0, 4096.5],
        &[1e15, 0.5, 2.0],
        &[69.8400318446706, 68.95530538819334, 66.96035638316938, 67.52999354071922],
        &[78.33, 18.83, -1031.17, -821.1700000000001, -53300000000821.17, -53300000000821.18],
        &[69.80011, 69.8000806, 69.8000496, 69.80004960000842, 858000000069.8, -499141999999930.2],
        // node_exporter's disk times (milliseconds * 0.001) and pressure times (microseconds / 1000 / 1000).
        &[1234567.0 * 0.001, 1234579.0 * 0.001, 1234601.0 * 0.001, 1234633.0 * 0.001, 1234677.0 * 0.001],
        &[98765432.0 / 1e3 / 1e3, 98765477.0 / 1e3 / 1e3, 98765561.0 / 1e3 / 1e3, 98765601.0 / 1e3 / 1e3],
    ];
    for values in sequences {
        let samples: Vec<(i64, f64)> = values.iter().enumerate().map(|(i, &v)| (i as i64 * 10_000, v)).collect();
        for encoding in ENCODINGS {
            round_trip(encoding, &samples);
        }
    }
}

/// Sizes on typical series: a regression in the codec shows up here.
#[test]
fn typical_series_compress_well() {
    let size = |times: &[i64], value: &dyn Fn(usize) -> f64| {
        let samples: Vec<(i64, f64)> = times.iter().enumerate().map(|(i, &t)| (t, value(i))).collect();
        round_trip(Encoding::Compact, &samples).bytes().len()
    };
    let regular = scrape_times(120, |_| 0);
    let jittered = scrape_times(120, jitter);
    let drifting = scrape_times(120, |i| i as i64 * 5 + jitter(i));
    let mut gappy = jittered.clone();
    gappy.iter_mut().skip(60).for_each(|t| *t += 30_000);

    // A constant on exact 10 s steps: header, first timestamp, interval, value.
    assert!(size(&regular, &|_| 1.0) <= 14);
    // Timestamps late by 0–4 ms cost about 3 bits each, also when the grid drifts or has a gap.
    for times in [&jittered, &drifting, &gappy] {
        let bytes = size(times, &|_| 1.0);
        assert!(bytes <= 14 + 120 * 3 / 8 + 10, "{bytes} bytes for jittered timestamps");
    }
    // A CPU-seconds counter with 0.01 resolution, about 9 s per scrape, is far below Gorilla.
    let cpu = |i: usize| (1_000_000 + i * 900 + (i * 7919) % 41) as f64 / 100.0;
    let compact = size(&jittered, &cpu);
    let gorilla =
        encode(Encoding::Gorilla, &jittered.iter().enumerate().map(|(i, &t)| (t, cpu(i))).collect::<Vec<_>>())
            .bytes()
            .len();
    assert!(compact * 3 < gorilla, "compact {compact} bytes, gorilla {gorilla}");
    // node_exporter's disk and pressure times, which are not the nearest floats to their decimals.
    let disk = |i: usize| (1_000_000 + i * 37 + (i * 7919) % 13) as f64 * 0.001;
    let pressure = |i: usize| (9_000_000_000u64 + (i * 104_729 % 20_000) as u64) as f64 / 1000.0 / 1000.0;
    for value in [&disk as &dyn Fn(usize) -> f64, &pressure] {
        let compact = size(&regular, value);
        let xor =
            encode(Encoding::Gorilla, &regular.iter().enumerate().map(|(i, &t)| (t, value(i))).collect::<Vec<_>>());
        assert!(compact * 2 < xor.bytes().len(), "compact {compact} bytes, gorilla {}", xor.bytes().len());
    }
    // Memory moving by up to 30 pages: the page size is factored out (12 bits a sample otherwise).
    let pages = size(&regular, &|i| 4096.0 * (2_000_000 + (i * 7919) % 31) as f64);
    assert!(pages <= 14 + 120, "{pages} bytes for page-sized steps");
}

#[derive(Clone, Debug)]
enum Op {
    Same,
    Step(i32),
    Bits(u64),
    Special(usize),
}

const SPECIALS: [u64; 6] =
    [STALE_NAN, 0x7ff8_0000_0000_0000, 0xfff8_0000_0000_0001, 0x8000_0000_0000_0000, 0x7ff0_0000_0000_0000, 1];

/// Builds samples from gaps and value operations; a sequence stops where timestamps would overflow. Values are
/// steps of a decimal at `scale` digits, repeats, arbitrary bit patterns, or special values.
fn build(start: i64, scale: u8, ops: &[(u64, Op)]) -> Vec<(i64, f64)> {
    let mut out = Vec::with_capacity(ops.len());
    let mut t = start;
    let mut m = 0i64;
    let mut v = 0.0;
    for (i, (gap, op)) in ops.iter().enumerate() {
        if i > 0 {
            match t.checked_add_unsigned(*gap) {
                Some(next) => t = next,
                None => break,
            }
        }
        v = match op {
            Op::Same => v,
            Op::Step(k) => {
                m = m.wrapping_add(i64::from(*k));
                m as f64 / 10f64.powi(i32::from(scale))
            }
            Op::Bits(bits) => f64::from_bits(*bits),
            Op::Special(s) => f64::from_bits(SPECIALS[*s]),
        };
        out.push((t, v));
    }
    out
}

fn gap() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => Just(10_000u64),
        4 => 9_995u64..=10_005,
        1 => 1u64..=3,
        1 => 1u64..=100_000,
        1 => any::<u64>().prop_map(|g| g.max(1)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Same),
        6 => (-1000i32..1000).prop_map(Op::Step),
        1 => any::<i32>().prop_map(Op::Step),
        2 => any::<u64>().prop_map(Op::Bits),
        1 => (0..SPECIALS.len()).prop_map(Op::Special),
    ]
}

fn start() -> impl Strategy<Value = i64> {
    prop_oneof![Just(1_700_000_000_000i64), any::<i64>(), Just(i64::MIN), Just(i64::MAX - 50_000), Just(-1i64)]
}

fn samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
    (start(), 0u8..12, prop::collection::vec((gap(), op()), 0..300))
        .prop_map(|(start, scale, ops)| build(start, scale, &ops))
}

/// Samples shaped to reach every compact mode, which arbitrary ones rarely do: regular or irregular timestamps,
/// and constant, decimal (with some special values) or arbitrary values.
fn shaped_samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
    let ops = prop::collection::vec((gap(), op()), 0..300);
    (start(), any::<bool>(), 0u8..3, 0u8..12, ops).prop_map(|(start, regular, values, scale, mut ops)| {
        let first_gap = ops.first().map_or(1, |op| op.0);
        for (gap, op) in &mut ops {
            if regular {
                *gap = first_gap;
            }
            match (values, &op) {
                (0, _) => *op = Op::Same,
                (1, Op::Bits(bits)) => *op = Op::Step(*bits as i32 % 1000),
                _ => {}
            }
        }
        build(start, scale, &ops)
    })
}

/// A range bound near the timestamp of the sample `pick` chooses, `offset` away; an extreme for a few picks.
fn bound(samples: &[(i64, f64)], pick: prop::sample::Index, offset: i64) -> i64 {
    match pick.index(samples.len() + 3).checked_sub(3) {
        Some(i) => samples[i].0.saturating_add(offset),
        None if offset < 0 => i64::MIN,
        None => i64::MAX,
    }
}

proptest! {
    // No regression files: failures print their minimal input instead.
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_samples_round_trip(samples in samples()) {
        for encoding in ENCODINGS {
            round_trip(encoding, &samples);
        }
    }

    #[test]
    fn decode_into_matches_the_iterator(
        samples in prop_oneof![samples(), shaped_samples()],
        lo in (any::<prop::sample::Index>(), -2i64..=2),
        hi in (any::<prop::sample::Index>(), -2i64..=2),
    ) {
        let (mint, maxt) = (bound(&samples, lo.0, lo.1), bound(&samples, hi.0, hi.1));
        for encoding in ENCODINGS {
            let app = encode(encoding, &samples);
            check_decode_into(app.bytes(), mint, maxt);
            check_decode_into(app.bytes(), i64::MIN, i64::MAX);
        }
    }

    #[test]
    fn packed_chunks_decode_like_their_source(
        samples in prop_oneof![samples(), shaped_samples()],
        lo in (any::<prop::sample::Index>(), -2i64..=2),
        hi in (any::<prop::sample::Index>(), -2i64..=2),
    ) {
        let source = encode(Encoding::Compact, &samples);
        for encoding in PACKED {
            let Some(bytes) = packed(encoding, &samples) else { return Ok(()) };
            prop_assert!(decode(&bytes).is_ok());
            assert_same(&decode(&bytes).unwrap(), &samples);
            let (mint, maxt) = (bound(&samples, lo.0, lo.1), bound(&samples, hi.0, hi.1));
            check_decode_into(&bytes, mint, maxt);
            check_decode_into(&bytes, i64::MIN, i64::MAX);
            prop_assert_eq!(decode_bulk(&bytes, mint, maxt), decode_bulk(source.bytes(), mint, maxt));
            // Reopening gives back a compact chunk, which packs into the same bytes.
            let reopened = ChunkAppender::from_bytes(&bytes).unwrap();
            prop_assert_eq!(reopened.encoding(), Encoding::Compact);
            prop_assert_eq!(packed_bytes(encoding, reopened.bytes()), Some(bytes));
        }
        // The split encoding reorders the grouped one's bits.
        let lengths: Vec<usize> = all_packed(&samples).iter().map(Vec::len).collect();
        prop_assert!(lengths.windows(2).all(|pair| pair[0] == pair[1]), "{:?}", lengths);
    }

    #[test]
    fn flipped_bits_in_packed_chunks_never_panic(samples in shaped_samples(), flips in prop::collection::vec(any::<prop::sample::Index>(), 1..4)) {
        for mut bytes in all_packed(&samples) {
            for flip in &flips {
                let bit = flip.index(bytes.len() * 8);
                bytes[bit / 8] ^= 0x80 >> (bit % 8);
            }
            check_hostile(&bytes);
            check_numbered(&bytes);
        }
    }

    #[test]
    fn reopened_chunk_appends_like_the_original(samples in samples(), split in any::<prop::sample::Index>()) {
        let split = if samples.is_empty() { 0 } else { split.index(samples.len() + 1) };
        for encoding in ENCODINGS {
            let whole = encode(encoding, &samples);
            let first_part = encode(encoding, &samples[..split]);
            let mut reopened = ChunkAppender::from_bytes(first_part.bytes()).unwrap();
            prop_assert_eq!(reopened.num_samples(), split);
            for &(t, v) in &samples[split..] {
                reopened.append(t, v).unwrap();
            }
            prop_assert_eq!(reopened.bytes(), whole.bytes());
            prop_assert_eq!((reopened.min_time(), reopened.max_time()), (whole.min_time(), whole.max_time()));
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), tag in 0u8..6) {
        let mut bytes = bytes;
        if let Some(first) = bytes.first_mut() {
            *first = tag;
        }
        check_hostile(&bytes);
    }

    #[test]
    fn flipped_bits_never_panic(samples in prop_oneof![samples(), shaped_samples()], flips in prop::collection::vec(any::<prop::sample::Index>(), 1..4)) {
        for encoding in ENCODINGS {
            let mut bytes = encode(encoding, &samples).bytes().to_vec();
            for flip in &flips {
                let bit = flip.index(bytes.len() * 8);
                bytes[bit / 8] ^= 0x80 >> (bit % 8);
            }
            check_hostile(&bytes);
        }
    }
}

fn packed_bytes(encoding: Encoding, compact: &[u8]) -> Option<Vec<u8>> {
    Chunk::from_bytes(compact).unwrap().pack_as(encoding).unwrap()
}

/// Checks `decode_numbered_values` on possibly corrupt bytes against `decode_into`: for every prefix length, the
/// same values when the chunk's timestamps are the sample numbers, else an error; nothing for other encodings.
fn check_numbered(bytes: &[u8]) {
    let Ok(chunk) = Chunk::from_bytes(bytes) else { return };
    for len in [0, 1, 2, 33, chunk.num_samples() / 2, chunk.num_samples(), chunk.num_samples() + 1] {
        let mut out = vec![(5, 5); len];
        let got = chunk.decode_numbered_values(&mut out);
        if !PACKED.contains(&chunk.encoding()) {
            assert_eq!(got, Ok(false));
            assert_eq!(out, vec![(5, 5); len]);
            continue;
        }
        let want = decode_bulk(bytes, i64::MIN, len as i64 - 1)
            .ok()
            .filter(|samples| samples.len() == len && samples.iter().enumerate().all(|(i, s)| s.0 == i as i64));
        match (want, got) {
            (Some(want), Ok(true)) => {
                assert!(out.iter().zip(&want).all(|(o, w)| o.0 == 5 && o.1 == w.1), "prefix {len}: {out:?}");
            }
            (Some(_), Ok(false)) | (None, Ok(_)) if len > 0 => {
                panic!("prefix {len}: decode_numbered_values disagrees with decode_into")
            }
            _ => {}
        }
    }
}

/// Reads possibly corrupt bytes: any error is fine, but whatever decodes must be in time order and no more samples
/// than the header announces, reopening must agree with reading, and bulk decoding with the iterator.
fn check_hostile(bytes: &[u8]) {
    let Ok(chunk) = Chunk::from_bytes(bytes) else {
        assert!(ChunkAppender::from_bytes(bytes).is_err());
        assert!(decode_bulk(bytes, i64::MIN, i64::MAX).is_err());
        return;
    };
    let mut decoded = 0;
    let mut last = None;
    let mut failed = false;
    let mut times = Vec::new();
    for sample in chunk.iter() {
        match sample {
            Ok((t, _)) => {
                assert!(last.is_none_or(|l| t > l), "decoded timestamps out of order");
                last = Some(t);
                decoded += 1;
                times.push(t);
            }
            Err(_) => failed = true,
        }
    }
    check_decode_into(bytes, i64::MIN, i64::MAX);
    if let Some(&t) = times.get(times.len() / 2) {
        check_decode_into(bytes, t, t);
        check_decode_into(bytes, i64::MIN, t);
        check_decode_into(bytes, t.saturating_add(1), i64::MAX);
    }
    assert!(decoded <= chunk.num_samples());
    assert!(failed || decoded == chunk.num_samples(), "the iterator ended early without an error");
    match ChunkAppender::from_bytes(bytes) {
        Ok(app) => {
            assert!(!failed, "reopened a chunk that does not decode");
            assert_eq!(app.num_samples(), decoded);
        }
        Err(_) => assert!(failed, "could not reopen a chunk that decodes"),
    }
}

#[test]
fn decode_into_covers_every_mode() {
    let regular = scrape_times(200, |_| 0);
    let irregular = scrape_times(200, jitter);
    let constant = |_| 3.5;
    let decimal = |i: usize| if i % 50 == 7 { f64::from_bits(STALE_NAN) } else { (i * 37 % 101) as f64 / 100.0 };
    let floats = |i: usize| (i as f64).sqrt();
    let values: [(&dyn Fn(usize) -> f64, u8); 3] = [(&floats, 0), (&decimal, 1), (&constant, 2)];
    for (times, is_regular) in [(&regular, true), (&irregular, false)] {
        for (value, mode) in values {
            let samples: Vec<(i64, f64)> = times.iter().enumerate().map(|(i, &t)| (t, value(i))).collect();
            let appended = ENCODINGS.map(|encoding| round_trip(encoding, &samples).bytes().to_vec());
            // The header's value mode and regular flag.
            assert_eq!((appended[1][3] >> 6, appended[1][3] & 0x20 != 0), (mode, is_regular));
            let packed = all_packed(&samples);
            assert_eq!(packed.len(), if is_regular && mode == 1 { PACKED.len() } else { 0 });
            for bytes in appended.iter().chain(&packed) {
                for (mint, maxt) in [
                    (i64::MIN, i64::MAX),
                    (times[0], times[0]),
                    (times[1], times[1]),
                    (times[2], times[150]),
                    (times[2] + 1, times[150] - 1),
                    (times[199], i64::MAX),
                    (times[199] + 1, i64::MAX),
                    (i64::MIN, times[0] - 1),
                    (times[100], times[50]),
                ] {
                    check_decode_into(bytes, mint, maxt);
                }
            }
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    let times = scrape_times(130, jitter);
    let inputs: Vec<Vec<(i64, f64)>> = vec![
        times.iter().map(|&t| (t, 1.0)).collect(),
        scrape_times(130, |_| 0).iter().map(|&t| (t, 42.0)).collect(),
        times.iter().enumerate().map(|(i, &t)| (t, i as f64 * 0.01)).collect(),
        times.iter().enumerate().map(|(i, &t)| (t, (i as f64).sqrt())).collect(),
        times.iter().enumerate().map(|(i, &t)| (t, if i == 60 { f64::from_bits(STALE_NAN) } else { 5.0 })).collect(),
        scrape_times(130, |_| 0).iter().enumerate().map(|(i, &t)| (t, i as f64 * 0.01)).collect(),
        scrape_times(130, |_| 0).iter().enumerate().map(|(i, &t)| (t, (i as f64).sqrt())).collect(),
    ];
    for samples in &inputs {
        let appended = ENCODINGS.map(|encoding| encode(encoding, samples).bytes().to_vec());
        for bytes in appended.into_iter().chain(all_packed(samples)) {
            let encoding = Chunk::from_bytes(&bytes).unwrap().encoding();
            for len in 0..bytes.len() {
                let cut = &bytes[..len];
                check_hostile(cut);
                assert!(decode(cut).is_err(), "{encoding:?}: truncation to {len} of {} bytes decoded", bytes.len());
                assert!(
                    decode_bulk(cut, i64::MIN, i64::MAX).is_err(),
                    "{encoding:?}: bulk-decoded truncation to {len}"
                );
            }
            // Extra bytes after the last sample are corruption too.
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode(&longer).is_err(), "{encoding:?}: a trailing byte was accepted");
            assert!(
                decode_bulk(&longer, i64::MIN, i64::MAX).is_err(),
                "{encoding:?}: a trailing byte was bulk-decoded"
            );
        }
    }
}

#[test]
fn every_single_bit_flip_is_handled() {
    let times = scrape_times(120, jitter);
    let samples: Vec<(i64, f64)> =
        times.iter().enumerate().map(|(i, &t)| (t, (i * 900 + i % 7) as f64 / 100.0)).collect();
    for encoding in ENCODINGS {
        let bytes = encode(encoding, &samples).bytes().to_vec();
        let mut detected = 0;
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 0x80 >> (bit % 8);
            check_hostile(&flipped);
            if decode(&flipped).is_err() {
                detected += 1;
            }
        }
        // Chunks carry no checksum (blocks and the WAL do), yet many flips break the structure.
        assert!(detected > 0, "{encoding:?}: no bit flip was detected");
    }
}

#[test]
fn corrupt_headers_are_rejected() {
    let app = encode(Encoding::Compact, &scrape_times(10, jitter).iter().map(|&t| (t, 3.5)).collect::<Vec<_>>());
    let good = app.bytes().to_vec();
    let with = |i: usize, b: u8| {
        let mut bytes = good.clone();
        bytes[i] = b;
        bytes
    };
    assert_eq!(decode(&[]), Err(ChunkError::Truncated));
    assert_eq!(decode(&with(0, 9)), Err(ChunkError::UnknownEncoding(9)));
    assert_eq!(decode(&with(0, 0)), Err(ChunkError::UnknownEncoding(0)));
    // A count far above what the data can hold is caught before any decoding.
    let mut huge = good.clone();
    huge[1] = 0xff;
    assert!(matches!(Chunk::from_bytes(&huge), Err(ChunkError::Corrupt(_))));
    // An unknown value mode or decimal method, too many digits, a shift on a constant.
    assert!(matches!(decode(&with(3, 0xc0)), Err(ChunkError::Corrupt(_))));
    assert!(matches!(decode(&with(3, 0x1f)), Err(ChunkError::Corrupt(_))));
    assert!(matches!(decode(&with(4, 0xc0)), Err(ChunkError::Corrupt(_))));
    assert!(matches!(decode(&with(4, 0x01)), Err(ChunkError::Corrupt(_))));
    // Messages are lowercase sentences naming the problem.
    let message = Chunk::from_bytes(&huge).unwrap_err().to_string();
    assert!(message.starts_with("corrupt chunk: "), "{message}");
}

#[test]
fn packing_applies_to_regular_decimal_chunks_only() {
    let regular = scrape_times(100, |_| 0);
    let irregular = scrape_times(100, jitter);
    let decimals: Vec<f64> = cpu_counter(100);
    let floats: Vec<f64> = (0..100).map(|i| (i as f64).sqrt()).collect();
    let constant = vec![7.5; 100];
    let zip = |ts: &[i64], vs: &[f64]| ts.iter().copied().zip(vs.iter().copied()).collect::<Vec<_>>();
    for encoding in PACKED {
        assert!(packed(encoding, &zip(&regular, &decimals)).is_some());
        assert!(packed(encoding, &zip(&irregular, &decimals)).is_none());
        assert!(packed(encoding, &zip(&regular, &floats)).is_none());
        let constant = packed(encoding, &zip(&regular, &constant));
        assert!(constant.is_none(), "constant chunks already take no bits per sample");
        assert!(packed(encoding, &zip(&regular[..1], &decimals[..1])).is_none());
    }
    let gorilla = encode(Encoding::Gorilla, &zip(&regular, &decimals));
    assert_eq!(Chunk::from_bytes(gorilla.bytes()).unwrap().pack(), Ok(None));
    // `pack` writes the split encoding; `pack_as` only the packed encodings.
    let compact = encode(Encoding::Compact, &zip(&regular, &decimals));
    let chunk = Chunk::from_bytes(compact.bytes()).unwrap();
    assert_eq!(chunk.pack(), chunk.pack_as(Encoding::Split));
    for encoding in ENCODINGS {
        assert_eq!(chunk.pack_as(encoding), Ok(None));
    }
}

#[test]
fn packed_headers_are_checked() {
    let samples: Vec<(i64, f64)> = scrape_times(100, |_| 0).into_iter().zip(cpu_counter(100)).collect();
    for encoding in PACKED {
        let good = packed(encoding, &samples).unwrap();
        let with = |i: usize, b: u8| {
            let mut bytes = good.clone();
            bytes[i] = b;
            bytes
        };
        // More samples than one bit each and the group headers allow, irregular timestamps, XOR values.
        let err = Chunk::from_bytes(&with(1, 0xff)).unwrap_err();
        assert_eq!(err, ChunkError::Corrupt("sample count exceeds the data"), "{encoding:?}");
        assert!(matches!(decode(&with(3, good[3] & !0x20)), Err(ChunkError::Corrupt(_))), "{encoding:?}");
        assert!(matches!(decode(&with(3, good[3] & 0x3f)), Err(ChunkError::Corrupt(_))), "{encoding:?}");
    }
}

#[test]
fn grouped_chunks_are_about_as_small_as_compact_ones() {
    for n in [33, 120, 720] {
        let samples: Vec<(i64, f64)> = (0..n).map(|i| (i as i64, cpu_counter(n)[i])).collect();
        let compact = encode(Encoding::Compact, &samples).bytes().len();
        for encoding in PACKED {
            let grouped = packed(encoding, &samples).unwrap().len();
            assert!(grouped * 100 <= compact * 105, "{n} samples: {encoding:?} {grouped} bytes, compact {compact}");
        }
    }
}

#[test]
fn numbered_values_fill_the_value_fields() {
    let values = cpu_counter(200);
    let samples: Vec<(i64, f64)> = values.iter().enumerate().map(|(i, &v)| (i as i64, v)).collect();
    for encoding in PACKED {
        let bytes = packed(encoding, &samples).unwrap();
        check_numbered(&bytes);
        let chunk = Chunk::from_bytes(&bytes).unwrap();
        let mut out: Vec<(i64, u64)> = (0..150).map(|i| (i * 10, 0)).collect();
        assert_eq!(chunk.decode_numbered_values(&mut out), Ok(true));
        for (i, o) in out.iter().enumerate() {
            assert_eq!(*o, (i as i64 * 10, values[i].to_bits()));
        }
        // Timestamps other than the sample numbers, or more samples than the chunk has, are errors.
        let shifted: Vec<(i64, f64)> = samples.iter().map(|&(t, v)| (t + 1, v)).collect();
        let shifted = packed(encoding, &shifted).unwrap();
        assert!(Chunk::from_bytes(&shifted).unwrap().decode_numbered_values(&mut out).is_err());
        assert!(chunk.decode_numbered_values(&mut vec![(0, 0); 201]).is_err());
    }
}

#[test]
fn every_truncation_of_a_packed_chunk_is_an_error() {
    let times = scrape_times(130, |_| 0);
    let values = cpu_counter(130);
    let samples: Vec<(i64, f64)> = times.iter().copied().zip(values).collect();
    for encoding in PACKED {
        let bytes = packed(encoding, &samples).unwrap();
        for len in 0..bytes.len() {
            let cut = &bytes[..len];
            check_hostile(cut);
            check_numbered(cut);
            assert!(decode(cut).is_err(), "{encoding:?}: truncation to {len} of {} bytes decoded", bytes.len());
            assert!(decode_bulk(cut, i64::MIN, i64::MAX).is_err(), "{encoding:?}: bulk-decoded truncation to {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err(), "{encoding:?}: a trailing byte was accepted");
        let mut detected = 0;
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 0x80 >> (bit % 8);
            check_hostile(&flipped);
            detected += usize::from(decode(&flipped).is_err());
        }
        assert!(detected > 0, "{encoding:?}: no bit flip was detected");
    }
}

/// The bits of `bytes` from byte `start` on, as '0' and '1'.
fn bit_string(bytes: &[u8], start: usize) -> String {
    bytes[start..].iter().map(|b| format!("{b:08b}")).collect()
}

#[test]
fn split_groups_reorder_the_grouped_encodings_bits() {
    // Integers 10, 11, 13, 12 around a staleness marker: the group uses the previous value as prediction, k = 1,
    // and codes the numbers zigzag(1) = 2, zigzag(2) = 4, the marker, zigzag(-1) = 1.
    let values = [10.0, 11.0, 13.0, f64::from_bits(STALE_NAN), 12.0];
    let samples: Vec<(i64, f64)> = values.iter().enumerate().map(|(i, &v)| (i as i64, v)).collect();
    let head = concat!(
        "00000000", // varint t0 = 0
        "00000001", // uvarint delta = 1
        "0", "00010100", // value 0: a decimal, varint m = 10
        "0", "000001", // group: previous value predicts, k = 1
    );
    let escape = "1".repeat(12);
    let raw_marker = format!("1000000{STALE_NAN:064b}"); // escape code 64, then the float's bits
                                                         // Field after field: unary part and low bit of 2, of 4, the escape, then 1's.
    let grouped = [head, "10", "0", "110", "0", &escape, &raw_marker, "0", "1"].concat();
    // The unary parts, then the low bits of 2, 4 and 1, then the escape's payload.
    let split = [head, "10", "110", &escape, "0", "0", "0", "1", &raw_marker].concat();
    for (encoding, want) in [(Encoding::Grouped, grouped), (Encoding::Split, split)] {
        let bytes = packed(encoding, &samples).unwrap();
        // Header: tag, count 5, regular decimal mode with 0 digits, shift 0.
        assert_eq!(bytes[..5], [encoding as u8, 0, 5, 0x60, 0]);
        let padded = format!("{want:0<width$}", width = want.len().div_ceil(8) * 8);
        assert_eq!(bit_string(&bytes, 5), padded, "{encoding:?}");
        assert_same(&decode(&bytes).unwrap(), &samples);
    }
}
