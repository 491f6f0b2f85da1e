//! Threat-intel feeds in the guard: a FireHOL netset served over HTTP on 127.0.0.1 and a plain file feed are
//! matched against sshd events; a match is a record and a metric (and with `ban: true` a ban as jail `intel`,
//! never of an allow-listed address); a changed feed is picked up, a `304` keeps the data, a failing fetch
//! keeps the previous data, and after a restart with the server gone the disk copy still matches.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use support::*;
use vigil_agent::guard::{system_clock, FeedSettings, FeedSource, Guard, GuardMetrics, IntelSettings};
use vigil_guard::intel::FeedFormat;

/// What the feed server answers.
#[derive(Clone)]
struct Served {
    status: u16,
    body: String,
}

/// A feed on `/feed.netset`, with an `ETag` of its body honoured through `If-None-Match`.
struct FeedServer {
    rt: Option<tokio::runtime::Runtime>,
    served: Arc<Mutex<Served>>,
    addr: SocketAddr,
}

impl FeedServer {
    fn start(body: &str) -> FeedServer {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let served = Arc::new(Mutex::new(Served { status: 200, body: body.to_owned() }));
        let state = served.clone();
        let app = axum::Router::new().route(
            "/feed.netset",
            axum::routing::get(move |headers: HeaderMap| {
                let s = state.lock().unwrap().clone();
                async move { answer(s, &headers) }
            }),
        );
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move { axum::serve(listener, app).await });
        FeedServer { rt: Some(rt), served, addr }
    }

    fn set(&self, status: u16, body: &str) {
        *self.served.lock().unwrap() = Served { status, body: body.to_owned() };
    }

    fn stop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

fn answer(s: Served, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", s.body.len());
    if s.status != 200 {
        return StatusCode::from_u16(s.status).unwrap().into_response();
    }
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    ([(header::ETAG, etag)], s.body).into_response()
}

fn intel(feeds: Vec<FeedSettings>, ban: bool) -> IntelSettings {
    let mut ignoreip = loopback();
    ignoreip.push("192.0.2.128/25".parse().unwrap());
    IntelSettings {
        feeds,
        ban,
        bantime_s: 600,
        ignoreip,
        timeout: Duration::from_secs(2),
        retry: Duration::from_millis(100),
    }
}

fn url_feed(addr: SocketAddr) -> FeedSettings {
    FeedSettings {
        name: "fh".into(),
        source: FeedSource::Url(format!("http://{addr}/feed.netset")),
        format: FeedFormat::FireHol,
        refresh: Duration::from_millis(100),
    }
}

fn start(dir: &Path, i: IntelSettings, fw: &Recorder, logs: Option<vigil_agent::logs::LogAppender>) -> Guard {
    let s = vigil_agent::guard::GuardSettings { intel: Some(i), ..settings(dir) };
    Guard::start(s, Box::new(fw.clone()), logs, system_clock()).unwrap()
}

fn m(m: &GuardMetrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    metric(m, name, labels).unwrap_or_else(|| panic!("no {name}{labels:?}"))
}

/// Appends one failure of each address in turn and waits until `feed` counted `hits` more matches; lines are
/// processed in order, so a listed address last tells that the ones before it were checked.
fn expect_hits(dir: &Path, g: &GuardMetrics, feed: &str, addrs: &[&str], hits: f64) {
    let count = || m(g, "vigil_intel_hits_total", &[("feed", feed)]);
    let before = count();
    for a in addrs {
        fail(dir, a, 1);
    }
    wait_for(&format!("{hits} more matches of {addrs:?}"), LIMIT, || (count() >= before + hits).then_some(()));
    assert_eq!(count(), before + hits, "{addrs:?}");
}

const LIMIT: Duration = Duration::from_secs(10);

#[test]
fn url_feeds_match_refresh_and_survive_failures_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let logs_dir = dir.path().join("logs");
    let mut server = FeedServer::start("# firehol_level1\n#\n192.0.2.0/24\n");
    let fw = Recorder::default();
    let shipper = shipper(&logs_dir);
    let guard = start(dir.path(), intel(vec![url_feed(server.addr)], true), &fw, Some(shipper.appender()));
    let g = guard.metrics();
    let fh = [("feed", "fh")];
    wait_for("the feed", LIMIT, || (m(&g, "vigil_intel_entries", &fh) == 1.0).then_some(()));
    wait_for("a 304", LIMIT, || {
        (m(&g, "vigil_intel_fetch_total", &[("feed", "fh"), ("result", "unchanged")]) > 0.0).then_some(())
    });
    assert!(m(&g, "vigil_intel_last_success_timestamp_seconds", &fh) >= (now_s() - 60) as f64);

    expect_hits(dir.path(), &g, "fh", &["192.0.2.9"], 1.0);
    wait_for("the intel ban", LIMIT, || (fw.of(ip("192.0.2.9")) == [Call::Ban(ip("192.0.2.9"), 600)]).then_some(()));
    assert_eq!(m(&g, "vigil_jail_bans_total", &[("jail", "intel")]), 1.0);
    // The allow-list wins: one match (the second address), no ban of the first.
    expect_hits(dir.path(), &g, "fh", &["192.0.2.200", "192.0.2.11"], 1.0);
    assert!(fw.of(ip("192.0.2.200")).is_empty());

    // The feed changes: the new data replaces the old.
    server.set(200, "198.51.100.0/24\n");
    wait_for("the new data", LIMIT, || {
        (m(&g, "vigil_intel_fetch_total", &[("feed", "fh"), ("result", "ok")]) >= 2.0).then_some(())
    });
    // The old data is gone: only the second address matches.
    expect_hits(dir.path(), &g, "fh", &["192.0.2.10", "198.51.100.5"], 1.0);

    // A failing server keeps the previous data.
    server.set(500, "");
    wait_for("a failed fetch", LIMIT, || {
        (m(&g, "vigil_intel_fetch_total", &[("feed", "fh"), ("result", "error")]) > 0.0).then_some(())
    });
    expect_hits(dir.path(), &g, "fh", &["198.51.100.6"], 1.0);
    assert_eq!(m(&g, "vigil_intel_entries", &fh), 1.0);
    guard.shutdown();
    shipper.shutdown();

    // The server is gone: the disk copy matches from the start.
    server.stop();
    let fw = Recorder::default();
    let guard = start(dir.path(), intel(vec![url_feed(server.addr)], false), &fw, None);
    let g = guard.metrics();
    assert_eq!(m(&g, "vigil_intel_entries", &fh), 1.0);
    expect_hits(dir.path(), &g, "fh", &["198.51.100.7"], 1.0);
    assert!(fw.of(ip("198.51.100.7")).is_empty(), "ban: false only records");
    assert_eq!(
        fw.of(ip("192.0.2.9")),
        [Call::Unban(ip("192.0.2.9"))],
        "the intel jail's ban is lifted once the jail is gone"
    );
    guard.shutdown();

    let records = outbox_records(&logs_dir);
    let matches: Vec<_> =
        records.iter().filter(|(_, _, f)| field(f, "event.action") == Some("threat-intel-match")).collect();
    assert_eq!(matches.len(), 4, "{records:?}");
    let (labels, line, fields) = matches[0];
    assert_eq!((labels.get("job"), labels.get("source")), (Some("security"), Some("guard")));
    assert!(line.contains("Failed password for root from 192.0.2.9"), "{line}");
    assert_eq!(field(fields, "threat.indicator.ip"), Some("192.0.2.9"));
    assert_eq!(field(fields, "vigil.intel.feeds"), Some("fh"));
    assert_eq!(field(fields, "source.ip"), Some("192.0.2.9"));
    assert_eq!(field(fields, "vigil.intel.event.action"), Some("ssh-login"));
    let bans: Vec<_> = records.iter().filter(|(_, l, _)| l.starts_with("jail intel: ban 192.0.2.9")).collect();
    assert_eq!(bans.len(), 1, "{records:?}");
}

#[test]
fn file_feeds_are_read_and_reread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.txt");
    std::fs::write(&path, "203.0.113.0/24 # scanners\n").unwrap();
    let feed = FeedSettings {
        name: "local".into(),
        source: FeedSource::Path(path.clone()),
        format: FeedFormat::Auto,
        refresh: Duration::from_millis(50),
    };
    let fw = Recorder::default();
    let guard = start(dir.path(), intel(vec![feed], false), &fw, None);
    let g = guard.metrics();
    let local = [("feed", "local")];
    assert_eq!(m(&g, "vigil_intel_entries", &local), 1.0, "read at start");
    expect_hits(dir.path(), &g, "local", &["203.0.113.9"], 1.0);
    std::fs::write(&path, "203.0.113.0/24\n2001:db8::/32\n").unwrap();
    wait_for("the file read again", LIMIT, || (m(&g, "vigil_intel_entries", &local) == 2.0).then_some(()));
    std::fs::write(&path, "not an address\n").unwrap();
    wait_for("a failed read", LIMIT, || {
        (m(&g, "vigil_intel_fetch_total", &[("feed", "local"), ("result", "error")]) > 0.0).then_some(())
    });
    // A broken file keeps the previous data.
    expect_hits(dir.path(), &g, "local", &["203.0.113.10"], 1.0);
    assert_eq!(fw.calls(), [Call::Prepare]);
    guard.shutdown();
}
