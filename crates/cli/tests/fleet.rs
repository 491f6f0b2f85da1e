//! Fleet-wide bans end to end: a real `vigil server` and a `vigil agent` in `mode: ban` with the `command`
//! firewall backend (a shell script appending `ban <ip> <timeout>` / `unban <ip>` to a file). `vigil bans add`
//! reaches the agent's firewall, `vigil bans remove` lifts it, and sshd failures on the agent become a ban in
//! the server's list with this host as origin and `jail=sshd`.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use crate::agent_logs::{start_agent, Scenario};
use crate::support::{free_addr, http_get, start_vigil_server, vigil, wait_for};

const LIMIT: Duration = Duration::from_secs(20);

fn bans_cli(args: &[&str]) {
    let out = vigil().arg("bans").args(args).output().unwrap();
    assert!(out.status.success(), "vigil bans {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn server_bans_reach_the_agent_firewall_and_agent_bans_reach_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server_addr = free_addr();
    let data = dir.path().join("server-data");
    let _server = start_vigil_server(&["--listen", &server_addr, "--data", data.to_str().unwrap()], &server_addr);

    let actions = dir.path().join("firewall.txt");
    let script = dir.path().join("fw.sh");
    std::fs::write(&script, format!("#!/bin/sh\necho \"$*\" >> '{}'\n", actions.display())).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let auth = dir.path().join("auth.log");
    std::fs::write(&auth, "").unwrap();
    let guard = format!(
        "  guard:\n    mode: ban\n    data_dir: {}\n    sources: [{{path: '{}'}}]\n    firewall:\n      backend: command\n      ban_command: ['{s}', ban, '<ip>', '<timeout>']\n      unban_command: ['{s}', unban, '<ip>']\n    fleet: {{url: 'http://{server_addr}', poll_interval: 1s}}\n",
        dir.path().join("guard").display(),
        auth.display(),
        s = script.display(),
    );
    let mut run = Scenario::start_with(dir.path(), &server_addr, &guard);
    let (mut agent, metrics) = start_agent(&run.config);
    let lines = || std::fs::read_to_string(&actions).unwrap_or_default();
    let url = format!("http://{server_addr}");

    bans_cli(&["add", "--url", &url, "192.0.2.9", "--duration", "1h"]);
    let line = wait_for("the fleet ban on the agent's firewall", LIMIT, || {
        agent.assert_alive();
        lines().lines().find(|l| l.starts_with("ban 192.0.2.9 ")).map(str::to_owned)
    });
    let timeout: u64 = line["ban 192.0.2.9 ".len()..].parse().unwrap();
    assert!((3590..=3601).contains(&timeout), "{line}");
    bans_cli(&["remove", "--url", &url, "192.0.2.9"]);
    wait_for("the unban", LIMIT, || lines().lines().any(|l| l == "unban 192.0.2.9").then_some(()));

    {
        let mut f = std::fs::OpenOptions::new().append(true).open(&auth).unwrap();
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        let t = vigil_model::time::format_rfc3339(now_ms as i64);
        for i in 0..5 {
            writeln!(
                f,
                "{t} web1 sshd[{}]: Failed password for root from 203.0.113.7 port {} ssh2",
                700 + i,
                50000 + i
            )
            .unwrap();
        }
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_owned();
    let ban = wait_for("the agent's ban in the server's list", LIMIT, || {
        let list: serde_json::Value = serde_json::from_str(&http_get(&format!("{url}/api/v1/bans"))?).ok()?;
        list["data"]["bans"].as_array()?.iter().find(|b| b["ip"] == "203.0.113.7").cloned()
    });
    assert_eq!((ban["jail"].as_str(), ban["origin"].as_str()), (Some("sshd"), Some(host.as_str())), "{ban}");
    assert!(lines().lines().any(|l| l.starts_with("ban 203.0.113.7 ")), "{}", lines());
    let text = wait_for("the reported ban applied back from the list", LIMIT, || {
        let text = http_get(&metrics)?;
        text.lines().any(|l| l == "vigil_guard_fleet_bans 1").then_some(text)
    });
    assert!(text.lines().any(|l| l == "vigil_guard_fleet_reports_total{result=\"ok\"} 1"), "{text}");
    run.finish();
    agent.child.kill().unwrap();
    agent.child.wait().unwrap();
}
