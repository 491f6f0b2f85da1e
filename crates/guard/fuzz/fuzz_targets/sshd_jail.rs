//! Fuzz target: a sequence of lines (one per input line) through the aggressive sshd jail, with time
//! moving forward; checks that unbans come only at or after the deadline the jail announced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_guard::jail::{Jail, JailConfig};
use vigil_guard::parse::parse_line;
use vigil_guard::sshd_filter::Mode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut jail = match Jail::new(JailConfig { maxretry: 2, ..JailConfig::sshd(Mode::Aggressive) }) {
        Ok(j) => j,
        Err(_) => return,
    };
    for (now, line) in text.lines().enumerate() {
        let now = now as i64 * 37;
        if let Some(ev) = parse_line(line) {
            let _ = jail.observe(&ev, now);
        }
        let deadline = jail.next_deadline();
        let unbans = jail.run_due(now);
        assert!(unbans.is_empty() || deadline.is_some_and(|d| d <= now));
    }
});
