//! Shared vocabulary of vigil: the types every other crate speaks. No I/O lives here.

pub mod labels;
pub mod log;
pub mod matcher;
pub mod metric;
pub mod time;

pub use labels::{Label, Labels, LabelsError, METRIC_NAME};
pub use log::{Direction, LogBatch, LogEntry};
pub use matcher::{MatchOp, Matcher, MatcherError};
pub use metric::{Desc, MetricKind, MetricSink};
