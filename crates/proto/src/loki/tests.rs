//! Tests of the Loki push formats: golden bytes pin the field numbers, hostile bodies must fail cleanly.

use prost::Message as _;
use vigil_model::{log::LogEntry, Labels};

use super::*;

fn compress(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).unwrap()
}

/// One stream `{a="b"}` with one entry at 1 s 2 ns, line "hi", metadata k=v, written out byte by byte.
const GOLDEN: &[u8] = &[
    0x0a, 29, // PushRequest.streams (1), 29 bytes
    0x0a, 7, b'{', b'a', b'=', b'"', b'b', b'"', b'}', // StreamAdapter.labels (1)
    0x12, 18, // StreamAdapter.entries (2), 18 bytes
    0x0a, 4, 0x08, 1, 0x10, 2, // EntryAdapter.timestamp (1): seconds (1) = 1, nanos (2) = 2
    0x12, 2, b'h', b'i', // EntryAdapter.line (2)
    0x1a, 6, 0x0a, 1, b'k', 0x12, 1, b'v', // EntryAdapter.structuredMetadata (3): name (1), value (2)
];

fn golden_streams() -> Streams {
    let entry = LogEntry { ts_ns: 1_000_000_002, line: "hi".into(), fields: vec![("k".into(), "v".into())] };
    vec![(Labels::from_pairs([("a", "b")]).unwrap(), vec![entry])]
}

#[test]
fn golden_bytes_pin_the_field_numbers() {
    assert_eq!(to_request(&golden_streams()).encode_to_vec(), GOLDEN);
    assert_eq!(decode_push(&compress(GOLDEN), &PushLimits::default()).unwrap(), golden_streams());
}

#[test]
fn round_trip_keeps_streams_entries_and_negative_timestamps() {
    let streams = vec![
        (
            Labels::from_pairs([("job", "app"), ("path", "C:\\logs\\\"x\"\n")]).unwrap(),
            vec![
                LogEntry { ts_ns: -1, line: "before the epoch".into(), fields: Vec::new() },
                LogEntry { ts_ns: 1_700_000_000_123_456_789, line: "jörg ✓".into(), fields: Vec::new() },
            ],
        ),
        (Labels::from_pairs([("job", "b")]).unwrap(), Vec::new()),
    ];
    let body = encode_push(&streams);
    assert_eq!(decode_push(&body, &PushLimits::default()).unwrap(), streams);
}

#[test]
fn label_strings_parse_with_escapes_and_fail_with_offsets() {
    let l = parse_labels(r#" { job="app", msg = "a\"b\\c\n\u00e9\x41" ,} "#).unwrap();
    assert_eq!(l, Labels::from_pairs([("job", "app"), ("msg", "a\"b\\c\néA")]).unwrap());
    assert_eq!(parse_labels("{}").unwrap(), Labels::default());
    assert_eq!(parse_labels(r#"{a="", b="1"}"#).unwrap(), Labels::from_pairs([("b", "1")]).unwrap());
    let cases = [
        ("", "label string at byte 0: expected '{'"),
        ("{a=\"b\"", "label string at byte 6: expected ',' or '}'"),
        ("{a=b}", "label string at byte 3: expected '\"' to open the label value"),
        ("{1a=\"b\"}", "label string at byte 1: expected a label name"),
        ("{a=\"b}", "label string at byte 6: unterminated label value"),
        ("{a=\"\\q\"}", "label string at byte 4: unknown escape sequence"),
        ("{a=\"\\u12\"}", "label string at byte 4: invalid hex digits in escape"),
        ("{a=\"\\u12", "label string at byte 4: short escape sequence"),
        ("{a=\"\\xff\"}", "label string at byte 9: label value is not valid utf-8"),
        ("{a=\"\\UFFFFFFFF\"}", "label string at byte 4: escape is not a unicode scalar value"),
        ("{a=\"1\", a=\"2\"}", "label string: duplicate label name \"a\""),
        ("{a=\"1\"} x", "label string at byte 8: unexpected text after '}'"),
    ];
    for (input, want) in cases {
        assert_eq!(parse_labels(input).unwrap_err().to_string(), want, "{input:?}");
    }
}

#[test]
fn formatted_labels_parse_back() {
    let l = Labels::from_pairs([("a", "x\"y\\z\n\t\u{1}"), ("b", "ü")]).unwrap();
    let s = format_labels(&l);
    assert_eq!(s, "{a=\"x\\\"y\\\\z\\n\\t\\x01\", b=\"ü\"}");
    assert_eq!(parse_labels(&s).unwrap(), l);
}

#[test]
fn hostile_protobuf_bodies_are_errors() {
    let limits = PushLimits::default();
    // Every truncation of the golden message.
    for end in 1..GOLDEN.len() {
        assert!(decode_push(&compress(&GOLDEN[..end]), &limits).is_err(), "prefix {end}");
    }
    // A length that runs past the end.
    let huge = [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0a];
    let err = decode_push(&compress(&huge), &limits).unwrap_err();
    assert!(err.to_string().contains("runs past the end"), "{err}");
    assert!(matches!(
        decode_push(b"\xff\xff\xff\xff\x0fjunk", &limits),
        Err(LokiError::Snappy(_) | LokiError::DecompressedTooLarge { .. })
    ));
    assert!(matches!(decode_push(&[0x80, 0x80, 0x40, 0, 0, 0, 0], &limits), Err(LokiError::ImplausibleLength { .. })));
    assert!(matches!(decode_push(&[10, 0, 1], &limits), Err(LokiError::Snappy(_))));
    // Invalid label strings and timestamps inside a valid message.
    let mut req = to_request(&golden_streams());
    req.streams[0].labels = "{a=b}".into();
    let err = decode_push(&compress(&req.encode_to_vec()), &limits).unwrap_err();
    assert_eq!(err.to_string(), "stream 0: label string at byte 3: expected '\"' to open the label value");
    req.streams[0].labels = "{}".into();
    assert!(matches!(decode_push(&compress(&req.encode_to_vec()), &limits), Err(LokiError::NoLabels { stream: 0 })));
    let mut req = to_request(&golden_streams());
    req.streams[0].entries[0].timestamp = Some(Timestamp { seconds: i64::MAX, nanos: 0 });
    let err = decode_push(&compress(&req.encode_to_vec()), &limits).unwrap_err();
    assert!(err.to_string().starts_with("stream 0, entry 0: timestamp"), "{err}");
}

#[test]
fn limits_are_checked_before_decoding() {
    let many_empty_entries: Vec<u8> = {
        let mut stream = vec![0x0a, 7];
        stream.extend_from_slice(b"{a=\"b\"}");
        for _ in 0..1000 {
            stream.extend_from_slice(&[0x12, 0]);
        }
        let mut out = vec![0x0a];
        let mut len = stream.len();
        while len >= 0x80 {
            out.push((len as u8) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(&stream);
        out
    };
    let body = compress(&many_empty_entries);
    assert_eq!(decode_push(&body, &PushLimits::default()).unwrap()[0].1.len(), 1000);
    let cases = [
        (PushLimits { max_entries: 999, ..PushLimits::default() }, "more than 999 entries in one push"),
        (PushLimits { max_streams: 0, ..PushLimits::default() }, "more than 0 streams in one push"),
        (PushLimits { max_body_bytes: 10, ..PushLimits::default() }, "more than the limit of 10"),
        (PushLimits { max_decompressed_bytes: 10, ..PushLimits::default() }, "more than the limit of 10"),
    ];
    for (limits, want) in cases {
        let err = decode_push(&body, &limits).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn random_bodies_never_panic() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let valid = encode_push(&golden_streams());
    for i in 0..20_000 {
        let len = (next() % 64) as usize;
        let mut body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if i % 2 == 0 {
            // Random protobuf behind valid snappy, and single-byte mutations of a valid body.
            body = compress(&body);
        } else if i % 3 == 0 {
            body = valid.clone();
            let at = (next() as usize) % body.len();
            body[at] ^= next() as u8;
        }
        let _ = decode_push(&body, &PushLimits::default());
        let _ = decode_push_json(&body, &PushLimits::default());
        let _ = parse_labels(&String::from_utf8_lossy(&body));
    }
}

#[test]
fn json_bodies_decode_with_metadata() {
    let body = br#"{"streams":[{"stream":{"job":"app","host":"a"},"values":[["1700000000000000001","one"],["2","two",{"trace_id":"x"}]]}]}"#;
    let got = decode_push_json(body, &PushLimits::default()).unwrap();
    assert_eq!(got[0].0, Labels::from_pairs([("host", "a"), ("job", "app")]).unwrap());
    assert_eq!(got[0].1[0], LogEntry { ts_ns: 1_700_000_000_000_000_001, line: "one".into(), fields: Vec::new() });
    assert_eq!(got[0].1[1].fields, [("trace_id".to_string(), "x".to_string())]);
}

#[test]
fn hostile_json_bodies_are_errors() {
    let limits = PushLimits { max_entries: 2, ..PushLimits::default() };
    let cases: [(&[u8], &str); 8] = [
        (b"", "invalid json"),
        (
            b"{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[\"x\",\"l\"]]}]}",
            "stream 0, entry 0: timestamp \"x\"",
        ),
        (b"{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[\"1\"]]}]}", "invalid json"),
        (b"{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[\"1\",\"l\",{},4]]}]}", "invalid json"),
        (b"{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[1,\"l\"]]}]}", "invalid json"),
        (b"{\"streams\":[{\"stream\":{},\"values\":[]}]}", "stream 0: no labels"),
        (b"{\"streams\":[{\"stream\":{\"\":\"b\"},\"values\":[]}]}", "empty label name"),
        (
            b"{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[\"1\",\"l\"],[\"1\",\"l\"],[\"1\",\"l\"]]}]}",
            "more than 2 entries in one push",
        ),
    ];
    for (body, want) in cases {
        let err = decode_push_json(body, &limits).unwrap_err().to_string();
        assert!(err.contains(want), "{}: {err}", String::from_utf8_lossy(body));
    }
    let small = PushLimits { max_body_bytes: 4, ..PushLimits::default() };
    assert!(matches!(decode_push_json(b"{\"streams\":[]}", &small), Err(LokiError::BodyTooLarge { .. })));
}
