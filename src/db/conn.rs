//! One database connection, SQLite or PostgreSQL, behind the small query API the services use.
//!
//! Services write SQL once, in the dialect both engines accept (`?N` placeholders, `ON
//! CONFLICT`, `RETURNING`); the PostgreSQL side rewrites placeholders and nothing else.

use super::pg::PgConn;
use super::value::{Params, Row, Value};
use super::DbError;

pub type DbResult<T> = std::result::Result<T, DbError>;

/// Which engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection taken from the pool.
pub enum Conn {
    Sqlite(rusqlite::Connection),
    Pg(PgConn),
}

/// Rows of one result: column names and values.
pub(super) struct ResultSet {
    pub names: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Conn {
    /// A private in-memory SQLite database (unit tests).
    pub fn open_in_memory() -> DbResult<Conn> {
        let c = rusqlite::Connection::open_in_memory()?;
        c.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Conn::Sqlite(c))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Pg(_) => Backend::Postgres,
        }
    }

    pub(super) fn run_query(&self, sql: &str, params: Vec<Value>) -> DbResult<ResultSet> {
        match self {
            Conn::Sqlite(c) => super::sqlite::query(c, sql, params),
            Conn::Pg(c) => c.query(sql, params),
        }
    }

    /// Run a statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> DbResult<usize> {
        match self {
            Conn::Sqlite(c) => super::sqlite::execute(c, sql, params.into_values()),
            Conn::Pg(c) => c.execute(sql, params.into_values()),
        }
    }

    /// Several statements without parameters (migrations, transaction control).
    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Pg(c) => c.batch(sql),
        }
    }

    /// The first row mapped by `f`; [`DbError::NoRows`] when there is none.
    pub fn query_row<T, F>(&self, sql: &str, params: impl Params, f: F) -> DbResult<T>
    where
        F: FnOnce(&Row<'_>) -> DbResult<T>,
    {
        let rs = self.run_query(sql, params.into_values())?;
        let first = rs.rows.first().ok_or(DbError::NoRows)?;
        f(&Row {
            names: &rs.names,
            values: first,
        })
    }

    /// Every row mapped by `f`.
    pub fn query_all<T, F>(&self, sql: &str, params: impl Params, mut f: F) -> DbResult<Vec<T>>
    where
        F: FnMut(&Row<'_>) -> DbResult<T>,
    {
        let rs = self.run_query(sql, params.into_values())?;
        rs.rows
            .iter()
            .map(|values| {
                f(&Row {
                    names: &rs.names,
                    values,
                })
            })
            .collect()
    }

    /// A statement to run (possibly several times); statements are cached per connection.
    pub fn prepare<'c>(&'c self, sql: &str) -> DbResult<Stmt<'c>> {
        Ok(Stmt {
            conn: self,
            sql: sql.to_string(),
        })
    }

    /// `true` when the connection can no longer be used (the server went away).
    pub(super) fn is_broken(&self) -> bool {
        match self {
            Conn::Sqlite(_) => false,
            Conn::Pg(c) => c.is_closed(),
        }
    }
}

/// A statement bound to a connection.
pub struct Stmt<'c> {
    conn: &'c Conn,
    sql: String,
}

impl Stmt<'_> {
    pub fn query_map<T, F>(
        &mut self,
        params: impl Params,
        f: F,
    ) -> DbResult<std::vec::IntoIter<DbResult<T>>>
    where
        F: FnMut(&Row<'_>) -> DbResult<T>,
    {
        let rows = self.conn.query_all(&self.sql, params, f)?;
        Ok(rows.into_iter().map(Ok).collect::<Vec<_>>().into_iter())
    }

    pub fn query_row<T, F>(&mut self, params: impl Params, f: F) -> DbResult<T>
    where
        F: FnOnce(&Row<'_>) -> DbResult<T>,
    {
        self.conn.query_row(&self.sql, params, f)
    }

    pub fn exists(&mut self, params: impl Params) -> DbResult<bool> {
        Ok(!self
            .conn
            .run_query(&self.sql, params.into_values())?
            .rows
            .is_empty())
    }

    pub fn execute(&mut self, params: impl Params) -> DbResult<usize> {
        self.conn.execute(&self.sql, params.into_values())
    }
}

/// `.optional()` on a single-row result: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    fn optional(self) -> DbResult<Option<T>>;
}

impl<T> OptionalExtension<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A write transaction; rolled back when dropped without [`Tx::commit`].
pub struct Tx<'a> {
    conn: &'a mut Conn,
    open: bool,
}

impl Tx<'_> {
    pub fn commit(mut self) -> DbResult<()> {
        self.open = false;
        self.conn.execute_batch("COMMIT")
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Start a transaction for writes that are each atomic on their own rows (insert-if-absent, then
/// a counter moved by the outcome): on PostgreSQL a plain `BEGIN`, which row locks and unique
/// indexes keep exact, without queueing behind every other writer of the hub as [`write_tx`]
/// does; on SQLite the same as [`write_tx`] (one writer anyway).
pub fn row_tx(conn: &mut Conn) -> DbResult<Tx<'_>> {
    match conn {
        Conn::Sqlite(_) => write_tx(conn),
        Conn::Pg(c) => {
            c.batch("BEGIN")?;
            Ok(Tx { conn, open: true })
        }
    }
}

/// Start a write transaction that serialises with every other writer up front.
///
/// SQLite: `BEGIN IMMEDIATE` takes the write lock (a deferred transaction that read first would
/// fail with "database is locked" when another writer committed in between). PostgreSQL: a
/// transaction-scoped advisory lock keyed on the schema gives the same one-writer-at-a-time
/// semantics across every hub process, so read-then-write sequences stay correct.
pub fn write_tx(conn: &mut Conn) -> DbResult<Tx<'_>> {
    match conn {
        Conn::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE")?,
        Conn::Pg(c) => c.batch(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':kohaku-writer'))",
        )?,
    }
    Ok(Tx { conn, open: true })
}
