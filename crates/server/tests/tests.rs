//! Integration tests of the server: real sockets on 127.0.0.1, a real tsdb in a temporary directory.

mod alertmanager;
mod api;
mod bans;
mod loki;
mod notifications;
mod reload;
mod remote_write;
mod rules;
mod scrape;
mod support;
mod ui;
