//! What `vigil up` ships when the config has no `agent.logs`: this host's logs, pushed to the server in the
//! same process over its own Loki push endpoint (so the outbox keeps them across a restart), which is also
//! where the guard's security events go.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use vigil_config::{Config, LogsConfig};

/// The `agent.logs` section `vigil up` uses by default: the journal when systemd's journal and `journalctl`
/// are there, otherwise the syslog files that exist. With `agent.paths.rootfs` set (a host's root mounted in a
/// container), the files under it: the container's own journal is not the host's.
pub fn default_logs(listen: SocketAddr, data_dir: &Path, rootfs: &Path) -> anyhow::Result<LogsConfig> {
    let sources = if rootfs == Path::new("/") && journal_available() {
        vec![r#"{"journald": {"labels": {"job": "systemd"}}}"#.to_string()]
    } else {
        syslog_files(rootfs)
            .into_iter()
            .map(|(path, job)| format!(r#"{{"files": [{}], "labels": {{"job": "{job}"}}}}"#, quoted(&path)))
            .collect()
    };
    // JSON is YAML, and quoting every value keeps any path or address one string.
    let text = format!(
        r#"{{"agent": {{"logs": {{"push_url": {}, "data_dir": {}, "sources": [{}]}}}}}}"#,
        quoted(&push_url(listen)),
        quoted(&data_dir.join("agent").to_string_lossy()),
        sources.join(", "),
    );
    let config = Config::parse(&text, "vigil up's default agent.logs").map_err(|e| anyhow::anyhow!("{e}"))?;
    config.agent.logs.ok_or_else(|| anyhow::anyhow!("vigil up's default agent.logs did not parse"))
}

/// The server's push endpoint as this process reaches it: loopback when it listens on every address.
fn push_url(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/loki/api/v1/push", SocketAddr::new(ip, listen.port()))
}

fn journal_available() -> bool {
    Path::new("/run/systemd/journal/socket").exists()
        && std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("journalctl").is_file()))
}

/// The system log files of Debian (`syslog`, `auth.log`) and Red Hat (`messages`, `secure`) that exist, with
/// their `job` label. Rotated copies are followed by the tailer once renamed, so only the live names are listed.
fn syslog_files(rootfs: &Path) -> Vec<(String, &'static str)> {
    [
        ("var/log/syslog", "syslog"),
        ("var/log/messages", "syslog"),
        ("var/log/auth.log", "auth"),
        ("var/log/secure", "auth"),
    ]
    .into_iter()
    .map(|(path, job)| (rootfs.join(path), job))
    .filter(|(path, _)| path.is_file())
    .map(|(path, job)| (path.to_string_lossy().into_owned(), job))
    .collect()
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_push_url_reaches_the_server_over_loopback() {
        assert_eq!(push_url("0.0.0.0:9090".parse().unwrap()), "http://127.0.0.1:9090/loki/api/v1/push");
        assert_eq!(push_url("[::]:9090".parse().unwrap()), "http://[::1]:9090/loki/api/v1/push");
        assert_eq!(push_url("192.0.2.1:80".parse().unwrap()), "http://192.0.2.1:80/loki/api/v1/push");
    }

    #[test]
    fn existing_syslog_files_become_sources_with_their_job() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("var/log")).unwrap();
        std::fs::write(root.path().join("var/log/syslog"), "").unwrap();
        std::fs::write(root.path().join("var/log/secure"), "").unwrap();
        let files = syslog_files(root.path());
        let names: Vec<(&str, &str)> =
            files.iter().map(|(p, j)| (p.strip_prefix(&*root.path().to_string_lossy()).unwrap(), *j)).collect();
        assert_eq!(names, [("/var/log/syslog", "syslog"), ("/var/log/secure", "auth")]);
    }

    #[test]
    fn odd_paths_stay_one_string() {
        let dir = Path::new("/tmp/a \"quoted\" dir: with, {braces}");
        let logs = default_logs("127.0.0.1:9090".parse().unwrap(), dir, Path::new("/nonexistent-root")).unwrap();
        assert_eq!(logs.data_dir(), "/tmp/a \"quoted\" dir: with, {braces}/agent");
        assert_eq!(logs.push_url.value, "http://127.0.0.1:9090/loki/api/v1/push");
    }
}
