//! The single integration-test binary of vigil-logql: queries over a small in-memory store with hand-computed
//! expectations.

mod errors;
mod fixture;
mod logs;
mod metrics;
mod pipeline_only;
mod structured_metadata;
