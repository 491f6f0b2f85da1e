//! Integration tests of the agent's log sources and outbox, on real files in temporary directories.

mod journald;
mod multiline;
mod outbox;
mod protocol;
mod tail;
mod util;
