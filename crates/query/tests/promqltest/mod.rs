//! A reader for Prometheus' promqltest script language (`load`, `clear`, `eval ...`) and result comparison.

pub mod compare;
pub mod script;
pub mod series;
