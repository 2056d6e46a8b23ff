//! Metadata database: a small pool of SQLite connections used from the blocking pool.
//!
//! rusqlite is synchronous; every call goes through [`Db::call`], which runs the closure on
//! tokio's blocking threads so the reactor never waits on the disk.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

mod migrate;
pub use migrate::{applied_versions, migrate, MIGRATIONS};

const POOL_SIZE: usize = 8;

/// Shared handle to the database.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    conns: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

fn open_conn(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl Db {
    /// Open (creating if needed) the SQLite file and apply pending migrations.
    pub fn open_sqlite(path: &Path) -> Result<Db> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)?;
            }
        }
        let mut first = open_conn(path)?;
        migrate(&mut first)?;
        let mut conns = vec![first];
        for _ in 1..POOL_SIZE {
            conns.push(open_conn(path)?);
        }
        Ok(Db {
            inner: Arc::new(Inner {
                conns: Mutex::new(conns),
                permits: Semaphore::new(POOL_SIZE),
            }),
        })
    }

    /// Run `f` with a connection on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(Error::internal)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = {
                let mut pool = inner
                    .conns
                    .lock()
                    .map_err(|_| Error::internal("db pool poisoned"))?;
                pool.pop().ok_or_else(|| Error::internal("db pool empty"))?
            };
            let out = f(&mut conn);
            if let Ok(mut pool) = inner.conns.lock() {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(Error::internal)?
    }

    /// Run `f` synchronously (CLI paths that are not inside a runtime worker).
    pub fn call_sync<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = {
            let mut pool = self
                .inner
                .conns
                .lock()
                .map_err(|_| Error::internal("db pool poisoned"))?;
            pool.pop().ok_or_else(|| Error::internal("db pool empty"))?
        };
        let out = f(&mut conn);
        if let Ok(mut pool) = self.inner.conns.lock() {
            pool.push(conn);
        }
        out
    }
}

/// Current time as RFC 3339 with milliseconds and a `Z`, the only form the HF client parses.
pub fn now_str() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// `true` when an insert failed on a UNIQUE or PRIMARY KEY constraint.
pub fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(err, _)
            if err.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

/// Consistent online copy of the database (`VACUUM INTO`), safe while others write.
pub fn backup_to(conn: &mut rusqlite::Connection, path: &str) -> Result<()> {
    conn.execute("VACUUM INTO ?1", [path])?;
    Ok(())
}

/// Start a write transaction that takes the write lock up front. A deferred transaction that
/// reads first and writes later fails at once with "database is locked" when another writer
/// committed in between; an immediate one waits for the lock (busy timeout) instead.
pub fn write_tx(conn: &mut rusqlite::Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}
