//! The fleet ban list in SQLite (`<data_dir>/bans.db`): one row per active ban and the list's generation,
//! every change in one fsynced transaction (WAL, `synchronous=FULL`) committed before the API answers. Layout:
//! `docs/fleet-bans.md`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

use super::Ban;

/// The schema version in `PRAGMA user_version`; a database with a newer one is refused.
pub const SCHEMA_VERSION: i64 = 1;

/// The file under the data directory.
pub const FILE_NAME: &str = "bans.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("ban list {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("ban list {path}: schema version {found} is newer than this vigil knows ({SCHEMA_VERSION})")]
    TooNew { path: PathBuf, found: i64 },
    #[error("ban list {path}: row {key:?} is corrupt: {message}")]
    Corrupt { path: PathBuf, key: String, message: String },
}

/// The open database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// What an opened database holds.
#[derive(Debug, Default)]
pub struct Loaded {
    pub bans: Vec<Ban>,
    /// 0 for a new database.
    pub generation: i64,
}

impl Store {
    /// Opens (or creates) the database in `dir` and reads the bans it holds.
    pub fn open(dir: &Path) -> Result<(Store, Loaded), StoreError> {
        let path = dir.join(FILE_NAME);
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let conn = Connection::open(&path).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        // A ban the API acknowledged must survive a crash: every commit is on disk before the answer.
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew { path, found: version });
        }
        if version < SCHEMA_VERSION {
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE IF NOT EXISTS bans (
                     ip TEXT PRIMARY KEY,
                     jail TEXT NOT NULL,
                     origin TEXT NOT NULL,
                     reason TEXT NOT NULL,
                     created_at INTEGER NOT NULL,
                     expires_at INTEGER,
                     count INTEGER NOT NULL
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
                 PRAGMA user_version = 1;
                 COMMIT;",
            )
            .map_err(sql)?;
        }
        let store = Store { conn, path };
        let loaded = store.read()?;
        Ok((store, loaded))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite { path: self.path.clone(), source }
    }

    fn read(&self) -> Result<Loaded, StoreError> {
        let sql = self.sql();
        let generation: Option<i64> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| r.get(0))
            .map(Some)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })
            .map_err(&sql)?;
        let mut stmt = self
            .conn
            .prepare("SELECT ip, jail, origin, reason, created_at, expires_at, count FROM bans ORDER BY ip")
            .map_err(&sql)?;
        let mut rows = stmt.query([]).map_err(&sql)?;
        let mut bans = Vec::new();
        while let Some(row) = rows.next().map_err(&sql)? {
            let key: String = row.get(0).map_err(&sql)?;
            let corrupt = |message: String| StoreError::Corrupt { path: self.path.clone(), key: key.clone(), message };
            let ip = key.parse::<IpAddr>().map_err(|e| corrupt(format!("ip: {e}")))?;
            let count: i64 = row.get(6).map_err(&sql)?;
            bans.push(Ban {
                ip,
                jail: row.get(1).map_err(&sql)?,
                origin: row.get(2).map_err(&sql)?,
                reason: row.get(3).map_err(&sql)?,
                created_at_ms: row.get(4).map_err(&sql)?,
                expires_at_ms: row.get(5).map_err(&sql)?,
                count: u32::try_from(count).map_err(|_| corrupt(format!("count {count} is out of range")))?,
            });
        }
        Ok(Loaded { bans, generation: generation.unwrap_or(0) })
    }

    /// Inserts or replaces `ban` and sets the generation, in one transaction.
    pub fn put(&mut self, ban: &Ban, generation: i64) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO bans (ip, jail, origin, reason, created_at, expires_at, count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                ban.ip.to_string(),
                ban.jail,
                ban.origin,
                ban.reason,
                ban.created_at_ms,
                ban.expires_at_ms,
                i64::from(ban.count)
            ],
        )
        .map_err(sql)?;
        set_generation(&tx, generation).map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Deletes the bans of `ips` and sets the generation, in one transaction.
    pub fn delete(&mut self, ips: &[IpAddr], generation: i64) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut stmt = tx.prepare("DELETE FROM bans WHERE ip = ?1").map_err(sql)?;
            for ip in ips {
                stmt.execute(params![ip.to_string()]).map_err(sql)?;
            }
        }
        set_generation(&tx, generation).map_err(sql)?;
        tx.commit().map_err(sql)
    }
}

fn set_generation(tx: &rusqlite::Transaction<'_>, generation: i64) -> rusqlite::Result<usize> {
    tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', ?1)", params![generation])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(ip: &str, expires: Option<i64>) -> Ban {
        Ban {
            ip: ip.parse().unwrap(),
            jail: "sshd".into(),
            origin: "web1".into(),
            reason: "5 failures".into(),
            created_at_ms: 1_000,
            expires_at_ms: expires,
            count: 1,
        }
    }

    #[test]
    fn rows_and_generation_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, loaded) = Store::open(dir.path()).unwrap();
        assert!(loaded.bans.is_empty() && loaded.generation == 0);
        store.put(&ban("192.0.2.1", Some(5_000)), 7).unwrap();
        store.put(&ban("2001:db8::1", None), 8).unwrap();
        store.put(&ban("192.0.2.9", Some(9_000)), 9).unwrap();
        store.delete(&["192.0.2.9".parse().unwrap()], 10).unwrap();
        drop(store);
        let (_, loaded) = Store::open(dir.path()).unwrap();
        assert_eq!(loaded.generation, 10);
        assert_eq!(loaded.bans, [ban("192.0.2.1", Some(5_000)), ban("2001:db8::1", None)]);
    }

    #[test]
    fn newer_schema_and_corrupt_rows_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        conn.execute("INSERT INTO bans VALUES ('not-an-ip', 'j', 'o', 'r', 0, NULL, 1)", []).unwrap();
        drop(conn);
        let err = Store::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bans.db") && err.contains("\"not-an-ip\" is corrupt"), "{err}");
        let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        drop(conn);
        let err = Store::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bans.db") && err.contains("schema version 2 is newer"), "{err}");
    }
}
