//! The firewall as the guard uses it: every ban and unban goes through [`Holders`], so a jail's ban and the
//! fleet's ban of one address never undo each other; what the holders decide is carried out here.

use std::net::IpAddr;

use vigil_guard::firewall::{Firewall, FirewallError};

use super::holders::{Act, End, Holder, Holders};
use super::metrics::GuardMetrics;

/// The timeout given for a ban without end: longer than any backend keeps a timeout, so the entry has none.
pub(crate) const NEVER_TIMEOUT_S: u64 = 10 * 365 * 86_400;

pub(crate) struct HeldFirewall {
    firewall: Box<dyn Firewall>,
    holders: Holders,
}

impl HeldFirewall {
    pub fn new(firewall: Box<dyn Firewall>) -> HeldFirewall {
        HeldFirewall { firewall, holders: Holders::default() }
    }

    pub fn name(&self) -> &'static str {
        self.firewall.name()
    }

    pub fn prepare(&mut self) -> Result<(), FirewallError> {
        self.firewall.prepare()
    }

    /// `holder` bans `ip` until `end`; the firewall is told when that changes what it holds.
    pub fn hold(&mut self, ip: IpAddr, holder: Holder, end: End, now: i64, metrics: &GuardMetrics) {
        let act = self.holders.hold(ip, holder, end);
        self.act(ip, act, now, metrics);
    }

    /// `holder` lets go of `ip`; the firewall unbans it when nobody else holds it.
    pub fn release(&mut self, ip: IpAddr, holder: &Holder, now: i64, metrics: &GuardMetrics) {
        let act = self.holders.release(ip, holder);
        self.act(ip, act, now, metrics);
    }

    /// Lifts a ban this process never applied (one that ended while the agent was down), unless something
    /// holds the address now.
    pub fn release_stale(&mut self, ip: IpAddr, now: i64, metrics: &GuardMetrics) {
        if !self.holders.is_held(ip) {
            self.act(ip, Some(Act::Unban), now, metrics);
        }
    }

    pub fn is_held_by(&self, ip: IpAddr, holder: &Holder) -> bool {
        self.holders.is_held_by(ip, holder)
    }

    fn act(&mut self, ip: IpAddr, act: Option<Act>, now: i64, metrics: &GuardMetrics) {
        let result = match act {
            None => return,
            Some(Act::Ban(end)) => {
                let timeout = end.map_or(NEVER_TIMEOUT_S, |e| e.saturating_sub(now).max(1) as u64);
                self.firewall.ban(ip, timeout).map_err(|e| (e, "cannot ban"))
            }
            Some(Act::Unban) => self.firewall.unban(ip).map_err(|e| (e, "cannot unban")),
        };
        if let Err((err, what)) = result {
            metrics.firewall_error();
            tracing::error!(%err, %ip, backend = self.firewall.name(), "{what}");
        }
    }
}
