//! The ban database (`<data_dir>/guard.db`, SQLite): active bans and the ban history `bantime_increment`
//! needs, each ban or unban written in one fsynced transaction before it is acted on; the migration to version 2
//! adds the fleet's tables (`fleet_store.rs`). Layout: `docs/format/guard-db.md`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use vigil_guard::jail::{Ban, Offender};

/// The schema version in `PRAGMA user_version`; a database with a newer one is refused.
pub const SCHEMA_VERSION: i64 = 2;

/// Version 1: the bans and their history.
pub(super) const SCHEMA_1: &str = "
    CREATE TABLE IF NOT EXISTS bans (
        jail TEXT NOT NULL, kind TEXT NOT NULL, offender TEXT NOT NULL,
        since INTEGER NOT NULL, until INTEGER NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (jail, kind, offender)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS history (
        jail TEXT NOT NULL, kind TEXT NOT NULL, offender TEXT NOT NULL,
        count INTEGER NOT NULL, last_since INTEGER NOT NULL,
        PRIMARY KEY (jail, kind, offender)) WITHOUT ROWID;";

/// The file under the guard's data directory.
pub const FILE_NAME: &str = "guard.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("ban database {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("ban database {path}: schema version {found} is newer than this vigil knows ({SCHEMA_VERSION})")]
    TooNew { path: PathBuf, found: i64 },
    #[error("ban database {path}: {row} is corrupt: {message}")]
    Corrupt { path: PathBuf, row: String, message: &'static str },
}

/// A jail's ban as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBan {
    pub jail: String,
    pub ban: Ban,
}

/// A jail's memory of an offender's earlier bans: how many, and when the last began.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredHistory {
    pub jail: String,
    pub offender: Offender,
    pub count: u32,
    pub last_since: i64,
}

/// What the database held when it was opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub bans: Vec<StoredBan>,
    pub history: Vec<StoredHistory>,
}

/// The open database.
pub struct BanStore {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
}

impl std::fmt::Debug for BanStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BanStore").field("path", &self.path).finish()
    }
}

impl BanStore {
    /// Opens (or creates) `dir/guard.db` and reads what it holds.
    pub fn open(dir: &Path) -> Result<(BanStore, Loaded), StoreError> {
        let path = dir.join(FILE_NAME);
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let conn = Connection::open(&path).map_err(sql)?;
        // WAL with synchronous=FULL: a commit is fsynced before it returns, so a ban logged as done survives a
        // power cut, and readers (a later `vigil bans`) do not block the writer.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        // The fleet thread and the file watcher's thread write the same file through connections of their own.
        conn.busy_timeout(super::fleet_store::BUSY_TIMEOUT).map_err(sql)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew { path, found: version });
        }
        if version < SCHEMA_VERSION {
            let mut migration = String::from("BEGIN;");
            if version < 1 {
                migration.push_str(SCHEMA_1);
            }
            if version < 2 {
                migration.push_str(super::signal_store::MIGRATE_TO_2);
                migration.push_str(super::fleet_store::MIGRATE_TO_V2);
            }
            migration.push_str("PRAGMA user_version = 2; COMMIT;");
            conn.execute_batch(&migration).map_err(sql)?;
        }
        let store = BanStore { conn, path };
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
        let mut out = Loaded::default();
        let mut stmt = self
            .conn
            .prepare("SELECT jail, kind, offender, since, until, count FROM bans ORDER BY until, jail, offender")
            .map_err(&sql)?;
        let mut rows = stmt.query([]).map_err(&sql)?;
        while let Some(row) = rows.next().map_err(&sql)? {
            let (jail, kind, who): (String, String, String) =
                (row.get(0).map_err(&sql)?, row.get(1).map_err(&sql)?, row.get(2).map_err(&sql)?);
            let (since, until, count): (i64, i64, i64) =
                (row.get(3).map_err(&sql)?, row.get(4).map_err(&sql)?, row.get(5).map_err(&sql)?);
            let offender = self.offender("bans", &jail, &kind, &who)?;
            let count = self.count("bans", &jail, &kind, &who, count)?;
            out.bans.push(StoredBan { jail, ban: Ban { offender, since, until, count } });
        }
        let mut stmt = self
            .conn
            .prepare("SELECT jail, kind, offender, count, last_since FROM history ORDER BY jail, kind, offender")
            .map_err(&sql)?;
        let mut rows = stmt.query([]).map_err(&sql)?;
        while let Some(row) = rows.next().map_err(&sql)? {
            let (jail, kind, who): (String, String, String) =
                (row.get(0).map_err(&sql)?, row.get(1).map_err(&sql)?, row.get(2).map_err(&sql)?);
            let (count, last_since): (i64, i64) = (row.get(3).map_err(&sql)?, row.get(4).map_err(&sql)?);
            let offender = self.offender("history", &jail, &kind, &who)?;
            let count = self.count("history", &jail, &kind, &who, count)?;
            out.history.push(StoredHistory { jail, offender, count, last_since });
        }
        Ok(out)
    }

    fn corrupt(&self, table: &'static str, jail: &str, kind: &str, who: &str, message: &'static str) -> StoreError {
        let row = format!("{table} row ({jail}, {kind}, {who:?})");
        StoreError::Corrupt { path: self.path.clone(), row, message }
    }

    fn offender(&self, table: &'static str, jail: &str, kind: &str, who: &str) -> Result<Offender, StoreError> {
        match kind {
            "ip" => who
                .parse::<IpAddr>()
                .map(Offender::Ip)
                .map_err(|_| self.corrupt(table, jail, kind, who, "not an IP address")),
            "user" => Ok(Offender::User(who.to_owned())),
            _ => Err(self.corrupt(table, jail, kind, who, "unknown offender kind")),
        }
    }

    fn count(&self, table: &'static str, jail: &str, kind: &str, who: &str, n: i64) -> Result<u32, StoreError> {
        u32::try_from(n).ok().filter(|&n| n > 0).ok_or_else(|| self.corrupt(table, jail, kind, who, "bad ban count"))
    }

    /// Records a new ban of `jail` and its history entry, in one fsynced transaction.
    pub fn record_ban(&mut self, jail: &str, ban: &Ban) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let (kind, who) = encode(&ban.offender);
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO bans (jail, kind, offender, since, until, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![jail, kind, who, ban.since, ban.until, ban.count],
        )
        .map_err(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO history (jail, kind, offender, count, last_since) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![jail, kind, who, ban.count, ban.since],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Removes a ban (the history stays).
    pub fn record_unban(&mut self, jail: &str, offender: &Offender) -> Result<(), StoreError> {
        let (kind, who) = encode(offender);
        self.conn
            .execute("DELETE FROM bans WHERE jail = ?1 AND kind = ?2 AND offender = ?3", params![jail, kind, who])
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Forgets `jail`'s history entries whose last ban began before `cutoff`.
    pub fn forget_history(&mut self, jail: &str, cutoff: i64) -> Result<usize, StoreError> {
        self.conn
            .execute("DELETE FROM history WHERE jail = ?1 AND last_since < ?2", params![jail, cutoff])
            .map_err(self.sql())
    }
}

fn encode(o: &Offender) -> (&'static str, String) {
    match o {
        Offender::Ip(ip) => ("ip", ip.to_string()),
        Offender::User(u) => ("user", u.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(who: &str, since: i64, until: i64, count: u32) -> Ban {
        Ban { offender: Offender::Ip(who.parse().unwrap()), since, until, count }
    }

    #[test]
    fn bans_and_history_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, loaded) = BanStore::open(dir.path()).unwrap();
        assert_eq!(loaded, Loaded::default());
        s.record_ban("sshd", &ban("203.0.113.7", 100, 700, 1)).unwrap();
        s.record_ban("sshd", &ban("2001:db8::1", 100, 200, 2)).unwrap();
        let user = Ban { offender: Offender::User("bob x".into()), since: 5, until: 605, count: 1 };
        s.record_ban("sudo", &user).unwrap();
        s.record_unban("sshd", &Offender::Ip("2001:db8::1".parse().unwrap())).unwrap();
        drop(s);
        let (mut s, loaded) = BanStore::open(dir.path()).unwrap();
        assert_eq!(
            loaded.bans,
            [
                StoredBan { jail: "sudo".into(), ban: user.clone() },
                StoredBan { jail: "sshd".into(), ban: ban("203.0.113.7", 100, 700, 1) },
            ]
        );
        assert_eq!(loaded.history.len(), 3);
        assert_eq!(loaded.history[0].count, 2);
        assert_eq!(s.forget_history("sshd", 101).unwrap(), 2);
        let (_, loaded) = BanStore::open(dir.path()).unwrap();
        assert_eq!(loaded.history.len(), 1);
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), vec![0x5a; 8192]).unwrap();
        let err = BanStore::open(dir.path()).unwrap_err().to_string();
        let want = format!("ban database {}: ", dir.path().join(FILE_NAME).display());
        assert!(err.starts_with(&want), "{err}");
        assert!(err.contains("not a database"), "{err}");
    }

    #[test]
    fn bad_rows_and_newer_schemas_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(BanStore::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        conn.execute("INSERT INTO bans VALUES ('sshd', 'ip', 'not-an-ip', 1, 2, 1)", []).unwrap();
        drop(conn);
        let err = BanStore::open(dir.path()).unwrap_err().to_string();
        assert!(err.ends_with("bans row (sshd, ip, \"not-an-ip\") is corrupt: not an IP address"), "{err}");
        let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        conn.pragma_update(None, "user_version", 9).unwrap();
        drop(conn);
        let err = BanStore::open(dir.path()).unwrap_err().to_string();
        assert!(err.ends_with("schema version 9 is newer than this vigil knows (2)"), "{err}");
    }
}
