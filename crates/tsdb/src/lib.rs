//! vigil's metric storage engine: series identified by sorted label sets, compressed chunks, a
//! checksummed write-ahead log. No network and no wire formats live here.

pub mod backend;
pub mod chunk;
pub mod index;
pub mod wal;
