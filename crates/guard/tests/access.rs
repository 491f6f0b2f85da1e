//! Access log lines as nginx and Apache write them, and the nginx-scan jail over them: 404 floods, 401
//! guessing, probe paths, scanner user agents, and the requests it must leave alone.

use std::net::IpAddr;

use vigil_guard::event::ecs;
use vigil_guard::jail::{Jail, JailConfig, Matcher, Offender};
use vigil_guard::parse::access::parse_line;
use vigil_guard::{Action, Category, Outcome};

fn offender(s: &str) -> Offender {
    Offender::Ip(s.parse::<IpAddr>().unwrap())
}

fn line(ip: &str, request: &str, status: u16, agent: &str) -> String {
    format!(r#"{ip} - - [05/Mar/2024:10:01:02 +0100] "{request}" {status} 153 "-" "{agent}""#)
}

#[test]
fn nginx_and_apache_samples() {
    let samples = [
        // nginx's default combined format.
        (
            r#"93.184.216.34 - - [05/Mar/2024:10:01:02 +0000] "GET /index.html HTTP/1.1" 200 615 "https://www.example.com/" "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0""#,
            "93.184.216.34",
            Some("GET"),
            Some("/index.html"),
            200,
            Outcome::Success,
        ),
        // Apache, with a basic-auth user and a 401.
        (
            r#"2001:db8:85a3::8a2e:370:7334 - admin [05/Mar/2024:10:01:02 -0500] "POST /admin/login HTTP/1.1" 401 381 "-" "python-requests/2.31.0""#,
            "2001:db8:85a3::8a2e:370:7334",
            Some("POST"),
            Some("/admin/login"),
            401,
            Outcome::Failure,
        ),
        // A TLS handshake sent to port 80.
        (
            r#"45.148.10.5 - - [05/Mar/2024:10:01:02 +0000] "\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03" 400 157 "-" "-""#,
            "45.148.10.5",
            None,
            None,
            400,
            Outcome::Failure,
        ),
        // nginx's 444 (connection closed without answer) for an unknown host.
        (
            r#"198.51.100.77 - - [05/Mar/2024:10:01:02 +0000] "GET /.git/config HTTP/1.1" 444 0 "-" "Mozilla/5.0 zgrab/0.x""#,
            "198.51.100.77",
            Some("GET"),
            Some("/.git/config"),
            444,
            Outcome::Failure,
        ),
        // HTTP/2 and a 304.
        (
            r#"192.0.2.14 - - [05/Mar/2024:10:01:02 +0000] "GET /static/app.js?v=3 HTTP/2.0" 304 0 "https://example.com/" "Mozilla/5.0""#,
            "192.0.2.14",
            Some("GET"),
            Some("/static/app.js"),
            304,
            Outcome::Success,
        ),
        // A trailing `"$http_x_forwarded_for"` field.
        (
            r#"192.0.2.15 - - [05/Mar/2024:10:01:02 +0000] "HEAD / HTTP/1.0" 500 0 "-" "curl/8.5.0" "10.1.1.1""#,
            "192.0.2.15",
            Some("HEAD"),
            Some("/"),
            500,
            Outcome::Failure,
        ),
    ];
    for (l, ip, method, path, status, outcome) in samples {
        let e = parse_line(l).unwrap_or_else(|| panic!("{l}"));
        let h = e.http.unwrap();
        assert_eq!((e.category, e.action, e.outcome), (Category::Web, Action::HttpRequest, outcome), "{l}");
        assert_eq!((e.source_ip, h.method, h.path, h.status), (Some(ip.parse().unwrap()), method, path, status), "{l}");
    }
    let e = parse_line(samples[1].0).unwrap();
    let f = e.ecs_fields();
    for (k, v) in [
        (ecs::HTTP_REQUEST_METHOD, "POST"),
        (ecs::URL_PATH, "/admin/login"),
        (ecs::HTTP_RESPONSE_STATUS_CODE, "401"),
        (ecs::USER_AGENT_ORIGINAL, "python-requests/2.31.0"),
        (ecs::SOURCE_IP, "2001:db8:85a3::8a2e:370:7334"),
        (ecs::USER_NAME, "admin"),
        (ecs::EVENT_ACTION, "http-request"),
    ] {
        assert!(f.contains(&(k, v.to_string())), "{k} in {f:?}");
    }
    assert_eq!(e.timestamp.unwrap().unix_seconds(1970, 0), 1_709_632_862 + 5 * 3600);
}

fn feed(jail: &mut Jail, lines: &[String]) -> Vec<Offender> {
    let mut bans = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let e = parse_line(l).unwrap_or_else(|| panic!("{l}"));
        if let Some(ban) = jail.observe(&e, 1_000 + i as i64) {
            bans.push(ban.offender);
        }
    }
    bans
}

#[test]
fn nginx_scan_jail() {
    let config = JailConfig::nginx_scan();
    assert!(JailConfig::defaults().iter().any(|j| j.name == "nginx-scan"));
    let mut jail = Jail::new(config.clone()).unwrap();
    let mut lines = Vec::new();
    // A 404 flood, a probe of paths a catch-all route answers with 200, a scanner's user agent.
    for i in 0..10 {
        lines.push(line("203.0.113.1", &format!("GET /backup{i}.zip HTTP/1.1"), 404, "Mozilla/5.0"));
        lines.push(line(
            "203.0.113.2",
            ["GET /.ENV HTTP/1.1", "GET /api/.env HTTP/1.1", "POST /wp-login.php HTTP/1.1"][i % 3],
            200,
            "Mozilla/5.0",
        ));
        lines.push(line("203.0.113.3", "GET / HTTP/1.1", 200, "Mozilla/5.00 (Nikto/2.1.6)"));
        lines.push(line("2001:db8::4", "GET /protected/ HTTP/1.1", 401, "curl/8"));
        // Left alone: ordinary browsing with a few missing files, and loopback.
        lines.push(line(
            "192.0.2.50",
            if i % 4 == 0 { "GET /favicon.ico HTTP/1.1" } else { "GET /page HTTP/1.1" },
            if i % 4 == 0 { 404 } else { 200 },
            "Mozilla/5.0",
        ));
        lines.push(line("127.0.0.1", "GET /missing HTTP/1.1", 404, "check"));
    }
    let mut bans = feed(&mut jail, &lines);
    bans.sort();
    assert_eq!(
        bans,
        [offender("203.0.113.1"), offender("203.0.113.2"), offender("203.0.113.3"), offender("2001:db8::4")]
    );

    // Only what the matcher names counts: statuses alone.
    let mut jail = Jail::new(JailConfig {
        matcher: Matcher::HttpScan { statuses: vec![401], paths: vec![], agents: vec![] },
        maxretry: 2,
        ..config
    })
    .unwrap();
    let lines = [
        line("198.51.100.1", "GET /.env HTTP/1.1", 404, "sqlmap/1.7"),
        line("198.51.100.1", "GET /x HTTP/1.1", 401, "-"),
        line("198.51.100.1", "\\x16\\x03", 401, "-"),
    ];
    assert_eq!(feed(&mut jail, &lines), [offender("198.51.100.1")]);
    // Events other than access-log requests never count.
    let e = vigil_guard::parse::parse_line(
        "Mar  5 10:01:02 h sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2",
    )
    .unwrap();
    assert_eq!(jail.offender(&e, 0), None);
}

#[test]
fn http_scan_matcher_from_config() {
    let m: Matcher = serde_json::from_str(r#"{"http_scan": {"statuses": [404], "paths": ["/.git/"]}}"#).unwrap();
    assert_eq!(m, Matcher::HttpScan { statuses: vec![404], paths: vec!["/.git/".into()], agents: vec![] });
}
