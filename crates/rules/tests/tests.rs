//! The single integration-test binary of vigil-rules.

mod support;

mod alerting;
mod conformance;
mod group;
mod recording;
mod unittest;
mod validate;
