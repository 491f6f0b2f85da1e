//! The single integration-test binary of vigil-rules.

mod support;

mod alerting;
mod conformance;
mod group;
mod packs;
mod recording;
mod unittest;
mod validate;
