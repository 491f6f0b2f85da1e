//! Fuzz target: a stream of audit record lines through a correlator with small limits; its memory stays
//! within them and every event it completes is counted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_guard::parse::audit::{Correlator, Limits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = Limits { max_open: 3, max_records: 4, max_bytes: 512, max_idle_records: 5, max_age_ms: 1000 };
    let mut c = Correlator::new(limits);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        c.push(line, &mut out);
        assert!(c.open_events() <= limits.max_open);
        if i % 7 == 6 {
            c.expire(i as i64 * 1000, &mut out);
        }
    }
    c.flush(&mut out);
    assert_eq!(c.open_events(), 0);
    assert_eq!(c.stats().events, out.len() as u64);
    for a in &out {
        assert!(a.records.len() <= limits.max_records);
        assert!(a.records.len() == 1 || a.records.iter().map(String::len).sum::<usize>() <= limits.max_bytes);
        let _ = a.event().map(|e| e.ecs_fields());
    }
});
