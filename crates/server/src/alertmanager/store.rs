//! The alerting state in SQLite (`<data_dir>/alertmanager.db`): alerts, silences and the notification log,
//! one row per item, only changed rows written, each change in one fsynced transaction. Layout and commit
//! order: `docs/format/alertmanager-state.md`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use serde_json::Value;
use vigil_alerting::nflog::Entry;
use vigil_alerting::{Alert, AlertStore, DispatcherState};

/// The schema version in `PRAGMA user_version`; a database with a newer one is refused.
pub const SCHEMA_VERSION: i64 = 1;

/// The file under the data directory.
pub const FILE_NAME: &str = "alertmanager.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("alerting state {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("alerting state {path}: schema version {found} is newer than this vigil knows ({SCHEMA_VERSION})")]
    TooNew { path: PathBuf, found: i64 },
    #[error("alerting state {path}: {table} row {key:?} is corrupt: {message}")]
    Corrupt { path: PathBuf, table: &'static str, key: String, message: String },
}

const TABLES: [&str; 3] = ["alerts", "silences", "nflog"];

/// The open database and what it holds, so that a save writes only rows that changed.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Per table, each key's JSON as last written.
    written: [HashMap<String, String>; 3],
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the database in `dir` and reads the state it holds.
    pub fn open(dir: &Path) -> Result<(Store, DispatcherState), StoreError> {
        let path = dir.join(FILE_NAME);
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let conn = Connection::open(&path).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        // Every commit is on disk before the API answers: silences are acknowledged state.
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew { path, found: version });
        }
        if version < SCHEMA_VERSION {
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE IF NOT EXISTS alerts (key TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS silences (key TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS nflog (key TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
                 PRAGMA user_version = 1;
                 COMMIT;",
            )
            .map_err(sql)?;
        }
        let mut store = Store { conn, path, written: Default::default() };
        let state = store.read()?;
        Ok((store, state))
    }

    fn read(&mut self) -> Result<DispatcherState, StoreError> {
        let mut rows: [Vec<(String, Value)>; 3] = Default::default();
        for (t, table) in TABLES.iter().enumerate() {
            let sql = |source| StoreError::Sqlite { path: self.path.clone(), source };
            let mut stmt = self.conn.prepare(&format!("SELECT key, body FROM {table} ORDER BY key")).map_err(sql)?;
            let mut cursor = stmt.query([]).map_err(sql)?;
            while let Some(row) = cursor.next().map_err(sql)? {
                let key: String = row.get(0).map_err(sql)?;
                let body: String = row.get(1).map_err(sql)?;
                let value = serde_json::from_str(&body).map_err(|e| self.corrupt(table, &key, e))?;
                self.written[t].insert(key.clone(), body);
                rows[t].push((key, value));
            }
        }
        let [alerts, silences, nflog] = rows;
        let alerts: Vec<Alert> = decode_all(alerts).map_err(|(k, e)| self.corrupt("alerts", &k, e))?;
        let entries: Vec<Entry> = decode_all(nflog).map_err(|(k, e)| self.corrupt("nflog", &k, e))?;
        let silences = Value::Array(silences.into_iter().map(|(_, v)| v).collect());
        let silences = serde_json::from_value(silences).map_err(|e| self.corrupt("silences", "*", e))?;
        Ok(DispatcherState { alerts: AlertStore::from(alerts), silences, nflog: entries.into() })
    }

    fn corrupt(&self, table: &'static str, key: &str, e: impl ToString) -> StoreError {
        StoreError::Corrupt { path: self.path.clone(), table, key: key.to_owned(), message: e.to_string() }
    }

    /// Writes what differs between `state` and what the database holds, in one transaction. Returns how many
    /// rows were written or deleted.
    pub fn save(&mut self, state: &DispatcherState) -> Result<usize, StoreError> {
        let rows = rows_of(state);
        let mut changes: Vec<(usize, String, Option<String>)> = Vec::new();
        for (t, now) in rows.iter().enumerate() {
            for (key, body) in now {
                if self.written[t].get(key) != Some(body) {
                    changes.push((t, key.clone(), Some(body.clone())));
                }
            }
            for key in self.written[t].keys() {
                if !now.contains_key(key) {
                    changes.push((t, key.clone(), None));
                }
            }
        }
        if changes.is_empty() {
            return Ok(0);
        }
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        for (t, key, body) in &changes {
            let table = TABLES[*t];
            match body {
                Some(body) => tx.execute(
                    &format!("INSERT OR REPLACE INTO {table} (key, body) VALUES (?1, ?2)"),
                    params![key, body],
                ),
                None => tx.execute(&format!("DELETE FROM {table} WHERE key = ?1"), params![key]),
            }
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        for (t, key, body) in changes.iter().cloned() {
            match body {
                Some(body) => self.written[t].insert(key, body),
                None => self.written[t].remove(&key),
            };
        }
        Ok(changes.len())
    }
}

fn decode_all<T: serde::de::DeserializeOwned>(
    rows: Vec<(String, Value)>,
) -> Result<Vec<T>, (String, serde_json::Error)> {
    rows.into_iter().map(|(k, v)| serde_json::from_value(v).map_err(|e| (k, e))).collect()
}

/// Each table's rows for `state`, keyed as stored.
fn rows_of(state: &DispatcherState) -> [HashMap<String, String>; 3] {
    let alerts = state.alerts.iter().map(|a| (format!("{:016x}", a.fingerprint().0), to_json(a))).collect();
    let silences = match serde_json::to_value(&state.silences) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .map(|item| {
                let id = item.pointer("/silence/id").and_then(Value::as_str).unwrap_or_default().to_owned();
                (id, item.to_string())
            })
            .collect(),
        _ => HashMap::new(),
    };
    let nflog = state
        .nflog
        .entries()
        .map(|e| {
            let key = format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}",
                e.receiver.receiver,
                e.receiver.integration.as_str(),
                e.receiver.index,
                e.group_key
            );
            (key, to_json(e))
        })
        .collect();
    [alerts, silences, nflog]
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("state serializes to JSON")
}
