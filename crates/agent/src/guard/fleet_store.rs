//! The fleet's tables in `guard.db` (schema version 2, `docs/format/guard-db.md`): the fleet list last applied
//! with its generation, and the queue of ban reports not yet acknowledged by the server, which the fleet
//! thread reads and empties through its own connection.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::store::{BanStore, StoreError};

/// How long a write waits for the other connection's transaction.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Part of the migration from version 1 to 2: the fleet's tables.
pub(crate) const MIGRATE_TO_V2: &str = "
    CREATE TABLE IF NOT EXISTS fleet_bans (
        ip TEXT PRIMARY KEY, expires_at INTEGER, jail TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS fleet_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS fleet_reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT, ip TEXT NOT NULL, until INTEGER NOT NULL,
        reason TEXT NOT NULL, jail TEXT NOT NULL);";

/// A ban of the fleet list, as applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FleetBan {
    pub ip: IpAddr,
    /// Milliseconds since the epoch; `None` for never.
    pub expires_ms: Option<i64>,
    pub jail: String,
    pub origin: String,
}

/// A local ban to report to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Report {
    pub ip: IpAddr,
    /// When the ban ends, Unix seconds.
    pub until: i64,
    pub reason: String,
    pub jail: String,
}

impl BanStore {
    fn sql_err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite { path: self.path.clone(), source }
    }

    /// The fleet list last applied and its generation.
    pub(crate) fn load_fleet(&self) -> Result<(Option<i64>, Vec<FleetBan>), StoreError> {
        let sql = self.sql_err();
        let generation: Option<i64> = self
            .conn
            .query_row("SELECT value FROM fleet_meta WHERE key = 'generation'", [], |r| r.get(0))
            .optional()
            .map_err(&sql)?;
        let mut stmt =
            self.conn.prepare("SELECT ip, expires_at, jail, origin FROM fleet_bans ORDER BY ip").map_err(&sql)?;
        let mut rows = stmt.query([]).map_err(&sql)?;
        let mut bans = Vec::new();
        while let Some(row) = rows.next().map_err(&sql)? {
            let ip: String = row.get(0).map_err(&sql)?;
            let ip = ip.parse().map_err(|_| StoreError::Corrupt {
                path: self.path.clone(),
                row: format!("fleet_bans row {ip:?}"),
                message: "not an IP address",
            })?;
            bans.push(FleetBan {
                ip,
                expires_ms: row.get(1).map_err(&sql)?,
                jail: row.get(2).map_err(&sql)?,
                origin: row.get(3).map_err(&sql)?,
            });
        }
        Ok((generation, bans))
    }

    /// Records a newly applied list as a change of the previous one, in one fsynced transaction.
    pub(crate) fn save_fleet(
        &mut self,
        generation: i64,
        removed: &[IpAddr],
        upserted: &[&FleetBan],
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        for ip in removed {
            tx.execute("DELETE FROM fleet_bans WHERE ip = ?1", params![ip.to_string()]).map_err(sql)?;
        }
        for b in upserted {
            tx.execute(
                "INSERT OR REPLACE INTO fleet_bans (ip, expires_at, jail, origin) VALUES (?1, ?2, ?3, ?4)",
                params![b.ip.to_string(), b.expires_ms, b.jail, b.origin],
            )
            .map_err(sql)?;
        }
        tx.execute("INSERT OR REPLACE INTO fleet_meta (key, value) VALUES ('generation', ?1)", params![generation])
            .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Queues a report until the server acknowledges it.
    pub(crate) fn queue_report(&mut self, r: &Report) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO fleet_reports (ip, until, reason, jail) VALUES (?1, ?2, ?3, ?4)",
                params![r.ip.to_string(), r.until, r.reason, r.jail],
            )
            .map(drop)
            .map_err(self.sql_err())
    }
}

/// A queued report and its row id; an unreadable row is an `Err` naming it, to be dropped.
pub(crate) type Queued = (i64, Result<Report, String>);

/// The fleet thread's view of the report queue: its own connection to `guard.db`.
pub(crate) struct ReportQueue {
    conn: Connection,
    path: PathBuf,
}

impl ReportQueue {
    /// Opens the database the guard already created.
    pub fn open(path: &Path) -> Result<ReportQueue, StoreError> {
        let sql = |source| StoreError::Sqlite { path: path.to_owned(), source };
        let conn = Connection::open(path).map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        Ok(ReportQueue { conn, path: path.to_owned() })
    }

    /// The oldest queued report.
    pub fn peek(&self) -> Result<Option<Queued>, StoreError> {
        let sql = |source| StoreError::Sqlite { path: self.path.clone(), source };
        self.conn
            .query_row("SELECT id, ip, until, reason, jail FROM fleet_reports ORDER BY id LIMIT 1", [], |r| {
                let id: i64 = r.get(0)?;
                let ip: String = r.get(1)?;
                let report = match ip.parse() {
                    Ok(ip) => Ok(Report { ip, until: r.get(2)?, reason: r.get(3)?, jail: r.get(4)? }),
                    Err(_) => Err(format!("fleet_reports row {id}: {ip:?} is not an IP address")),
                };
                Ok((id, report))
            })
            .optional()
            .map_err(sql)
    }

    pub fn remove(&self, id: i64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM fleet_reports WHERE id = ?1", params![id])
            .map(drop)
            .map_err(|source| StoreError::Sqlite { path: self.path.clone(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(ip: &str, expires_ms: Option<i64>) -> FleetBan {
        FleetBan { ip: ip.parse().unwrap(), expires_ms, jail: "sshd".into(), origin: "web1".into() }
    }

    #[test]
    fn the_fleet_list_and_the_report_queue_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = BanStore::open(dir.path()).unwrap();
        assert_eq!(s.load_fleet().unwrap(), (None, vec![]));
        let (a, b) = (ban("192.0.2.1", Some(5_000)), ban("2001:db8::1", None));
        s.save_fleet(7, &[], &[&a, &b]).unwrap();
        s.save_fleet(9, &[a.ip], &[]).unwrap();
        let r = Report { ip: a.ip, until: 600, reason: "5 failures".into(), jail: "sshd".into() };
        s.queue_report(&r).unwrap();
        s.queue_report(&Report { until: 700, ..r.clone() }).unwrap();
        drop(s);
        let (s, _) = BanStore::open(dir.path()).unwrap();
        assert_eq!(s.load_fleet().unwrap(), (Some(9), vec![b]));
        let q = ReportQueue::open(s.path()).unwrap();
        let (id, first) = q.peek().unwrap().unwrap();
        assert_eq!(first, Ok(r));
        q.remove(id).unwrap();
        assert_eq!(q.peek().unwrap().unwrap().1.unwrap().until, 700);
    }

    #[test]
    fn a_version_1_database_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(super::super::store::FILE_NAME)).unwrap();
        conn.execute_batch(
            "CREATE TABLE bans (jail TEXT NOT NULL, kind TEXT NOT NULL, offender TEXT NOT NULL,
                 since INTEGER NOT NULL, until INTEGER NOT NULL, count INTEGER NOT NULL,
                 PRIMARY KEY (jail, kind, offender)) WITHOUT ROWID;
             CREATE TABLE history (jail TEXT NOT NULL, kind TEXT NOT NULL, offender TEXT NOT NULL,
                 count INTEGER NOT NULL, last_since INTEGER NOT NULL,
                 PRIMARY KEY (jail, kind, offender)) WITHOUT ROWID;
             INSERT INTO bans VALUES ('sshd', 'ip', '192.0.2.1', 1, 2000000000, 1);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        drop(conn);
        let (s, loaded) = BanStore::open(dir.path()).unwrap();
        assert_eq!(loaded.bans.len(), 1);
        assert_eq!(s.load_fleet().unwrap(), (None, vec![]));
        let v: i64 = s.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, 2);
    }
}
