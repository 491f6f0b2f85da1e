//! Integration tests of vigil-alerting, one module per area; `support` drives the dispatcher on a manual clock.

mod acceptance;
mod config;
mod inhibit_silence;
mod matchers;
mod routing;
mod support;
mod time_intervals;
mod timeline;
mod webhook;
