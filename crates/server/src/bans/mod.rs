//! The fleet-wide ban list: bans reported by agents' jails or added through the API, kept durably in
//! `<data_dir>/bans.db`, expired on a timer, and served whole with a generation number so every agent can pull
//! it and block an attacker banned anywhere in the fleet. Protocol and layout: `docs/fleet-bans.md`.

mod ban;
pub mod client;
mod list;
mod metrics;
pub mod request;
pub mod store;

pub use ban::Ban;
pub use list::{BanError, BansOptions, FleetBans, NewBan};
pub use store::StoreError;
