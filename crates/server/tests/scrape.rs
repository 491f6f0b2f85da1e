//! The server scrapes a real exporter on 127.0.0.1 from a config's `scrape_configs`, and the data is queryable.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use vigil_config::Config;

use crate::support::{wait_for, TestServer};

/// A tiny exporter on a std listener: answers every request with `body` in the text format.
fn exporter(body: &'static str) -> String {
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
