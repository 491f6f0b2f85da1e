//! `kill -9` of `vigil server` right after remote_write or a Loki push answered 2xx loses nothing: every
//! acknowledged sample and log line is in the stores after a restart. `VIGIL_KILL_ITERATIONS` sets how many
//! kill/restart rounds run (default 8).

use std::collections::BTreeMap;

use vigil_model::Labels;
use vigil_proto::remote_write::{encode_write_request, Label, Sample, TimeSeries, WriteRequest};

use crate::support::{free_addr, http_post, start_vigil_server};

/// POSTs a remote_write body; returns the status code, or None if the connection failed.
fn post_write(addr: &str, body: &[u8]) -> Option<u16> {
    http_post(addr, "/api/v1/write", "Content-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\n", body)
}

/// How many kill/restart rounds a test runs: `VIGIL_KILL_ITERATIONS`, 8 by default.
fn kill_iterations() -> usize {
    std::env::var("VIGIL_KILL_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(8)
}

/// A small deterministic generator, so a failing round can be replayed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn acknowledged_remote_writes_survive_kill_9() {
    let iterations = kill_iterations();
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_string();
    let mut rng = SplitMix(42);
    let mut acknowledged: BTreeMap<Labels, BTreeMap<i64, f64>> = BTreeMap::new();
    let mut t = 1_700_000_000_000i64;
    for round in 0..iterations {
        let addr = free_addr();
        let mut server = start_vigil_server(&["--listen", &addr, "--data", &data_arg], &addr);
        let writes = 1 + rng.next() % 12;
        for _ in 0..writes {
            let mut timeseries = Vec::new();
            for s in 0..(1 + rng.next() % 50) {
                let pairs = [("__name__", "kill_test".to_string()), ("series", s.to_string())];
                let samples: Vec<Sample> =
                    (0..3).map(|i| Sample { value: (rng.next() % 1000) as f64, timestamp: t + i * 1000 }).collect();
                timeseries.push(TimeSeries {
                    labels: pairs.iter().map(|(n, v)| Label { name: n.to_string(), value: v.clone() }).collect(),
                    samples,
                    ..Default::default()
                });
            }
            t += 3000;
            let status = post_write(
                &addr,
                &encode_write_request(&WriteRequest { timeseries: timeseries.clone(), metadata: vec![] }),
            );
            assert_eq!(status, Some(204), "round {round}: remote_write was not acknowledged");
            for ts in timeseries {
                let labels = Labels::from_pairs(ts.labels.iter().map(|l| (l.name.clone(), l.value.clone()))).unwrap();
                let entry = acknowledged.entry(labels).or_default();
                entry.extend(ts.samples.iter().map(|s| (s.timestamp, s.value)));
            }
        }
        // SIGKILL right after the last acknowledgement: no shutdown, no flush.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    }
    let db = vigil_tsdb::Db::open(data.path().join("tsdb"), vigil_tsdb::DbOptions::default()).unwrap();
    let stored: BTreeMap<Labels, BTreeMap<i64, f64>> = db
        .querier(0, i64::MAX / 2)
        .select(&[])
        .unwrap()
        .map(|s| {
            let s = s.unwrap();
            (s.labels, s.samples.iter().map(|x| (x.t, x.v)).collect())
        })
        .collect();
    let total: usize = acknowledged.values().map(BTreeMap::len).sum();
    assert!(total > 0);
    for (labels, samples) in &acknowledged {
        let got = stored.get(labels).unwrap_or_else(|| panic!("series {labels} lost"));
        for (t, v) in samples {
            assert_eq!(got.get(t), Some(v), "sample {labels} @ {t} lost or changed");
        }
    }
}

#[test]
fn acknowledged_loki_pushes_survive_kill_9() {
    use vigil_model::log::{Direction, LogBatch, LogEntry};

    let iterations = kill_iterations();
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_string();
    let mut rng = SplitMix(7);
    // Every acknowledged line, by stream: (timestamp, line).
    let mut acknowledged: BTreeMap<Labels, Vec<(i64, String)>> = BTreeMap::new();
    let mut t = 1_700_000_000_000_000_000i64;
    let mut n = 0u64;
    for round in 0..iterations {
        let addr = free_addr();
        let mut server = start_vigil_server(&["--listen", &addr, "--data", &data_arg], &addr);
        for _ in 0..(1 + rng.next() % 10) {
            let mut streams = Vec::new();
            for s in 0..(1 + rng.next() % 5) {
                let labels = Labels::from_pairs([("job", "kill_test".to_string()), ("stream", s.to_string())]).unwrap();
                let entries: Vec<LogEntry> = (0..(1 + rng.next() % 200))
                    .map(|_| {
                        n += 1;
                        t += 1_000;
                        LogEntry { ts_ns: t, line: format!("line {n} user=u{} ok", rng.next() % 100), fields: vec![] }
                    })
                    .collect();
                streams.push((labels, entries));
            }
            let status = http_post(&addr, vigil_proto::loki::PUSH_PATH, "", &vigil_proto::loki::encode_push(&streams));
            assert_eq!(status, Some(204), "round {round}: the push was not acknowledged");
            for (labels, entries) in streams {
                acknowledged.entry(labels).or_default().extend(entries.into_iter().map(|e| (e.ts_ns, e.line)));
            }
        }
        // SIGKILL right after the last acknowledgement: no shutdown, no flush.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    }
    let store = vigil_logstore::LogStore::open(&data.path().join("logs"), vigil_logstore::Options::default()).unwrap();
    let total: usize = acknowledged.values().map(Vec::len).sum();
    assert!(total > 0);
    for (labels, lines) in &acknowledged {
        let id = store.stream_id(labels).unwrap_or_else(|| panic!("stream {labels} lost"));
        let mut reader = store.read(id, 0, i64::MAX, Direction::Forward, &[]).unwrap();
        let mut batch = LogBatch::default();
        let mut got = Vec::new();
        while reader.next_batch(&mut batch).unwrap() {
            got.extend((0..batch.len()).map(|i| (batch.ts[i], batch.line(i).to_string())));
        }
        assert_eq!(&got, lines, "stream {labels}: acknowledged lines lost, changed or doubled");
    }
}
