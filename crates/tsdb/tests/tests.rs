//! Integration tests of the tsdb crate.

mod chunk;
mod index;
mod wal;
