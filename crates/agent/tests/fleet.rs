//! The fleet-wide ban list against the real server API (`vigil_server::api::bans` over HTTP on 127.0.0.1):
//! bans added on the server reach the firewall for their remaining time and are lifted when removed, the
//! agent's allow-list wins, a jail's ban is reported with this host as origin and is not echoed back, a
//! restart lifts what the server dropped meanwhile, a report waits in guard.db through a server outage, a
//! refused report (4xx) is dropped, and `report: false` reports nothing.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use support::*;
use vigil_agent::guard::{system_clock, FleetSettings, Guard, GuardMetrics, GuardSettings};
use vigil_server::bans::{BansOptions, FleetBans, NewBan};

/// The ban list API served on 127.0.0.1.
struct Server {
    rt: Option<tokio::runtime::Runtime>,
    bans: Arc<FleetBans>,
    addr: SocketAddr,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Server {
    fn start(dir: &Path, options: BansOptions, addr: Option<SocketAddr>) -> Server {
        std::fs::create_dir_all(dir).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let bans = Arc::new(FleetBans::open(dir, options).unwrap());
        let bind = addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap());
        let listener = rt.block_on(tokio::net::TcpListener::bind(bind)).unwrap();
        let addr = listener.local_addr().unwrap();
        let app = vigil_server::api::bans::router(bans.clone());
        rt.spawn(async move { axum::serve(listener, app).await });
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        rt.spawn(bans.clone().run(stop_rx));
        Server { rt: Some(rt), bans, addr, _stop: stop }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn add(&self, addr: &str, seconds: i64) {
        let new = NewBan {
            ip: ip(addr),
            duration_ms: Some(seconds * 1000),
            reason: "test".into(),
            jail: "manual".into(),
            origin: "api".into(),
        };
        self.bans.add(new, now_ms()).unwrap();
    }

    fn listed(&self, addr: &str) -> Option<vigil_server::bans::Ban> {
        self.bans.list().1.into_iter().find(|b| b.ip == ip(addr))
    }

    fn stop(mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

fn fleet(url: &str, allow: &[&str]) -> FleetSettings {
    let mut ignoreip = loopback();
    ignoreip.extend(allow.iter().map(|c| c.parse::<vigil_guard::cidr::Cidr>().unwrap()));
    FleetSettings {
        url: url.to_owned(),
        poll_interval: Duration::from_millis(50),
        report: true,
        ignoreip,
        timeout: Duration::from_secs(2),
        backoff_max: Duration::from_millis(200),
    }
}

fn with_fleet(dir: &Path, f: FleetSettings) -> GuardSettings {
    GuardSettings { fleet: Some(f), ..settings(dir) }
}

fn start(s: GuardSettings, fw: &Recorder) -> Guard {
    Guard::start(s, Box::new(fw.clone()), None, system_clock()).unwrap()
}

fn fleet_metric(m: &GuardMetrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    metric(m, name, labels).unwrap_or_else(|| panic!("no {name}{labels:?}"))
}

const LIMIT: Duration = Duration::from_secs(10);

#[test]
fn fleet_bans_are_applied_lifted_and_reported_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"), BansOptions::default(), None);
    let fw = Recorder::default();
    let guard = start(with_fleet(dir.path(), fleet(&server.url(), &["10.0.0.0/8"])), &fw);
    let m = guard.metrics();

    server.add("192.0.2.9", 3600);
    server.add("10.1.2.3", 3600);
    let timeout = wait_for("the fleet ban", LIMIT, || match fw.of(ip("192.0.2.9")).as_slice() {
        [Call::Ban(_, t)] => Some(*t),
        _ => None,
    });
    assert!((3595..=3601).contains(&timeout), "banned for the remaining time, got {timeout}");
    let generation = server.bans.generation();
    wait_for("the generation", LIMIT, || {
        (fleet_metric(&m, "vigil_guard_fleet_generation", &[]) == generation as f64).then_some(())
    });
    assert_eq!(fleet_metric(&m, "vigil_guard_fleet_bans", &[]), 1.0, "the allow-listed address is not applied");
    assert!(fw.of(ip("10.1.2.3")).is_empty(), "the agent's allow-list wins");
    wait_for("an unchanged poll", LIMIT, || {
        (fleet_metric(&m, "vigil_guard_fleet_polls_total", &[("result", "unchanged")]) > 0.0).then_some(())
    });

    server.bans.remove(ip("192.0.2.9"), now_ms()).unwrap();
    wait_for("the unban", LIMIT, || (fw.of(ip("192.0.2.9")).len() == 2).then_some(()));
    assert_eq!(fw.of(ip("192.0.2.9"))[1], Call::Unban(ip("192.0.2.9")));

    // A jail's ban: reported with this host as origin, then held by both the jail and the fleet list.
    fail(dir.path(), "203.0.113.7", 5);
    let listed = wait_for("the report", LIMIT, || server.listed("203.0.113.7"));
    assert_eq!((listed.jail.as_str(), listed.origin.as_str(), listed.count), ("sshd", "h1", 1));
    wait_for("the reported ban applied from the list", LIMIT, || {
        (fleet_metric(&m, "vigil_guard_fleet_bans", &[]) == 1.0).then_some(())
    });
    let unchanged = || fleet_metric(&m, "vigil_guard_fleet_polls_total", &[("result", "unchanged")]);
    let before = unchanged();
    wait_for("three more polls", LIMIT, || (unchanged() >= before + 3.0).then_some(()));
    assert_eq!(server.listed("203.0.113.7").unwrap().count, 1, "a fleet ban is never reported back");
    assert_eq!(fleet_metric(&m, "vigil_guard_fleet_reports_total", &[("result", "ok")]), 1.0);
    assert!(
        !fw.of(ip("203.0.113.7")).contains(&Call::Unban(ip("203.0.113.7"))),
        "the two holders never undo each other"
    );

    // The server lifts it: the jail still holds the address, so the firewall keeps it.
    server.bans.remove(ip("203.0.113.7"), now_ms()).unwrap();
    wait_for("the fleet list without it", LIMIT, || {
        (fleet_metric(&m, "vigil_guard_fleet_bans", &[]) == 0.0).then_some(())
    });
    assert!(!fw.of(ip("203.0.113.7")).contains(&Call::Unban(ip("203.0.113.7"))));
    guard.shutdown();
    server.stop();
}

#[test]
fn a_restart_lifts_what_the_server_dropped_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"), BansOptions::default(), None);
    server.add("192.0.2.9", 3600);
    server.add("192.0.2.10", 3600);
    let fw = Recorder::default();
    let guard = start(with_fleet(dir.path(), fleet(&server.url(), &[])), &fw);
    let m = guard.metrics();
    wait_for("both bans", LIMIT, || (fleet_metric(&m, "vigil_guard_fleet_bans", &[]) == 2.0).then_some(()));
    guard.shutdown();

    server.bans.remove(ip("192.0.2.9"), now_ms()).unwrap();
    let fw = Recorder::default();
    let guard = start(with_fleet(dir.path(), fleet(&server.url(), &[])), &fw);
    wait_for("the unban", LIMIT, || fw.of(ip("192.0.2.9")).contains(&Call::Unban(ip("192.0.2.9"))).then_some(()));
    assert!(matches!(fw.of(ip("192.0.2.10")).as_slice(), [Call::Ban(..)]), "{:?}", fw.calls());
    guard.shutdown();
    server.stop();
}

#[test]
fn reports_wait_in_the_database_through_an_outage_and_refused_ones_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on yet.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let fw = Recorder::default();
    let guard = start(with_fleet(dir.path(), fleet(&format!("http://{addr}"), &[])), &fw);
    let m = guard.metrics();
    fail(dir.path(), "203.0.113.7", 5);
    wait_for("a failed report", LIMIT, || {
        (fleet_metric(&m, "vigil_guard_fleet_reports_total", &[("result", "error")]) > 0.0).then_some(())
    });
    assert!(fleet_metric(&m, "vigil_guard_fleet_polls_total", &[("result", "error")]) > 0.0);
    assert!(matches!(fw.of(ip("203.0.113.7")).as_slice(), [Call::Ban(..)]), "local bans work without the server");
    guard.shutdown();

    // The server comes up (allow-listing a second address) and the agent restarts: the queued report is sent.
    let options = BansOptions { ignoreip: vec!["198.51.100.0/24".parse().unwrap()], ..BansOptions::default() };
    let server = Server::start(&dir.path().join("server"), options, Some(addr));
    let guard = start(with_fleet(dir.path(), fleet(&server.url(), &[])), &Recorder::default());
    let m = guard.metrics();
    let listed = wait_for("the queued report", LIMIT, || server.listed("203.0.113.7"));
    assert_eq!(listed.origin, "h1");
    fail(dir.path(), "198.51.100.7", 5);
    wait_for("the refused report", LIMIT, || {
        (fleet_metric(&m, "vigil_guard_fleet_reports_total", &[("result", "rejected")]) == 1.0).then_some(())
    });
    assert!(server.listed("198.51.100.7").is_none());
    guard.shutdown();
    server.stop();
}

#[test]
fn report_false_keeps_local_bans_local() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"), BansOptions::default(), None);
    let fw = Recorder::default();
    let guard = start(with_fleet(dir.path(), FleetSettings { report: false, ..fleet(&server.url(), &[]) }), &fw);
    let m = guard.metrics();
    fail(dir.path(), "203.0.113.7", 5);
    wait_for("the local ban", LIMIT, || (!fw.of(ip("203.0.113.7")).is_empty()).then_some(()));
    let unchanged = || fleet_metric(&m, "vigil_guard_fleet_polls_total", &[("result", "unchanged")]);
    let before = unchanged();
    wait_for("three more polls", LIMIT, || (unchanged() >= before + 3.0).then_some(()));
    assert!(server.listed("203.0.113.7").is_none());
    for result in ["ok", "rejected", "error"] {
        assert_eq!(fleet_metric(&m, "vigil_guard_fleet_reports_total", &[("result", result)]), 0.0);
    }
    guard.shutdown();
    server.stop();
}
