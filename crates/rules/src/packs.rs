//! Rule files vigil ships: `packs/security.yml`, the default security alerts on the guard's metrics, which
//! `vigil up` loads (its tests, in promtool's format, are `packs/security_test.yml`).

/// The text of `packs/security.yml`.
pub const SECURITY_RULES: &str = include_str!("../packs/security.yml");
/// The name `vigil up` writes it under (in `<data_dir>/rules/`).
pub const SECURITY_RULES_FILE: &str = "security.yml";
