//! Silences: the data model, which alerts they mute, and how the v2 API creates, updates and expires them
//! (an update that would rewrite history, such as new matchers on an active silence, expires the silence
//! and creates a new one). Expired silences are kept for the retention period, then collected.

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::labels::{is_valid_label_name, LabelSet};
use crate::matchers::{MatchOp, Matcher};
use crate::time::Timestamp;

/// How long expired silences are kept (Alertmanager's `--data.retention`).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(120 * 3600);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: String,
    pub comment: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

impl SilenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

impl Silence {
    /// Pending before its start, expired after its end, active from start to end inclusive (Alertmanager's
    /// `getState`, which decides muting).
    pub fn state(&self, now: Timestamp) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now > self.ends_at {
            SilenceState::Expired
        } else {
            SilenceState::Active
        }
    }

    /// Whether every matcher accepts the label set.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matchers.iter().all(|m| m.matches(labels))
    }

    /// `validateSilence`.
    fn validate(&self) -> Result<(), SilenceError> {
        let invalid = |m: String| Err(SilenceError::Invalid(m));
        if self.matchers.is_empty() {
            return invalid("at least one matcher required".into());
        }
        for (i, m) in self.matchers.iter().enumerate() {
            if !is_valid_label_name(m.name()) {
                return invalid(format!("invalid label matcher {i}: invalid label name {:?}", m.name()));
            }
        }
        let matches_empty = |m: &Matcher| match m.op() {
            MatchOp::Equal | MatchOp::Regex => m.matches_value(""),
            MatchOp::NotEqual | MatchOp::NotRegex => false,
        };
        if self.matchers.iter().all(matches_empty) {
            return invalid("at least one matcher must not match the empty string".into());
        }
        if self.ends_at < self.starts_at {
            return invalid("end time must not be before start time".into());
        }
        Ok(())
    }
}

/// A silence as posted to `/api/v2/silences`; an `id` updates (or replaces) that silence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostableSilence {
    #[serde(default)]
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    #[error("silence not found")]
    NotFound,
    #[error("silence {0} already expired")]
    AlreadyExpired(String),
    /// Refused by the API's own checks or by silence validation; 400 in the API.
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Stored {
    silence: Silence,
    /// When the silence may be forgotten: its end plus the retention.
    expires_at: Timestamp,
}

/// Makes silence ids: UUIDv4-shaped strings by default.
pub type IdSource = Box<dyn FnMut() -> String + Send>;

fn random_uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded per process from the OS; hashing a counter with it gives distinct random bits
    // without a dependency on a random number crate.
    let word = || {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_i64(Timestamp::now().as_nanos());
        h.finish()
    };
    let (hi, lo) = (word(), word());
    let hi = (hi & !0xf000) | 0x4000; // version 4
    let lo = (lo & !(0xc000 << 48)) | (0x8000 << 48); // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// All silences, with Alertmanager's update rules.
pub struct Silences {
    silences: BTreeMap<String, Stored>,
    retention: Duration,
    ids: IdSource,
}

impl std::fmt::Debug for Silences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Silences").field("silences", &self.silences).field("retention", &self.retention).finish()
    }
}

impl Default for Silences {
    fn default() -> Silences {
        Silences::new(DEFAULT_RETENTION)
    }
}

/// What survives a restart: every silence and when it may be forgotten.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SilencesSnapshot(Vec<Stored>);

impl Silences {
    pub fn new(retention: Duration) -> Silences {
        Silences { silences: BTreeMap::new(), retention, ids: Box::new(random_uuid) }
    }

    /// Replaces how new ids are made, for deterministic tests.
    pub fn with_ids(mut self, ids: IdSource) -> Silences {
        self.ids = ids;
        self
    }

    pub fn snapshot(&self) -> SilencesSnapshot {
        SilencesSnapshot(self.silences.values().cloned().collect())
    }

    pub fn restore(&mut self, snapshot: SilencesSnapshot) {
        self.silences = snapshot.0.into_iter().map(|s| (s.silence.id.clone(), s)).collect();
    }

    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.silences.get(id).map(|s| &s.silence)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Silence> {
        self.silences.values().map(|s| &s.silence)
    }

    /// The ids of active silences muting `labels`, sorted.
    pub fn mutes(&self, labels: &LabelSet, now: Timestamp) -> Vec<String> {
        self.iter()
            .filter(|s| s.state(now) == SilenceState::Active && s.matches(labels))
            .map(|s| s.id.clone())
            .collect()
    }

    /// `POST /api/v2/silences`: checks the times as the API does, then creates or updates. Returns the id of
    /// the silence now in force, which is new unless the update could be made in place.
    pub fn post(&mut self, p: PostableSilence, now: Timestamp) -> Result<String, SilenceError> {
        if p.starts_at >= p.ends_at {
            return Err(SilenceError::Invalid("Failed to create silence: start time must be before end time".into()));
        }
        if p.ends_at < now {
            return Err(SilenceError::Invalid("Failed to create silence: end time can't be in the past".into()));
        }
        let sil = Silence {
            id: p.id,
            matchers: p.matchers,
            starts_at: p.starts_at,
            ends_at: p.ends_at,
            updated_at: now,
            created_by: p.created_by,
            comment: p.comment,
        };
        self.set(sil, now)
    }

    /// Alertmanager's `Silences.Set`: updates in place when that leaves history intact, otherwise expires the
    /// old silence (unless already expired) and creates a new one, never starting in the past.
    pub fn set(&mut self, mut sil: Silence, now: Timestamp) -> Result<String, SilenceError> {
        let prev = if sil.id.is_empty() {
            None
        } else {
            Some(self.silences.get(&sil.id).map(|s| s.silence.clone()).ok_or(SilenceError::NotFound)?)
        };
        sil.updated_at = now;
        if let Some(prev) = &prev {
            if can_update(prev, &sil, now) {
                sil.validate().map_err(wrap_invalid)?;
                let id = sil.id.clone();
                self.store(sil);
                return Ok(id);
            }
        }
        if sil.starts_at < now {
            sil.starts_at = now;
        }
        sil.validate().map_err(wrap_invalid)?;
        if let Some(prev) = prev {
            if prev.state(now) != SilenceState::Expired {
                self.expire(&prev.id, now)?;
            }
        }
        sil.id = (self.ids)();
        let id = sil.id.clone();
        self.store(sil);
        Ok(id)
    }

    /// `DELETE /api/v2/silence/{id}`: ends an active silence now; a pending one starts and ends now.
    pub fn expire(&mut self, id: &str, now: Timestamp) -> Result<(), SilenceError> {
        let mut sil = self.get(id).cloned().ok_or(SilenceError::NotFound)?;
        match sil.state(now) {
            SilenceState::Expired => return Err(SilenceError::AlreadyExpired(id.to_owned())),
            SilenceState::Active => sil.ends_at = now,
            SilenceState::Pending => {
                sil.starts_at = now;
                sil.ends_at = now;
            }
        }
        sil.updated_at = now;
        self.store(sil);
        Ok(())
    }

    fn store(&mut self, sil: Silence) {
        let expires_at = sil.ends_at + self.retention;
        self.silences.insert(sil.id.clone(), Stored { silence: sil, expires_at });
    }

    /// Forgets silences whose retention has passed.
    pub fn gc(&mut self, now: Timestamp) -> usize {
        let before = self.silences.len();
        self.silences.retain(|_, s| s.expires_at > now);
        before - self.silences.len()
    }
}

fn wrap_invalid(e: SilenceError) -> SilenceError {
    match e {
        SilenceError::Invalid(m) => SilenceError::Invalid(format!("silence invalid: {m}")),
        other => other,
    }
}

/// `canUpdate`: same matchers, and time changes that do not rewrite what already happened.
fn can_update(a: &Silence, b: &Silence, now: Timestamp) -> bool {
    let same = a.matchers.len() == b.matchers.len()
        && a.matchers
            .iter()
            .zip(&b.matchers)
            .all(|(x, y)| x.name() == y.name() && x.op() == y.op() && x.value() == y.value());
    if !same {
        return false;
    }
    match a.state(now) {
        // Compared in whole seconds: clients send the start back with less precision than it was stored.
        SilenceState::Active => b.starts_at.as_secs() == a.starts_at.as_secs() && b.ends_at >= now,
        SilenceState::Pending => b.starts_at >= now,
        SilenceState::Expired => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::labels;

    const T: fn(i64) -> Timestamp = Timestamp::from_secs;

    fn ids() -> IdSource {
        let mut n = 0;
        Box::new(move || {
            n += 1;
            format!("sil-{n}")
        })
    }

    fn post(m: &str, start: i64, end: i64) -> PostableSilence {
        PostableSilence {
            matchers: crate::matchers::Matchers::parse(m).unwrap().0,
            starts_at: T(start),
            ends_at: T(end),
            created_by: "me".into(),
            comment: "c".into(),
            ..PostableSilence::default()
        }
    }

    #[test]
    fn random_ids_look_like_uuid_v4() {
        let (a, b) = (random_uuid(), random_uuid());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }

    #[test]
    fn states_and_muting() {
        let mut s = Silences::default().with_ids(ids());
        let id = s.post(post("alertname=x", 10, 20), T(5)).unwrap();
        let sil = s.get(&id).unwrap();
        assert_eq!(sil.state(T(9)), SilenceState::Pending);
        assert_eq!(sil.state(T(10)), SilenceState::Active);
        assert_eq!(sil.state(T(20)), SilenceState::Active);
        assert_eq!(sil.state(T(21)), SilenceState::Expired);
        let x = labels([("alertname", "x")]);
        assert!(s.mutes(&x, T(9)).is_empty());
        assert_eq!(s.mutes(&x, T(15)), vec![id.clone()]);
        assert!(s.mutes(&labels([("alertname", "y")]), T(15)).is_empty());
    }

    #[test]
    fn api_checks_and_validation() {
        let mut s = Silences::default().with_ids(ids());
        let e = s.post(post("a=b", 10, 10), T(0)).unwrap_err();
        assert_eq!(e.to_string(), "Failed to create silence: start time must be before end time");
        let e = s.post(post("a=b", 1, 2), T(5)).unwrap_err();
        assert_eq!(e.to_string(), "Failed to create silence: end time can't be in the past");
        let e = s.post(post(r#"a=~".*""#, 0, 10), T(0)).unwrap_err();
        assert_eq!(e.to_string(), "silence invalid: at least one matcher must not match the empty string");
        let e = s.post(post("", 0, 10), T(0)).unwrap_err();
        assert_eq!(e.to_string(), "silence invalid: at least one matcher required");
        // `!=` never counts as matching the empty string, as in Alertmanager.
        assert!(s.post(post("a!=b", 0, 10), T(0)).is_ok());
        let e = s.post(PostableSilence { id: "nope".into(), ..post("a=b", 0, 10) }, T(0)).unwrap_err();
        assert_eq!(e, SilenceError::NotFound);
    }

    #[test]
    fn updates_in_place_or_replace() {
        let mut s = Silences::default().with_ids(ids());
        // A start in the past becomes now.
        let id = s.post(post("a=b", 0, 100), T(10)).unwrap();
        assert_eq!(s.get(&id).unwrap().starts_at, T(10));
        // Active, same matchers and start, later end: in place.
        let upd = PostableSilence { id: id.clone(), starts_at: T(10), ..post("a=b", 10, 200) };
        assert_eq!(s.post(upd, T(20)).unwrap(), id);
        assert_eq!(s.get(&id).unwrap().ends_at, T(200));
        // Active, new matchers: the old one ends now, a new one starts now.
        let upd = PostableSilence { id: id.clone(), ..post("a=c", 10, 300) };
        let new_id = s.post(upd, T(30)).unwrap();
        assert_ne!(new_id, id);
        assert_eq!(s.get(&id).unwrap().ends_at, T(30));
        assert_eq!(s.get(&new_id).unwrap().starts_at, T(30));
        // Pending: the start may move as long as it stays in the future.
        let p = s.post(post("x=y", 100, 200), T(30)).unwrap();
        assert_eq!(s.post(PostableSilence { id: p.clone(), ..post("x=y", 150, 250) }, T(40)).unwrap(), p);
        // Expiring a pending silence makes it start and end now.
        s.expire(&p, T(50)).unwrap();
        let sil = s.get(&p).unwrap();
        assert_eq!((sil.starts_at, sil.ends_at, sil.state(T(51))), (T(50), T(50), SilenceState::Expired));
        assert_eq!(s.expire(&p, T(60)).unwrap_err(), SilenceError::AlreadyExpired(p.clone()));
        // An expired silence is replaced by a new one, leaving it untouched.
        let again = s.post(PostableSilence { id: p.clone(), ..post("x=y", 70, 80) }, T(60)).unwrap();
        assert_ne!(again, p);
        assert_eq!(s.get(&p).unwrap().ends_at, T(50));
    }

    #[test]
    fn retention_and_snapshots() {
        let mut s = Silences::new(Duration::from_secs(100)).with_ids(ids());
        let id = s.post(post("a=b", 0, 10), T(0)).unwrap();
        let snap = s.snapshot();
        let json = serde_json::to_string(&snap).unwrap();
        let mut restored = Silences::default();
        restored.restore(serde_json::from_str(&json).unwrap());
        assert_eq!(restored.get(&id), s.get(&id));
        assert_eq!(s.gc(T(109)), 0);
        assert_eq!(s.gc(T(110)), 1);
    }
}
