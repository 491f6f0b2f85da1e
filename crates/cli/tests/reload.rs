//! `vigil server --config` re-reads its file on SIGHUP and on `POST /-/reload`: a new rule file pattern takes
//! effect, a broken file answers 500 with `file:line:col` and the server keeps its configuration.

use std::process::Command;
use std::time::Duration;

use crate::support::{free_addr, http_get, vigil, wait_for, Proc};

const LIMIT: Duration = Duration::from_secs(30);

fn vigil_yml(rule_files: &str) -> String {
    format!("global:\n  evaluation_interval: 1s\nrule_files: {rule_files}\n")
}

fn record(name: &str) -> String {
    format!("groups:\n  - name: {name}\n    rules:\n      - record: {name}:one\n        expr: vector(1)\n")
}

/// Whether an instant query for `metric` has a result.
fn has_series(addr: &str, metric: &str) -> bool {
    http_get(&format!("http://{addr}/api/v1/query?query={metric}")).is_some_and(|body| !body.contains(r#""result":[]"#))
}

/// POSTs an empty body with curl; the status code and the body.
fn post(url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", "-X", "POST", "-w", "\n%{http_code}", url])
        .output()
        .expect("curl is installed");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_owned())
}

fn metric(addr: &str, name: &str) -> Option<f64> {
    let body = http_get(&format!("http://{addr}/metrics"))?;
    body.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn sighup_and_post_reload_re_read_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/a.yml"), record("first")).unwrap();
    std::fs::write(dir.path().join("rules/b.yml"), record("second")).unwrap();
    let file = dir.path().join("vigil.yml");
    std::fs::write(&file, vigil_yml("[rules/a.yml]")).unwrap();
    let addr = free_addr();
    let data = dir.path().join("data");
    let mut cmd = vigil();
    cmd.args(["server", "--config", file.to_str().unwrap(), "--listen", &addr, "--data", data.to_str().unwrap()]);
    let mut server = Proc::spawn("vigil server", cmd.env("VIGIL_LOG", "warn").stdout(std::process::Stdio::null()));
    wait_for("the first rule's series", LIMIT, || {
        server.assert_alive();
        has_series(&addr, "first:one").then_some(())
    });

    // SIGHUP: the new pattern (relative to the file's directory) names both files.
    std::fs::write(&file, vigil_yml("['rules/*.yml']")).unwrap();
    let pid = libc::pid_t::try_from(server.child.id()).unwrap();
    // SAFETY: kill(2) on the child this test started and still owns.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    wait_for("the second rule's series after SIGHUP", LIMIT, || {
        server.assert_alive();
        has_series(&addr, "second:one").then_some(())
    });
    assert_eq!(metric(&addr, "vigil_config_last_reload_successful"), Some(1.0));

    // A broken file: 500 with its position; the rules keep running.
    std::fs::write(&file, "global:\n  evaluation_interval: soon\n").unwrap();
    let (status, body) = post(&format!("http://{addr}/-/reload"));
    assert_eq!(status, 500, "{body}");
    let at = format!("failed to reload config: {}:2:24: ", file.display());
    assert!(body.starts_with(&at), "{body} does not start with {at}");
    assert_eq!(metric(&addr, "vigil_config_last_reload_successful"), Some(0.0));
    let rules = http_get(&format!("http://{addr}/api/v1/rules")).unwrap();
    assert!(rules.contains(r#""name":"first""#) && rules.contains(r#""name":"second""#), "{rules}");

    std::fs::write(&file, vigil_yml("[rules/b.yml]")).unwrap();
    assert_eq!(post(&format!("http://{addr}/-/reload")), (200, String::new()));
    assert_eq!(metric(&addr, "vigil_config_last_reload_successful"), Some(1.0));
    let rules = http_get(&format!("http://{addr}/api/v1/rules")).unwrap();
    assert!(!rules.contains(r#""name":"first""#) && rules.contains(r#""name":"second""#), "{rules}");
    server.assert_alive();
}
