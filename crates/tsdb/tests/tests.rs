//! Integration tests of the tsdb crate.

mod block;
mod chunk;
mod db;
mod db_crash;
mod db_model;
mod index;
mod kill_loop;
mod wal;
