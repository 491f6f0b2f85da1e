//! Tests of remote_write decoding: golden bytes pin the field numbers, hostile bodies must fail cleanly.

use prost::Message as _;

use super::*;

fn label(name: &str, value: &str) -> Label {
    Label { name: name.into(), value: value.into() }
}

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| label(n, v)).collect(),
        samples: samples.iter().map(|&(timestamp, value)| Sample { value, timestamp }).collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

fn compress(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).unwrap()
}

/// `up{} 1 @1000` plus gauge metadata for `up` with help "h", written out byte by byte.
const GOLDEN: &[u8] = &[
    0x0a, 30, // WriteRequest.timeseries (1), 30 bytes
    0x0a, 14, // TimeSeries.labels (1), 14 bytes
    0x0a, 8, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', // Label.name (1)
    0x12, 2, b'u', b'p', // Label.value (2)
    0x12, 12, // TimeSeries.samples (2), 12 bytes
    0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // Sample.value (1), double 1.0
    0x10, 0xe8, 0x07, // Sample.timestamp (2), varint 1000
    0x1a, 9, // WriteRequest.metadata (3), 9 bytes
    0x08, 2, // MetricMetadata.type (1) = GAUGE
    0x12, 2, b'u', b'p', // MetricMetadata.metric_family_name (2)
    0x22, 1, b'h', // MetricMetadata.help (4)
];

fn golden_request() -> WriteRequest {
    WriteRequest {
        timeseries: vec![series(&[("__name__", "up")], &[(1000, 1.0)])],
        metadata: vec![MetricMetadata {
            r#type: MetricType::Gauge as i32,
            metric_family_name: "up".into(),
            help: "h".into(),
            unit: String::new(),
        }],
    }
}

#[test]
fn golden_bytes_pin_the_field_numbers() {
    assert_eq!(golden_request().encode_to_vec(), GOLDEN);
    let decoded = decode_write_request(&compress(GOLDEN), &DecodeLimits::default()).unwrap();
    assert_eq!(decoded, golden_request());
    assert_eq!(decoded.metadata[0].r#type(), MetricType::Gauge);
    assert_eq!(decoded.metadata[0].r#type().as_str(), "gauge");
}

#[test]
fn exemplar_histogram_and_unit_field_numbers() {
    let ts = TimeSeries {
        labels: vec![label("a", "")],
        samples: Vec::new(),
        exemplars: vec![Exemplar { labels: vec![label("t", "x")], value: 0.5, timestamp: 2 }],
        histograms: vec![Histogram { timestamp: 3 }],
    };
    let md = MetricMetadata { r#type: 1, metric_family_name: String::new(), help: String::new(), unit: "s".into() };
    let req = WriteRequest { timeseries: vec![ts], metadata: vec![md] };
    #[rustfmt::skip]
    let expected: &[u8] = &[
        0x0a, 30,
        0x0a, 3, 0x0a, 1, b'a', // an empty label value is omitted
        0x1a, 19, // TimeSeries.exemplars (3)
        0x0a, 6, 0x0a, 1, b't', 0x12, 1, b'x', // Exemplar.labels (1)
        0x11, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f, // Exemplar.value (2), double 0.5
        0x18, 2, // Exemplar.timestamp (3)
        0x22, 2, 0x78, 3, // TimeSeries.histograms (4); Histogram.timestamp is field 15
        0x1a, 5, 0x08, 1, 0x2a, 1, b's', // MetricMetadata.type (1) = COUNTER, unit (5)
    ];
    assert_eq!(req.encode_to_vec(), expected);
    let decoded = decode_write_request(&compress(expected), &DecodeLimits::default()).unwrap();
    assert_eq!(decoded, req);
    assert_eq!(decoded.metadata[0].r#type(), MetricType::Counter);
}

#[test]
fn round_trip_and_conversion() {
    let req = WriteRequest {
        timeseries: vec![
            series(&[("job", "node"), ("__name__", "node_load1"), ("empty", "")], &[(1, 0.5), (2, f64::INFINITY)]),
            series(&[("__name__", "up"), ("instance", "h:9100")], &[(3, 1.0)]),
        ],
        metadata: Vec::new(),
    };
    let body = encode_write_request(&req);
    let decoded = decode_write_request(&body, &DecodeLimits::default()).unwrap();
    assert_eq!(decoded, req);
    let out = to_series(&decoded).unwrap();
    assert_eq!(out, into_series(decoded).unwrap());
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].labels.to_string(), "node_load1{job=\"node\"}");
    assert_eq!(out[0].samples, vec![(1, 0.5), (2, f64::INFINITY)]);
    assert_eq!(out[1].labels.get("instance"), Some("h:9100"));
    assert_eq!((out[1].exemplars, out[1].histograms), (0, 0));
}

#[test]
fn native_histograms_are_counted_not_kept() {
    // A histogram with a count, schema and spans: everything but the timestamp is skipped.
    let hist: &[u8] = &[0x08, 5, 0x20, 0x06, 0x5a, 4, 0x08, 0, 0x10, 2, 0x78, 7];
    let mut ts_bytes = vec![0x0a, 6, 0x0a, 1, b'a', 0x12, 1, b'b'];
    ts_bytes.extend([0x22, hist.len() as u8]);
    ts_bytes.extend(hist);
    let mut raw = vec![0x0a, ts_bytes.len() as u8];
    raw.extend(ts_bytes);
    let req = decode_write_request(&compress(&raw), &DecodeLimits::default()).unwrap();
    assert_eq!(req.timeseries[0].histograms, vec![Histogram { timestamp: 7 }]);
    let err = to_series(&req).unwrap_err();
    assert!(err.to_string().contains("series 0"), "{err}");
}

#[test]
fn invalid_series_name_the_series_and_label() {
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("__name__", "ok"), ("bad-name", "x")], "series 1: invalid label name \"bad-name\""),
        (&[("__name__", "ok"), ("a", "1"), ("a", "2")], "series 1: label name \"a\" is not unique"),
        (&[("__name__", "ok"), ("a", ""), ("a", "2")], "series 1: label name \"a\" is not unique"),
        (&[("job", "x")], "series 1: missing or empty __name__ label"),
        (&[("__name__", "")], "series 1: missing or empty __name__ label"),
        (&[("__name__", "1up")], "series 1: invalid metric name \"1up\""),
    ];
    for (labels, want) in cases {
        let req = WriteRequest {
            timeseries: vec![series(&[("__name__", "fine")], &[]), series(labels, &[(1, 1.0)])],
            metadata: Vec::new(),
        };
        assert_eq!(to_series(&req).unwrap_err().to_string(), want);
    }
    let utf8 = WriteRequest { timeseries: vec![series(&[("__name__", "a"), ("é", "x")], &[])], metadata: vec![] };
    assert!(matches!(
        to_series(&utf8),
        Err(RemoteWriteError::InvalidSeries { index: 0, problem: SeriesProblem::InvalidLabelName(_) })
    ));
}

#[test]
fn label_and_metric_names_follow_the_legacy_charset_at_every_byte() {
    use super::series::{is_label_name, is_metric_name};
    let start = |c: char, colon: bool| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
    let rest = |c: char, colon: bool| start(c, colon) || c.is_ascii_digit();
    for b in 0..=255u8 {
        let c = char::from(b);
        for (name, first_ok, rest_ok) in [
            (format!("{c}"), start(c, false), true),
            (format!("a{c}"), true, rest(c, false)),
            (format!("a{c}b"), true, rest(c, false)),
        ] {
            assert_eq!(is_label_name(&name), first_ok && rest_ok, "{name:?}");
        }
        assert_eq!(is_metric_name(&format!("{c}")), start(c, true), "{c:?}");
        assert_eq!(is_metric_name(&format!("up_{c}")), rest(c, true), "{c:?}");
    }
    assert!(!is_label_name("") && !is_metric_name(""));
    assert!(is_label_name("__name__") && is_metric_name("job:up:sum_5m") && !is_label_name("job:up"));
}

#[test]
fn oversized_and_lying_bodies_are_rejected_before_allocating() {
    let limits = DecodeLimits { max_compressed_bytes: 100, ..DecodeLimits::default() };
    let err = decode_write_request(&[0u8; 101], &limits).unwrap_err();
    assert!(matches!(err, RemoteWriteError::BodyTooLarge { size: 101, limit: 100 }), "{err}");

    // Header claims 200 MiB.
    let lying = [0x80, 0x80, 0x80, 0x64, 0x00, 0x01, 0x02];
    let err = decode_write_request(&lying, &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, RemoteWriteError::DecompressedTooLarge { size: 209_715_200, .. }), "{err}");

    // Header claims 1 MiB from 7 bytes: under the cap, but snappy cannot expand that much.
    let lying = [0x80, 0x80, 0x40, 0x00, 0x01, 0x02, 0x03];
    let err = decode_write_request(&lying, &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, RemoteWriteError::ImplausibleLength { size: 1_048_576, compressed: 7 }), "{err}");
    assert!(err.to_string().contains("1048576"), "{err}");

    let err = decode_write_request(&[], &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, RemoteWriteError::Snappy(_)), "{err}");
}

#[test]
fn truncated_snappy_is_an_error() {
    let body = encode_write_request(&golden_request());
    for end in 0..body.len() {
        let err = decode_write_request(&body[..end], &DecodeLimits::default()).unwrap_err();
        let snappy = matches!(err, RemoteWriteError::Snappy(_) | RemoteWriteError::ImplausibleLength { .. });
        assert!(snappy, "prefix {end}: {err}");
    }
}

#[test]
fn garbage_protobuf_is_an_error() {
    for (raw, needle) in [
        (&[0xffu8; 12][..], "malformed protobuf at byte 0: varint overflows 64 bits"),
        (&[0x0a, 0x05, 0x01][..], "malformed protobuf at byte 2: field runs past the end"),
        (&[0x0a, 0x02, 0x0a, 0x09][..], "malformed protobuf at byte 4: field runs past the end"),
        (&[0x0b][..], "unsupported wire type"),
        (&[0x00, 0x01][..], "field number 0"),
        (&[0x80, 0x80, 0x80, 0x80, 0x10][..], "field key beyond 32 bits"),
        // Well-formed on the wire, but field 1 of a Label is a varint instead of a string.
        (&[0x0a, 0x04, 0x0a, 0x02, 0x08, 0x01][..], "byte 4: a label name or value is not a string"),
        // Label name that is not UTF-8.
        (&[0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0xff][..], "byte 4: a label name or value is not UTF-8"),
        // The same with a value, which is checked together with the name: a name cut short in a character, and
        // a value that is not UTF-8.
        (
            &[0x0a, 0x08, 0x0a, 0x06, 0x0a, 0x01, 0xc3, 0x12, 0x01, b'x'][..],
            "byte 4: a label name or value is not UTF-8",
        ),
        (
            &[0x0a, 0x08, 0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, 0xff][..],
            "byte 7: a label name or value is not UTF-8",
        ),
        // A sample whose value is a varint, and one whose timestamp is a double.
        (&[0x0a, 0x04, 0x12, 0x02, 0x08, 0x01][..], "byte 4: a sample value is not a double"),
        (&[0x0a, 0x0b, 0x12, 0x09, 0x11, 0, 0, 0, 0, 0, 0, 0, 0][..], "byte 4: a sample timestamp is not a varint"),
        // A series that is a varint instead of a message.
        (&[0x08, 0x01][..], "byte 0: a message field is not length-delimited"),
        // A 10-byte varint beyond 64 bits.
        (&[0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02][..], "byte 1: varint overflows 64 bits"),
        // Metadata that prost cannot decode: a string where the type enum belongs.
        (&[0x1a, 0x03, 0x0a, 0x01, b'x'][..], "invalid protobuf"),
    ] {
        let err = decode_write_request(&compress(raw), &DecodeLimits::default()).unwrap_err();
        assert!(err.to_string().contains(needle), "{raw:?}: {err}");
    }
}

#[test]
fn ten_thousand_labels_hit_the_per_series_limit() {
    let labels: Vec<(String, String)> = (0..10_000).map(|i| (format!("l{i}"), "v".to_string())).collect();
    let pairs: Vec<(&str, &str)> = labels.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let req = WriteRequest {
        timeseries: vec![series(&[("__name__", "a")], &[]), series(&pairs, &[(1, 1.0)])],
        metadata: vec![],
    };
    let err = decode_write_request(&encode_write_request(&req), &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, RemoteWriteError::TooManyLabels { series: 1, limit: 256 }), "{err}");
    assert_eq!(err.to_string(), "series 1: more than 256 labels");
}

#[test]
fn request_wide_limits() {
    let req = WriteRequest {
        timeseries: (0..10)
            .map(|i| series(&[("__name__", "a"), ("i", &i.to_string())], &[(1, 1.0), (2, 2.0)]))
            .collect(),
        metadata: vec![MetricMetadata::default(); 3],
    };
    let body = encode_write_request(&req);
    let base = DecodeLimits::default();
    for (limits, want) in [
        (DecodeLimits { max_series_per_request: 9, ..base.clone() }, "more than 9 series in one request"),
        (DecodeLimits { max_samples_per_request: 19, ..base.clone() }, "more than 19 samples in one request"),
        (DecodeLimits { max_labels_per_request: 19, ..base.clone() }, "more than 19 labels in one request"),
        (DecodeLimits { max_metadata_per_request: 2, ..base.clone() }, "more than 2 metadata entries"),
        (DecodeLimits { max_label_bytes: 3, ..base.clone() }, "series 0: a label name or value of 8 bytes"),
        (DecodeLimits { max_decompressed_bytes: 10, ..base.clone() }, "more than the limit of 10"),
    ] {
        let err = decode_write_request(&body, &limits).unwrap_err();
        assert!(err.to_string().contains(want), "{err}");
    }
    assert_eq!(decode_write_request(&body, &base).unwrap(), req);
}

#[test]
fn empty_label_bomb_is_bounded() {
    // 100k empty labels (two bytes each on the wire) spread over series of 250 labels each.
    let one_series: Vec<u8> = std::iter::repeat_n([0x0a, 0x00], 250).flatten().collect();
    let mut raw = Vec::new();
    for _ in 0..400 {
        raw.extend([0x0a, 0xf4, 0x03]); // 500 bytes
        raw.extend(&one_series);
    }
    let limits = DecodeLimits { max_labels_per_request: 50_000, ..DecodeLimits::default() };
    let err = decode_write_request(&compress(&raw), &limits).unwrap_err();
    assert!(matches!(err, RemoteWriteError::TooMany { what: "labels", limit: 50_000 }), "{err}");
}

/// xorshift64*, so the fuzz loop is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_and_mutated_bodies_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let valid = golden_request().encode_to_vec();
    let mut ok = 0;
    for round in 0..20_000 {
        let raw: Vec<u8> = if round % 2 == 0 {
            (0..rng.below(64)).map(|_| rng.next() as u8).collect()
        } else {
            let mut m = valid.clone();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(m.len());
                m[i] = rng.next() as u8;
            }
            m.truncate(m.len() - rng.below(4));
            m
        };
        // Random bytes straight into the snappy decoder, and random protobuf behind valid snappy.
        let _ = decode_write_request(&raw, &DecodeLimits::default());
        if let Ok(req) = decode_write_request(&compress(&raw), &DecodeLimits::default()) {
            ok += 1;
            let _ = to_series(&req);
        }
        // The view must agree with prost on what is acceptable, and never panic validating.
        if let Ok(mut view) = RequestView::parse(&raw, &DecodeLimits::default()) {
            assert!(WriteRequest::decode(raw.as_slice()).is_ok(), "{raw:?}");
            let _ = view.validate();
        }
    }
    // Some mutations only change values, so part of them must decode.
    assert!(ok > 100, "{ok}");
}

/// One series' labels and samples, owned.
type OwnedSeries = (Vec<(String, String)>, Vec<(i64, f64)>);

/// A request as the view sees it.
fn view_series(view: &RequestView<'_>) -> Vec<OwnedSeries> {
    view.series()
        .map(|s| {
            let labels = s.labels.iter().map(|&(n, v)| (n.to_string(), v.to_string())).collect();
            (labels, s.samples.to_vec())
        })
        .collect()
}

#[test]
fn the_view_agrees_with_the_owned_decoding() {
    let req = WriteRequest {
        timeseries: vec![
            series(&[("job", "node"), ("__name__", "node_load1"), ("empty", "")], &[(1, 0.5), (-2, f64::INFINITY)]),
            series(&[("__name__", "up"), ("instance", "h:9100")], &[(3, 1.0)]),
            series(&[("__name__", "no_samples")], &[]),
        ],
        metadata: golden_request().metadata,
    };
    let raw = req.encode_to_vec();
    let mut view = RequestView::parse(&raw, &DecodeLimits::default()).unwrap();
    assert_eq!((view.len(), view.sample_count(), view.metadata.clone()), (3, 3, req.metadata.clone()));
    view.validate().unwrap();
    let owned: Vec<_> = to_series(&req)
        .unwrap()
        .into_iter()
        .map(|s| (s.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect(), s.samples))
        .collect();
    assert_eq!(view_series(&view), owned);
    // Sorted, with the empty label dropped.
    assert_eq!(view.series().next().unwrap().labels, &[("__name__", "node_load1"), ("job", "node")]);
}

#[test]
fn the_view_counts_exemplars_and_histograms_and_checks_their_labels() {
    let ts = TimeSeries {
        labels: vec![label("__name__", "a")],
        samples: vec![Sample { value: 1.0, timestamp: 1 }],
        exemplars: vec![Exemplar { labels: vec![label("trace_id", "abc")], value: 0.5, timestamp: 2 }],
        histograms: vec![Histogram { timestamp: 3 }, Histogram { timestamp: 4 }],
    };
    let raw = WriteRequest { timeseries: vec![ts], metadata: vec![] }.encode_to_vec();
    let view = RequestView::parse(&raw, &DecodeLimits::default()).unwrap();
    assert_eq!((view.exemplars, view.histograms, view.sample_count()), (1, 2, 1));
    let limits = DecodeLimits { max_label_bytes: 2, ..DecodeLimits::default() };
    let err = RequestView::parse(&raw, &limits).unwrap_err();
    assert_eq!(err.to_string(), "series 0: a label name or value of 8 bytes, more than the limit of 2");
}

#[test]
fn the_view_validates_like_to_series() {
    let cases: [&[(&str, &str)]; 6] = [
        &[("__name__", "ok"), ("bad-name", "x")],
        &[("__name__", "ok"), ("a", "1"), ("a", "2")],
        &[("__name__", "ok"), ("a", ""), ("a", "2")],
        &[("job", "x")],
        &[("__name__", "")],
        &[("__name__", "1up")],
    ];
    for labels in cases {
        let req = WriteRequest {
            timeseries: vec![series(&[("__name__", "fine")], &[]), series(labels, &[(1, 1.0)])],
            metadata: Vec::new(),
        };
        let raw = req.encode_to_vec();
        let mut view = RequestView::parse(&raw, &DecodeLimits::default()).unwrap();
        assert_eq!(view.validate().unwrap_err().to_string(), to_series(&req).unwrap_err().to_string());
    }
}

#[test]
fn random_requests_read_the_same_through_the_view() {
    let mut rng = Rng(0xfeed_beef_0bad_cafe);
    let names = ["__name__", "job", "instance", "a", "zz", "_x"];
    for _ in 0..500 {
        let timeseries = (0..rng.below(6))
            .map(|_| {
                let mut labels: Vec<(String, String)> = vec![("__name__".into(), format!("m{}", rng.below(3)))];
                for _ in 0..rng.below(4) {
                    let name = names[1 + rng.below(names.len() - 1)];
                    if labels.iter().all(|(n, _)| n != name) {
                        labels.push((name.into(), ["", "v", "é", "long value"][rng.below(4)].into()));
                    }
                }
                if rng.below(2) == 0 {
                    labels.reverse();
                }
                let pairs: Vec<(&str, &str)> = labels.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                let samples: Vec<(i64, f64)> =
                    (0..rng.below(4)).map(|_| (rng.next() as i64, f64::from_bits(rng.next()))).collect();
                series(&pairs, &samples)
            })
            .collect();
        let req = WriteRequest { timeseries, metadata: vec![] };
        let raw = req.encode_to_vec();
        let mut view = RequestView::parse(&raw, &DecodeLimits::default()).unwrap();
        view.validate().unwrap();
        let owned: Vec<_> = to_series(&req)
            .unwrap()
            .into_iter()
            .map(|s| (s.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect::<Vec<_>>(), s.samples))
            .collect();
        let got = view_series(&view);
        assert_eq!(got.len(), owned.len());
        for (g, o) in got.iter().zip(&owned) {
            assert_eq!(g.0, o.0);
            let bits = |s: &[(i64, f64)]| s.iter().map(|&(t, v)| (t, v.to_bits())).collect::<Vec<_>>();
            assert_eq!(bits(&g.1), bits(&o.1));
        }
    }
}

#[test]
fn fields_in_any_order_read_like_the_usual_order() {
    // Label value before name, a 200-byte value (two-byte length), sample timestamp before value.
    let long = "v".repeat(200);
    let mut label = vec![0x12, 0xc8, 0x01];
    label.extend(long.as_bytes());
    label.extend([0x0a, 8]);
    label.extend(b"__name__");
    let sample: &[u8] = &[0x10, 0xe8, 0x07, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f];
    let mut series = vec![0x0a, 0xd5, 0x01];
    series.extend(&label);
    series.extend([0x12, sample.len() as u8]);
    series.extend(sample);
    let mut raw = vec![0x0a, series.len() as u8, 0x01];
    raw.extend(&series);
    let view = RequestView::parse(&raw, &DecodeLimits::default()).unwrap();
    let only = view.series().next().unwrap();
    assert_eq!(only.labels, &[("__name__", long.as_str())]);
    assert_eq!(only.samples, &[(1000, 1.0)]);
    assert_eq!(view_series(&view).len(), WriteRequest::decode(raw.as_slice()).unwrap().timeseries.len());
}
