//! The signals' tables in `guard.db` (schema version 2, `docs/format/guard-db.md`): the `(user, address)` pairs
//! of successful logins with the learning period's start, and the watched files' baseline. Its own SQLite
//! connection, so that the file watcher's thread and the guard thread each hold one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::store::{StoreError, FILE_NAME};

/// The migration from schema version 1 to 2: the signals' tables.
pub(super) const MIGRATE_TO_2: &str = "
    CREATE TABLE IF NOT EXISTS logins (
        user TEXT NOT NULL, ip TEXT NOT NULL,
        first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
        PRIMARY KEY (user, ip)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS logins_by_last_seen ON logins (last_seen);
    CREATE TABLE IF NOT EXISTS signal_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS watched_files (
        path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, mode INTEGER NOT NULL,
        uid INTEGER NOT NULL, gid INTEGER NOT NULL, sha256 BLOB) WITHOUT ROWID;";

/// `(user, address)` pairs kept at most; a new pair beyond this evicts the least recently seen one.
pub const MAX_LOGIN_PAIRS: i64 = 10_000;
/// User names longer than this are cut before they are stored (they are client-chosen).
const MAX_USER_BYTES: usize = 256;

/// `signal_meta` keys.
const LOGINS_SINCE: &str = "logins_since";
const WATCH_BASELINE: &str = "watch_baseline";

/// A watched file as last seen: its metadata and, when it could be read, the SHA-256 of its first bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileState {
    pub size: u64,
    pub mtime_ns: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub sha256: Option<[u8; 32]>,
}

pub(crate) struct SignalStore {
    conn: Connection,
    path: PathBuf,
    /// Rows of `logins`, counted once at open.
    login_rows: i64,
}

impl SignalStore {
    /// Opens `dir/guard.db`, which `BanStore::open` has created or migrated.
    pub fn open(dir: &Path) -> Result<SignalStore, StoreError> {
        let path = dir.join(FILE_NAME);
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let conn = Connection::open(&path).map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        // The watcher's thread and the guard thread write through their own connections.
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
        let login_rows = conn.query_row("SELECT count(*) FROM logins", [], |r| r.get(0)).map_err(sql)?;
        Ok(SignalStore { conn, path, login_rows })
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite { path: self.path.clone(), source }
    }

    /// When logins were first recorded on this host; `now` (stored) on the first call.
    pub fn logins_since(&mut self, now: i64) -> Result<i64, StoreError> {
        self.meta_or_insert(LOGINS_SINCE, now)
    }

    fn meta_or_insert(&mut self, key: &str, value: i64) -> Result<i64, StoreError> {
        let sql = self.sql();
        let found: Option<i64> = self
            .conn
            .query_row("SELECT value FROM signal_meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(&sql)?;
        if let Some(v) = found {
            return Ok(v);
        }
        self.conn.execute("INSERT INTO signal_meta (key, value) VALUES (?1, ?2)", params![key, value]).map_err(&sql)?;
        Ok(value)
    }

    /// Records a successful login of `user` from `ip` at `now`; whether the pair was known before.
    pub fn touch_login(&mut self, user: &str, ip: &str, now: i64) -> Result<bool, StoreError> {
        let user = cut(user, MAX_USER_BYTES);
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        let updated = tx
            .execute(
                "UPDATE logins SET last_seen = max(last_seen, ?3) WHERE user = ?1 AND ip = ?2",
                params![user, ip, now],
            )
            .map_err(sql)?;
        if updated > 0 {
            tx.commit().map_err(sql)?;
            return Ok(true);
        }
        tx.execute(
            "INSERT INTO logins (user, ip, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)",
            params![user, ip, now],
        )
        .map_err(sql)?;
        let mut rows = self.login_rows + 1;
        if rows > MAX_LOGIN_PAIRS {
            let evicted = tx
                .execute(
                    "DELETE FROM logins WHERE (user, ip) IN \
                     (SELECT user, ip FROM logins ORDER BY last_seen, first_seen LIMIT ?1)",
                    [rows - MAX_LOGIN_PAIRS],
                )
                .map_err(sql)?;
            rows -= evicted as i64;
        }
        tx.commit().map_err(sql)?;
        self.login_rows = rows;
        Ok(false)
    }

    /// The pairs kept, `(user, ip, first_seen, last_seen)`, by user and address.
    #[cfg(test)]
    pub fn logins(&self) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        let sql = self.sql();
        let mut stmt =
            self.conn.prepare("SELECT user, ip, first_seen, last_seen FROM logins ORDER BY user, ip").map_err(&sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).map_err(&sql)?;
        rows.collect::<Result<_, _>>().map_err(&sql)
    }

    /// The watched files' baseline, or `None` before the first check stored one.
    pub fn watched(&self) -> Result<Option<HashMap<String, FileState>>, StoreError> {
        let sql = self.sql();
        let set: Option<i64> = self
            .conn
            .query_row("SELECT value FROM signal_meta WHERE key = ?1", [WATCH_BASELINE], |r| r.get(0))
            .optional()
            .map_err(&sql)?;
        if set.is_none() {
            return Ok(None);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT path, size, mtime_ns, mode, uid, gid, sha256 FROM watched_files")
            .map_err(&sql)?;
        let mut rows = stmt.query([]).map_err(&sql)?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next().map_err(&sql)? {
            let path: String = r.get(0).map_err(&sql)?;
            let hash: Option<Vec<u8>> = r.get(6).map_err(&sql)?;
            let sha256 = match hash {
                None => None,
                Some(h) => Some(<[u8; 32]>::try_from(h.as_slice()).map_err(|_| StoreError::Corrupt {
                    path: self.path.clone(),
                    row: format!("watched_files row {path:?}"),
                    message: "hash is not 32 bytes",
                })?),
            };
            let state = FileState {
                size: r.get::<_, i64>(1).map_err(&sql)?.max(0) as u64,
                mtime_ns: r.get(2).map_err(&sql)?,
                mode: r.get(3).map_err(&sql)?,
                uid: r.get(4).map_err(&sql)?,
                gid: r.get(5).map_err(&sql)?,
                sha256,
            };
            out.insert(path, state);
        }
        Ok(Some(out))
    }

    /// Applies a check's outcome to the baseline in one transaction: `Some` states written, `None` deleted.
    pub fn update_watched(&mut self, changes: &[(String, Option<FileState>)]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        for (file, state) in changes {
            match state {
                Some(s) => tx.execute(
                    "INSERT OR REPLACE INTO watched_files (path, size, mtime_ns, mode, uid, gid, sha256) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        file,
                        s.size.min(i64::MAX as u64) as i64,
                        s.mtime_ns,
                        s.mode,
                        s.uid,
                        s.gid,
                        s.sha256.map(|h| h.to_vec())
                    ],
                ),
                None => tx.execute("DELETE FROM watched_files WHERE path = ?1", [file]),
            }
            .map_err(sql)?;
        }
        tx.execute("INSERT OR IGNORE INTO signal_meta (key, value) VALUES (?1, 1)", [WATCH_BASELINE]).map_err(sql)?;
        tx.commit().map_err(sql)
    }
}

/// `s` cut at a character boundary at most `max` bytes in.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::super::store::{BanStore, SCHEMA_VERSION};
    use super::*;

    #[test]
    fn a_version_1_database_is_migrated_keeping_its_bans() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        conn.execute_batch(&format!(
            "{}
             INSERT INTO bans VALUES ('sshd', 'ip', '192.0.2.1', 1, 4102444800, 1);
             PRAGMA user_version = 1;",
            super::super::store::SCHEMA_1
        ))
        .unwrap();
        drop(conn);
        let (_, loaded) = BanStore::open(dir.path()).unwrap();
        assert_eq!(loaded.bans.len(), 1);
        let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let mut s = SignalStore::open(dir.path()).unwrap();
        assert!(!s.touch_login("alice", "192.0.2.1", 10).unwrap());
        assert!(s.touch_login("alice", "192.0.2.1", 20).unwrap());
        assert_eq!(s.logins().unwrap(), [("alice".into(), "192.0.2.1".into(), 10, 20)]);
    }

    #[test]
    fn logins_are_capped_evicting_the_least_recently_seen() {
        let dir = tempfile::tempdir().unwrap();
        drop(BanStore::open(dir.path()).unwrap());
        let mut s = SignalStore::open(dir.path()).unwrap();
        assert_eq!(s.logins_since(100).unwrap(), 100);
        assert_eq!(s.logins_since(200).unwrap(), 100);
        s.login_rows = MAX_LOGIN_PAIRS - 2;
        s.touch_login("a", "192.0.2.1", 1).unwrap();
        s.touch_login("b", "192.0.2.1", 2).unwrap();
        s.touch_login("a", "192.0.2.1", 3).unwrap();
        // One over the cap: b, seen least recently, goes.
        s.touch_login("c", "192.0.2.1", 4).unwrap();
        let users: Vec<String> = s.logins().unwrap().into_iter().map(|l| l.0).collect();
        assert_eq!(users, ["a", "c"]);
        let long = "é".repeat(300);
        s.touch_login(&long, "192.0.2.1", 5).unwrap();
        assert!(s.logins().unwrap().iter().any(|l| l.0.len() == 256 && l.0.chars().all(|c| c == 'é')));
    }

    #[test]
    fn the_watch_baseline_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        drop(BanStore::open(dir.path()).unwrap());
        let mut s = SignalStore::open(dir.path()).unwrap();
        assert_eq!(s.watched().unwrap(), None);
        s.update_watched(&[]).unwrap();
        assert_eq!(s.watched().unwrap(), Some(HashMap::new()));
        let st = FileState { size: 3, mtime_ns: -1, mode: 0o100644, uid: 0, gid: 0, sha256: Some([7; 32]) };
        let unread = FileState { sha256: None, ..st.clone() };
        s.update_watched(&[("/etc/passwd".into(), Some(st.clone())), ("/etc/shadow".into(), Some(unread.clone()))])
            .unwrap();
        s.update_watched(&[("/etc/passwd".into(), None)]).unwrap();
        let w = s.watched().unwrap().unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w["/etc/shadow"], unread);
    }
}
