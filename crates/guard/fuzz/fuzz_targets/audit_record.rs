//! Fuzz target: one input as audit record lines: every record's fields decoded within their cap, and the
//! lines read as one audit event, whose security event must respect the command line cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_guard::parse::audit::{decoded, fields, parse_record, AuditEvent, MAX_COMMAND_LINE_BYTES};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines: Vec<&str> = text.lines().take(64).collect();
    for line in &lines {
        let Some(r) = parse_record(line) else { continue };
        for body in [r.body, r.enriched] {
            for (_, v) in fields(body) {
                if let Some(s) = decoded(v, 64) {
                    assert!(s.len() <= 64);
                }
            }
        }
    }
    if let Some(a) = AuditEvent::from_records(&lines) {
        if let Some(e) = a.event() {
            assert!(e.command_line.is_none_or(|c| c.len() <= MAX_COMMAND_LINE_BYTES));
            let _ = e.ecs_fields();
        }
    }
});
