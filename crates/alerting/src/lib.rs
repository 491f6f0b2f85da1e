//! Alertmanager 0.25-compatible alerting, as a library of pure logic: the `alertmanager.yml` schema, label
//! matchers, the routing tree, time intervals, inhibition, silences, the notification log and the dispatcher
//! that turns incoming alerts into notifications at the times Alertmanager would send them. No network, no
//! storage: state is plain data that serializes, and time is passed in.

pub mod alert;
pub mod config;
pub mod dispatch;
pub mod inhibit;
pub mod labels;
pub mod matchers;
pub mod nflog;
pub mod notification;
pub mod route;
pub mod silence;
pub mod time;
pub mod timeinterval;
pub mod tz;
pub mod webhook;

pub use alert::{Alert, AlertStatus, AlertStore, InvalidAlert, PostableAlert};
pub use config::{AlertmanagerConfig, ConfigError};
pub use dispatch::{AlertGroup, Dispatcher, DispatcherOptions, DispatcherState, Suppression};
pub use labels::{Fingerprint, LabelSet};
pub use matchers::{MatchOp, Matcher, MatcherError, Matchers};
pub use notification::{Notification, NotifiedAlert};
pub use route::{Route, RouteId, RouteOpts};
pub use silence::{PostableSilence, Silence, SilenceError, SilenceState, Silences};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
pub use timeinterval::TimeInterval;
pub use tz::Location;
