//! Integration tests of vigil-notify against local servers: HTTP services on 127.0.0.1, a TLS server with a
//! generated certificate, and a real SMTP server (Python's aiosmtpd).

mod delivery;
mod email;
mod https;
mod jira;
mod services;
mod support;
