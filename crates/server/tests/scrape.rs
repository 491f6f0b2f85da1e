//! The server scrapes real exporters on 127.0.0.1 (plain and HTTPS) from a config's `scrape_configs`, and the data
//! and the targets' health are queryable.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use vigil_config::Config;

use crate::support::{wait_for, TestServer};

/// A tiny exporter on a std listener: answers every request with `body` in the text format.
pub fn exporter(body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    addr
}

/// The same over TLS with `cert` (rustls' blocking server, one thread per connection).
fn https_exporter(cert: &rcgen::CertifiedKey, body: &'static str) -> String {
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut buf = [0u8; 4096];
                // The handshake happens here; an untrusting client ends it with an alert.
                if tls.read(&mut buf).is_err() {
                    return;
                }
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes());
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    addr
}

#[test]
fn https_targets_are_scraped_with_the_configured_ca_and_failures_show_in_the_targets_api() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), cert.cert.pem()).unwrap();
    let target = https_exporter(&cert, "# TYPE secure_value gauge\nsecure_value 7\n");
    let job = |name: &str, extra: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n{extra}    static_configs:\n      - targets: ['{target}']\n"
        )
    };
    let path = dir.path().join("vigil.yml");
    let yaml =
        format!("scrape_configs:\n{}{}", job("trusted", "    tls_config: {ca_file: ca.pem}\n"), job("untrusted", ""));
    std::fs::write(&path, yaml).unwrap();
    let config = Config::load(&path).unwrap();
    let server = TestServer::start_with(|options| {
        options.global = config.global.clone();
        options.scrape_configs = config.scrape_configs.clone();
    });
    let value = wait_for("the sample scraped over HTTPS", Duration::from_secs(20), || {
        let json = server.get("/api/v1/query?query=secure_value").json();
        json["data"]["result"].as_array()?.first()?["value"][1].as_str().map(str::to_owned)
    });
    assert_eq!(value, "7");
    let url = format!("https://{target}/metrics");
    let untrusted = wait_for("the untrusted target to be down", Duration::from_secs(20), || {
        let targets = server.get("/api/v1/targets").json();
        let t = targets["data"]["activeTargets"].as_array()?.iter().find(|t| t["scrapePool"] == "untrusted")?.clone();
        (t["health"] == "down").then_some(t)
    });
    assert_eq!(untrusted["scrapeUrl"], url);
    assert_eq!(untrusted["lastError"], format!("Get {url:?}: x509: certificate signed by unknown authority"));
    // Health is recorded just before the scrape's samples are appended: wait for `up` too.
    wait_for("up 0 for the untrusted target", Duration::from_secs(20), || {
        let up = server.get("/api/v1/query?query=up%7Bjob%3D%22untrusted%22%7D").json();
        (up["data"]["result"][0]["value"][1] == "0").then_some(())
    });
}

#[test]
fn scrape_configs_feed_the_store_and_the_targets_api() {
    let target = exporter("# TYPE demo_temperature gauge\ndemo_temperature{room=\"lab\"} 21.5\n");
    let yaml = format!(
        "scrape_configs:\n  - job_name: demo\n    scrape_interval: 100ms\n    scrape_timeout: 90ms\n    static_configs:\n      - targets: ['{target}']\n"
    );
    let config = Config::parse(&yaml, "test.yml").unwrap();
    let server = TestServer::start_with(|options| {
        options.global = config.global.clone();
        options.scrape_configs = config.scrape_configs.clone();
    });
    let value = wait_for("the scraped sample to be queryable", Duration::from_secs(20), || {
        let r = server.get("/api/v1/query?query=demo_temperature");
        let json = r.json();
        let result = json["data"]["result"].as_array()?.first()?.clone();
        Some(result)
    });
    assert_eq!(
        value["metric"],
        serde_json::json!({"__name__":"demo_temperature","instance":target,"job":"demo","room":"lab"})
    );
    assert_eq!(value["value"][1], "21.5");
    assert_eq!(server.get("/api/v1/query?query=up").json()["data"]["result"][0]["value"][1], "1");
    let targets = server.get("/api/v1/targets").json();
    let active = &targets["data"]["activeTargets"][0];
    assert_eq!(active["scrapePool"], "demo");
    assert_eq!(active["health"], "up");
    assert_eq!(active["scrapeUrl"], format!("http://{target}/metrics"));
}
