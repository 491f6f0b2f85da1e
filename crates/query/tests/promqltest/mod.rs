//! A reader for Prometheus' promqltest script language (`load`, `clear`, `eval ...`) and result comparison.
//! Series lines use `vigil_query::series_notation`.

pub mod compare;
pub mod script;
