//! Fuzz target: any line through the access log parser and the nginx-scan jail's matcher; every string
//! the event holds must be a piece of the line, and addresses must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_guard::jail::{Jail, JailConfig};
use vigil_guard::parse::access::parse_line;

fn inside(line: &str, s: &str) -> bool {
    let (l, p) = (line.as_ptr() as usize, s.as_ptr() as usize);
    p >= l && p + s.len() <= l + line.len()
}

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let Some(ev) = parse_line(line) else { return };
    if let Some(ip) = ev.source_ip {
        assert_eq!(ev.source_address.and_then(vigil_guard::addr::parse_ip), Some(ip));
    }
    let http = ev.http.expect("an access event has its request");
    assert!((100..=999).contains(&http.status));
    for s in [
        ev.source_address,
        ev.user_name,
        http.method,
        http.path,
        http.query,
        http.version,
        http.referrer,
        http.user_agent,
    ]
    .into_iter()
    .flatten()
    {
        assert!(inside(line, s) || s == "/", "{s:?} is not from the line");
    }
    let _ = ev.ecs_fields();
    if let Ok(mut jail) = Jail::new(JailConfig { maxretry: 1, ..JailConfig::nginx_scan() }) {
        let _ = jail.observe(&ev, 0);
    }
});
