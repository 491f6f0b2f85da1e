//! One fleet ban and its JSON shape in `GET /api/v1/bans`.

use std::net::IpAddr;

use vigil_model::time::format_rfc3339;

/// A ban in force on every agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ban {
    /// A single address; IPv4-mapped IPv6 addresses are stored as IPv4.
    pub ip: IpAddr,
    /// The jail that banned it first, or `manual`.
    pub jail: String,
    /// The agent's host name that reported it first, or `api`.
    pub origin: String,
    /// The latest non-empty reason given.
    pub reason: String,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// When the ban lifts (milliseconds since the epoch); `None` for never.
    pub expires_at_ms: Option<i64>,
    /// How many times it was reported (1 for a new ban).
    pub count: u32,
}

impl Ban {
    /// Whether the ban has lifted at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|t| t <= now_ms)
    }

    /// The JSON object served to agents and `vigil bans list`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ip": self.ip.to_string(),
            "jail": self.jail,
            "origin": self.origin,
            "reason": self.reason,
            "created_at": format_rfc3339(self.created_at_ms),
            "expires_at": self.expires_at_ms.map(format_rfc3339),
            "count": self.count,
        })
    }
}
