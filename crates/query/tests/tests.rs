//! The single integration-test binary of vigil-query: the PromQL conformance suite and public-API tests.

mod api;
mod conformance;
mod promqltest;
