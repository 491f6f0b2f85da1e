//! vigil's log storage engine, modelled on VictoriaLogs: streams identified by small label sets, a checksummed
//! write-ahead log with group commit, and per time partition immutable parts of zstd-compressed blocks, each
//! block one stream's records with a token bloom filter so that needle queries skip almost every block. No
//! network and no wire formats live here. [`LogStore`] is the entry point; the byte formats are documented in
//! `docs/format/logstore.md`.

mod bloom;
mod codec;
mod error;
mod fsutil;
mod hash;
mod head;
mod index;
mod options;
mod part;
mod store;
mod wal;

pub use error::{Error, Rejected, Rejection};
pub use options::Options;
pub use store::{AppendStats, LogStore, MaintainReport, Metrics, ReadStats, Reader, Stats, StreamInfo};
