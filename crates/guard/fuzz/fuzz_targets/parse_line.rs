//! Fuzz target: any line through the syslog splitter and every parser; addresses must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_guard::parse::{parse_line, parse_message};
use vigil_guard::Origin;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    if let Some(ev) = parse_line(line) {
        if let (Some(ip), Some(raw)) = (ev.source_ip, ev.source_address) {
            assert_eq!(vigil_guard::addr::parse_ip(raw), Some(ip));
        }
        let _ = ev.ecs_fields();
    }
    for program in ["sshd", "sshd-session", "sudo", "su", "useradd", "passwd", "CRON"] {
        let origin = Origin { process_name: Some(program), ..Origin::default() };
        let _ = parse_message(&origin, line);
    }
});
