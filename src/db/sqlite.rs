//! The SQLite side of [`super::Conn`]: one file, WAL, cached prepared statements.

use std::path::Path;

use rusqlite::types::{Value as SqlValue, ValueRef};

use super::conn::{DbResult, ResultSet};
use super::value::Value;

/// Open one connection with the pragmas every connection needs.
pub(super) fn open(path: &Path) -> DbResult<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

fn to_sql(v: Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Int(i) => SqlValue::Integer(i),
        Value::Real(f) => SqlValue::Real(f),
        Value::Text(s) => SqlValue::Text(s),
        Value::Blob(b) => SqlValue::Blob(b),
    }
}

fn from_ref(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn bind(params: Vec<Value>) -> impl rusqlite::Params {
    rusqlite::params_from_iter(params.into_iter().map(to_sql))
}

pub(super) fn query(
    conn: &rusqlite::Connection,
    sql: &str,
    params: Vec<Value>,
) -> DbResult<ResultSet> {
    let mut stmt = conn.prepare_cached(sql)?;
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let n = names.len();
    let mut rows = stmt.query(bind(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(from_ref(row.get_ref(i)?));
        }
        out.push(values);
    }
    Ok(ResultSet { names, rows: out })
}

pub(super) fn execute(
    conn: &rusqlite::Connection,
    sql: &str,
    params: Vec<Value>,
) -> DbResult<usize> {
    Ok(conn.prepare_cached(sql)?.execute(bind(params))?)
}
