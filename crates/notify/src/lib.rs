//! Delivery of Alertmanager notifications to real services: the template data and default templates
//! (`data`, `templates`), an HTTP client over rustls (`http`), one module per service (`receivers/`), and the
//! [`Notifier`] that queues, retries, reports, counts and remembers (`deliver`, `history`). This is an edge
//! crate: the dispatcher in `vigil-alerting` decides what to send and when, this crate only sends it.

pub mod data;
pub mod deliver;
pub mod error;
pub mod history;
pub mod http;
pub mod receivers;
pub mod templates;
pub mod truncate;

pub use deliver::{Notifier, NotifierOptions, Outcome, OutcomeCount, Report, RequestCount};
pub use error::{SendError, SetupError};
pub use history::{AlertsSummary, HistoryEntry};
pub use receivers::{group_key_hash, Integration, SendContext};
pub use templates::Templates;
