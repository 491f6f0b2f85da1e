//! The agent's log shipping: sources that never lose a line (file tailing, journald), multi-line grouping, the
//! positions file and the bounded on-disk outbox that holds batches until the server acknowledged them.
//!
//! The protocol that makes it lossless (details in `docs/format/outbox.md`): sources emit lines with their
//! [`Position`]; the agent gathers them into a [`Batch`] (`BatchBuilder`), appends it to the [`Outbox`] (fsynced),
//! then applies the batch's positions to the [`Positions`] file and commits it; a sender peeks the oldest batch,
//! pushes it and acks it after the server's 2xx. A SIGKILL anywhere re-reads or resends, never skips.

mod codec;
mod fsutil;
pub mod journald;
pub mod multiline;
pub mod outbox;
pub mod positions;
pub mod tail;

pub use journald::{Journal, JournalConfig, JournalError, JournalLine, JournalStats};
pub use multiline::{Multiline, MultilineConfig};
pub use outbox::{Batch, BatchBuilder, Outbox, OutboxConfig, OutboxError, OutboxStats};
pub use positions::{FileEntry, FileId, FilePosition, Fingerprint, Position, Positions, PositionsError};
pub use tail::{TailConfig, TailError, TailLine, TailStats, Tailer};
