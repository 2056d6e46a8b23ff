//! Metadata database: SQLite (embedded default) or PostgreSQL (several hub processes), behind
//! one small pool.
//!
//! Both drivers are used synchronously; every call goes through [`Db::call`], which runs the
//! closure on tokio's blocking threads so the reactor never waits on the database.

use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::config::DatabaseTarget;
use crate::error::{Error, Result};

mod conn;
pub mod copy;
mod migrate;
mod pg;
mod pg_tls;
mod sqlite;
mod value;

pub use conn::{row_tx, write_tx, Backend, Conn, DbResult, OptionalExtension, Stmt, Tx};
pub use migrate::{applied_versions, migrate, pg_ddl, MIGRATIONS};
pub use value::{params_from_iter, FromValue, Params, Row, ToValue, Value};

/// A database failure, whichever engine reported it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {}", pg_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("query returned no rows")]
    NoRows,
    #[error("column {0}: {1}")]
    Column(String, String),
    #[error("{0}")]
    Other(String),
}

fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

/// Shared handle to the database.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

enum Target {
    Sqlite(std::path::PathBuf),
    Pg(Box<pg_tls::PgTarget>),
}

struct Inner {
    target: Target,
    conns: Mutex<Vec<Conn>>,
    permits: Semaphore,
    describe: String,
}

/// Run `f` where blocking is allowed: here when no runtime is on this thread, otherwise on a
/// scoped thread of its own (CLI code inside `block_on`, tests).
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

impl Db {
    /// Open the database the target names, check it is reachable, and apply pending
    /// migrations.
    pub fn open(target: &DatabaseTarget, pool_size: usize) -> Result<Db> {
        Db::open_with(target, pool_size, true)
    }

    /// [`Db::open`], applying migrations only when `migrate_now` (`kohaku db migrate` reports
    /// what it applies; tools that only read leave the schema alone).
    pub fn open_with(target: &DatabaseTarget, pool_size: usize, migrate_now: bool) -> Result<Db> {
        let pool_size = pool_size.max(1);
        let target_inner = match target {
            DatabaseTarget::Sqlite(path) => {
                if let Some(parent) = path.parent() {
                    if !parent.as_os_str().is_empty() {
                        std::fs::create_dir_all(parent)?;
                    }
                }
                Target::Sqlite(path.clone())
            }
            DatabaseTarget::Postgres(url) => {
                let mut parsed = pg_tls::parse(url).map_err(|e| {
                    Error::bad_request(format!(
                        "database URL {} is not valid: {e}",
                        target.describe()
                    ))
                })?;
                let config = &mut parsed.config;
                if config.get_connect_timeout().is_none() {
                    config.connect_timeout(std::time::Duration::from_secs(10));
                }
                if config.get_application_name().is_none() {
                    config.application_name("kohaku");
                }
                Target::Pg(Box::new(parsed))
            }
        };
        let size = match target {
            // SQLite has one writer; more than 8 connections only add contention.
            DatabaseTarget::Sqlite(_) => pool_size.min(8),
            DatabaseTarget::Postgres(_) => pool_size,
        };
        let db = Db {
            inner: Arc::new(Inner {
                target: target_inner,
                conns: Mutex::new(Vec::new()),
                permits: Semaphore::new(size),
                describe: target.describe(),
            }),
        };
        if migrate_now {
            db.call_sync(migrate)?;
        } else {
            db.call_sync(|_| Ok(()))?; // reachable, or a clear error now
        }
        Ok(db)
    }

    /// Which engine this pool talks to.
    pub fn backend(&self) -> Backend {
        match self.inner.target {
            Target::Sqlite(_) => Backend::Sqlite,
            Target::Pg(_) => Backend::Postgres,
        }
    }

    /// The database, password hidden.
    pub fn describe(&self) -> &str {
        &self.inner.describe
    }

    fn connect(&self) -> Result<Conn> {
        let conn = match &self.inner.target {
            Target::Sqlite(path) => sqlite::open(path).map(Conn::Sqlite),
            Target::Pg(t) => pg::PgConn::connect(&t.config, t.tls.as_ref()).map(Conn::Pg),
        };
        conn.map_err(|e| {
            Error::Unavailable(format!(
                "cannot open the database {}: {e}",
                self.inner.describe
            ))
        })
    }

    fn take(&self) -> Result<Conn> {
        let pooled = self
            .inner
            .conns
            .lock()
            .map_err(|_| Error::internal("db pool poisoned"))?
            .pop();
        match pooled {
            Some(c) => Ok(c),
            None => self.connect(),
        }
    }

    fn give_back(&self, conn: Conn) {
        if conn.is_broken() {
            return;
        }
        if let Ok(mut pool) = self.inner.conns.lock() {
            pool.push(conn);
        }
    }

    /// Run `f` with a connection on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut Conn) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(Error::internal)?;
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.take()?;
            let out = f(&mut conn);
            db.give_back(conn);
            out
        })
        .await
        .map_err(Error::internal)?
    }

    /// Run `f` synchronously (CLI paths).
    pub fn call_sync<T: Send>(&self, f: impl FnOnce(&mut Conn) -> Result<T> + Send) -> Result<T> {
        let run = || {
            let mut conn = self.take()?;
            let out = f(&mut conn);
            self.give_back(conn);
            out
        };
        match self.backend() {
            // rusqlite blocks only this thread; nothing to step around.
            Backend::Sqlite => run(),
            // A PostgreSQL connection blocks on its own runtime, which may not start inside
            // another one.
            Backend::Postgres => off_runtime(run),
        }
    }
}

/// Current time as RFC 3339 with milliseconds and a `Z`, the only form the HF client parses.
pub fn now_str() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// `true` when a statement failed on a UNIQUE or PRIMARY KEY constraint.
pub fn is_unique_violation(e: &DbError) -> bool {
    match e {
        DbError::Sqlite(rusqlite::Error::SqliteFailure(err, _)) => {
            err.code == rusqlite::ErrorCode::ConstraintViolation
        }
        DbError::Postgres(pg) => {
            pg.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
        }
        _ => false,
    }
}

/// `true` when the database could not write for lack of space: SQLite's `SQLITE_FULL`
/// ("database or disk is full") or PostgreSQL's `53100 disk_full`.
pub fn is_out_of_space(e: &DbError) -> bool {
    match e {
        DbError::Sqlite(rusqlite::Error::SqliteFailure(err, _)) => {
            err.code == rusqlite::ErrorCode::DiskFull
        }
        DbError::Postgres(pg) => pg.code() == Some(&tokio_postgres::error::SqlState::DISK_FULL),
        _ => false,
    }
}

/// Consistent online copy of a SQLite database (`VACUUM INTO`), safe while others write.
pub fn backup_to(conn: &mut Conn, path: &str) -> Result<()> {
    match conn {
        Conn::Sqlite(c) => {
            c.execute("VACUUM INTO ?1", [path]).map_err(DbError::from)?;
            Ok(())
        }
        Conn::Pg(_) => Err(Error::bad_request(
            "backup copies a SQLite file; for PostgreSQL use pg_dump (or `kohaku db copy` to a \
             sqlite:// URL)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database that cannot grow fails with `SQLITE_FULL`, which must become the 507
    /// error, not a 500.
    #[test]
    fn sqlite_full_is_out_of_space() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (v BLOB); PRAGMA max_page_count = 8;")
            .unwrap();
        let full = (0..64)
            .map(|_| c.execute("INSERT INTO t (v) VALUES (zeroblob(4096))", []))
            .find_map(|r| r.err())
            .expect("the database fills up");
        let e = DbError::from(full);
        assert!(is_out_of_space(&e), "{e}");
        assert!(matches!(Error::from(e), Error::InsufficientStorage(_)));
        let other = DbError::from(
            c.execute("INSERT INTO nope VALUES (1)", [])
                .expect_err("no such table"),
        );
        assert!(!is_out_of_space(&other));
        assert!(matches!(Error::from(other), Error::Database(_)));
    }
}
