//! vigil-guard's integration tests: one binary, one module per area.

mod access;
mod audit;
mod fail2ban_compat;
mod intel;
mod jail;
mod lines;
mod netns;
