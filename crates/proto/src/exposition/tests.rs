//! Tests of format selection and the OpenMetrics parser on realistic and hostile expositions.

use vigil_model::MetricKind;

use super::*;

const NODE_TEXT: &str = r#"# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 2.3795873e+06
node_cpu_seconds_total{cpu="0",mode="user"} 34567.89
# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 4.2e+10 1700000000123
# HELP node_uname_info Labeled system information as provided by the uname system call.
# TYPE node_uname_info gauge
node_uname_info{machine="x86_64",nodename="host-1",release="6.1.0",sysname="Linux"} 1
# HELP http_request_duration_seconds A histogram.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1"} 3
http_request_duration_seconds_bucket{le="+Inf"} 4
http_request_duration_seconds_sum 0.7
http_request_duration_seconds_count 4
"#;

const NODE_OPENMETRICS: &str = r#"# HELP node_cpu_seconds Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds counter
# UNIT node_cpu_seconds seconds
node_cpu_seconds_total{cpu="0",mode="idle"} 2.3795873e+06
node_cpu_seconds_created{cpu="0",mode="idle"} 1.7e+09
node_cpu_seconds_total{cpu="0",mode="user"} 34567.89
# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
# TYPE node_filesystem_avail_bytes gauge
# UNIT node_filesystem_avail_bytes bytes
node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 4.2e+10 1700000000.123
# HELP node_uname Labeled system information as provided by the uname system call.
# TYPE node_uname info
node_uname_info{machine="x86_64",nodename="host-1",release="6.1.0",sysname="Linux"} 1
# HELP http_request_duration_seconds A histogram.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1"} 3 # {trace_id="abc"} 0.05 1700000000.5
http_request_duration_seconds_bucket{le="+Inf"} 4
http_request_duration_seconds_sum 0.7
http_request_duration_seconds_count 4
http_request_duration_seconds_created 1.7e+09
# EOF
"#;

/// Every sample as one line of text, sorted.
fn samples(fams: &[Family]) -> Vec<String> {
    let mut out: Vec<String> = fams
        .iter()
        .flat_map(|f| &f.samples)
        .map(|s| format!("{} {:?} {:?} {:?}", s.name, s.labels, s.value, s.timestamp_ms))
        .collect();
    out.sort();
    out
}

#[test]
fn node_exporter_text_and_openmetrics_yield_the_same_samples() {
    let text = parse_with(NODE_TEXT, Format::PrometheusText).unwrap();
    assert_eq!(text, parse(NODE_TEXT).unwrap());
    let om = parse_with(NODE_OPENMETRICS, Format::OpenMetrics).unwrap();
    // OpenMetrics adds the `_created` series, which Prometheus 2.42 stores like any other.
    let mut om_samples = samples(&om);
    om_samples.retain(|s| !s.split(' ').next().unwrap().ends_with("_created"));
    assert_eq!(samples(&text), om_samples);

    let names: Vec<&str> = om.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["node_cpu_seconds", "node_filesystem_avail_bytes", "node_uname", "http_request_duration_seconds"]
    );
    assert_eq!(om[0].kind, Some(MetricKind::Counter));
    assert_eq!(om[0].unit.as_deref(), Some("seconds"));
    assert_eq!(om[0].samples.len(), 3, "the _created sample is kept");
    assert_eq!(om[0].samples[1].name, "node_cpu_seconds_created");
    assert_eq!(om[1].samples[0].timestamp_ms, Some(1_700_000_000_123));
    assert_eq!(om[2].type_word.as_deref(), Some("info"));
    assert_eq!(om[3].samples.len(), 5);
    assert!(text.iter().all(|f| f.unit.is_none()));
}

#[test]
fn openmetrics_spec_examples() {
    let summary = r#"# TYPE acme_http_router_request_seconds summary
# UNIT acme_http_router_request_seconds seconds
# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32
acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0
acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0
acme_http_router_request_seconds_sum{path="/api/v2",method="POST"} 479.3
acme_http_router_request_seconds_count{path="/api/v2",method="POST"} 34.0
acme_http_router_request_seconds_created{path="/api/v2",method="POST"} 1605281325.0
# TYPE go_goroutines gauge
# HELP go_goroutines Number of goroutines that currently exist.
go_goroutines 69
# TYPE process_cpu_seconds counter
# UNIT process_cpu_seconds seconds
# HELP process_cpu_seconds Total user and system CPU time spent in seconds.
process_cpu_seconds_total 4.20072246e+06
# EOF
"#;
    let fams = parse_with(summary, Format::OpenMetrics).unwrap();
    let shape: Vec<(&str, usize)> = fams.iter().map(|f| (f.name.as_str(), f.samples.len())).collect();
    assert_eq!(shape, [("acme_http_router_request_seconds", 6), ("go_goroutines", 1), ("process_cpu_seconds", 1)]);
    assert_eq!(fams[0].samples[0].label("method"), Some("GET"));
    assert_eq!(fams[0].help.as_deref(), Some("Latency though all of ACME's HTTP request router."));

    let exemplars = r#"# TYPE foo histogram
foo_bucket{le="0.01"} 0
foo_bucket{le="0.1"} 8 # {} 0.054
foo_bucket{le="1"} 11 # {trace_id="KOO5S4vxi0o"} 0.67
foo_bucket{le="10"} 17 # {trace_id="oHg5SJYRHA0"} 9.8 1520879607.789
foo_bucket{le="+Inf"} 17
foo_count 17
foo_sum 324789.3
foo_created 1520430000.123
# TYPE bar counter
bar_total 17.0 1520879607.789 # {trace_id="KOO5S4vxi0o"} 0.67
bar_created 1520430000.123
# TYPE baz stateset
baz{entity="controller",baz="a"} 1.0
baz{entity="controller",baz="bb"} 0.0
# TYPE qux info
qux_info{entity="replica",name="prettier name",version="8.1.9"} 1
# TYPE gh gaugehistogram
gh_bucket{le="0.01"} 20.0
gh_bucket{le="+Inf"} 42.0
gh_gcount 42.0
gh_gsum 3289.3
# TYPE mystery unknown
mystery 1
# EOF"#;
    let fams = parse_with(exemplars, Format::OpenMetrics).unwrap();
    let shape: Vec<(&str, usize)> = fams.iter().map(|f| (f.name.as_str(), f.samples.len())).collect();
    assert_eq!(shape, [("foo", 8), ("bar", 2), ("baz", 2), ("qux", 1), ("gh", 4), ("mystery", 1)]);
    assert_eq!(fams[0].samples[3].value, 17.0);
    assert_eq!(fams[1].samples[0].timestamp_ms, Some(1_520_879_607_789));
    assert_eq!(fams[5].kind, Some(MetricKind::Untyped));
}

#[test]
fn openmetrics_escapes_and_lenient_layout() {
    let text = "# HELP a Quote \\\" back\\\\slash\\nnewline \\t.\n\
                a{x=\"q\\\"u\\\\o\\nte\",y=\"é\",} 1\n\
                b 2\n\
                a{x=\"again\"} 3\n\
                # EOF";
    let fams = parse_with(text, Format::OpenMetrics).unwrap();
    assert_eq!(fams[0].help.as_deref(), Some("Quote \" back\\slash\nnewline \\t."));
    assert_eq!(fams[0].samples[0].labels, vec![("x".into(), "q\"u\\o\nte".into()), ("y".into(), "é".into())]);
    // Interleaved families are accepted, as by Prometheus.
    assert_eq!(fams[0].samples.len(), 2);
    assert_eq!(fams[1].name, "b");
    // A gauge whose own name ends in _created is kept.
    let fams = parse_with("# TYPE x_created gauge\nx_created 5\n# EOF\n", Format::OpenMetrics).unwrap();
    assert_eq!(fams[0].samples.len(), 1);
}

#[test]
fn openmetrics_errors_name_the_line() {
    for (text, line, needle) in [
        ("a 1\n", 2, "missing # EOF"),
        ("a 1", 1, "missing # EOF"),
        ("", 1, "missing # EOF"),
        ("# EOF\na 1\n", 2, "after # EOF"),
        ("# EOF\n\n", 2, "after # EOF"),
        ("a 1\n\nb 2\n# EOF\n", 2, "empty line"),
        ("# some comment\n# EOF\n", 1, "unexpected comment"),
        ("#TYPE a gauge\n# EOF\n", 1, "space after '#'"),
        ("# TYPE a untyped\n# EOF\n", 1, "unknown metric type \"untyped\""),
        ("# UNIT a_bytes seconds\n# EOF\n", 1, "not a suffix"),
        ("# UNIT abytes bytes\n# EOF\n", 1, "not a suffix"),
        ("a  1\n# EOF\n", 1, "invalid value \"\""),
        ("a 1 12x\n# EOF\n", 1, "invalid timestamp \"12x\""),
        ("a 1 NaN\n# EOF\n", 1, "invalid timestamp"),
        ("a 1 1e300\n# EOF\n", 1, "invalid timestamp"),
        ("a 1 2 3\n# EOF\n", 1, "unexpected \"3\""),
        ("a{b=\"c\" } 1\n# EOF\n", 1, "expected ','"),
        ("a{ b=\"c\"} 1\n# EOF\n", 1, "invalid label name \" b\""),
        ("a{b=\"1\",b=\"2\"} 1\n# EOF\n", 1, "duplicate label b"),
        ("a{b=\"x} 1\n# EOF\n", 1, "unterminated"),
        ("a 1 # {x=\"y\"}\n# EOF\n", 1, "expected a value in the exemplar"),
        ("a 1 # {x=\"y\"} z\n# EOF\n", 1, "invalid exemplar value"),
        ("a 1 # {x=\"y\"} 1 2 3\n# EOF\n", 1, "after the exemplar"),
        ("a 1 # x\n# EOF\n", 1, "unexpected \"# x\""),
        ("ok 1\n1a 1\n# EOF\n", 2, "invalid metric name \"1a\""),
        ("a 1\r\n# EOF\n", 1, "invalid value \"1\\r\""),
    ] {
        let e = parse_with(text, Format::OpenMetrics).unwrap_err();
        assert_eq!(e.line, line, "{text:?}: {e}");
        assert!(e.msg.contains(needle), "{text:?}: {e}");
        assert!(e.to_string().starts_with(&format!("line {line}: ")), "{e}");
    }
}

#[test]
fn openmetrics_caps_line_length_and_labels() {
    let long = format!("a{{b=\"{}\"}} 1\n# EOF\n", "x".repeat(MAX_LINE_LEN));
    assert!(parse_with(&long, Format::OpenMetrics).unwrap_err().msg.contains("too long"));
    let many: Vec<String> = (0..300).map(|i| format!("l{i}=\"v\"")).collect();
    let text = format!("a{{{}}} 1\n# EOF\n", many.join(","));
    assert!(parse_with(&text, Format::OpenMetrics).unwrap_err().msg.contains("more than 256 labels"));
}

#[test]
fn openmetrics_never_panics_on_truncations_or_noise() {
    for end in 0..=NODE_OPENMETRICS.len() {
        if NODE_OPENMETRICS.is_char_boundary(end) {
            let r = parse_with(&NODE_OPENMETRICS[..end], Format::OpenMetrics);
            // Only cuts that keep `# EOF` whole are complete expositions.
            assert_eq!(r.is_ok(), end + 1 >= NODE_OPENMETRICS.len(), "cut at {end}");
        }
    }
    let alphabet = ['a', '_', '{', '}', '"', '\\', '=', ',', ' ', '#', '\n', '1', '.', 'e', 'é', 'E', 'O', 'F'];
    let mut state = 0x1234_5678_9abc_def1_u64;
    for _ in 0..5_000 {
        let mut s = String::new();
        for _ in 0..(state % 48) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            s.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        let _ = parse_with(&s, Format::OpenMetrics);
        let _ = parse_with(&s, Format::PrometheusText);
    }
}
