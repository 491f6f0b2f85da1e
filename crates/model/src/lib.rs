//! Shared vocabulary of vigil: the types every other crate speaks. No I/O lives here.

pub mod metric;

pub use metric::{Desc, MetricKind, MetricSink};
