//! `kohaku db copy`: move a hub's metadata between databases (SQLite → PostgreSQL, or back).
//!
//! Atomic: the target is written in one transaction and committed only when every row is in,
//! so an interrupted copy leaves the target empty and can simply be run again. The source is
//! read inside one snapshot (a read transaction), so a hub still serving cannot tear it.

use super::conn::{write_tx, Backend, Conn};
use super::value::Value;
use crate::error::{Error, Result};

/// Rows per read from the source.
const PAGE: i64 = 2000;

/// Tables in creation order (parents before children), read from `schema.sql` so a new table
/// cannot be forgotten.
pub fn tables() -> Vec<&'static str> {
    include_str!("../../schema.sql")
        .lines()
        .filter_map(|l| l.strip_prefix("CREATE TABLE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect()
}

/// One table's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableCopy {
    pub table: String,
    pub source_rows: i64,
    pub target_rows: i64,
}

fn count(conn: &Conn, table: &str) -> Result<i64> {
    Ok(conn.query_row(
        &format!("SELECT COUNT(*) FROM {table}"),
        crate::params![],
        |r| r.get(0),
    )?)
}

fn columns(conn: &Conn, table: &str) -> Result<Vec<String>> {
    let sql = match conn.backend() {
        Backend::Sqlite => format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
        Backend::Postgres => format!(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = \
             current_schema() AND table_name = '{table}' ORDER BY ordinal_position"
        ),
    };
    Ok(conn.query_all(&sql, crate::params![], |r| r.get(0))?)
}

/// Copy every table from `from` to `to`. Both must be at the same schema version; the target
/// must be empty. `progress(table, rows_copied_so_far)` is called after each page.
pub fn copy(
    from: &mut Conn,
    to: &mut Conn,
    mut progress: impl FnMut(&str, i64),
) -> Result<Vec<TableCopy>> {
    let (va, vb) = (super::applied_versions(from)?, super::applied_versions(to)?);
    if va != vb {
        return Err(Error::bad_request(format!(
            "schema versions differ (source {:?}, target {:?}): run `kohaku db migrate` on both",
            va.last(),
            vb.last()
        )));
    }
    let tables = tables();
    for t in &tables {
        if count(to, t)? > 0 {
            return Err(Error::bad_request(format!(
                "the target already holds data (table {t}); copy only into an empty database"
            )));
        }
    }
    // One snapshot of the source for the whole copy.
    match from.backend() {
        Backend::Sqlite => from.execute_batch("BEGIN")?,
        Backend::Postgres => {
            from.execute_batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?
        }
    }
    let result = copy_tables(from, to, &tables, &mut progress);
    let _ = from.execute_batch("ROLLBACK");
    let copied = result?;
    // Checked after commit, on fresh reads of both sides.
    let mut out = Vec::new();
    for (t, n) in copied {
        let target_rows = count(to, &t)?;
        out.push(TableCopy {
            table: t,
            source_rows: n,
            target_rows,
        });
    }
    if let Some(bad) = out.iter().find(|c| c.source_rows != c.target_rows) {
        return Err(Error::internal(format!(
            "table {}: {} rows read, {} in the target",
            bad.table, bad.source_rows, bad.target_rows
        )));
    }
    Ok(out)
}

fn copy_tables(
    from: &mut Conn,
    to: &mut Conn,
    tables: &[&str],
    progress: &mut impl FnMut(&str, i64),
) -> Result<Vec<(String, i64)>> {
    let target_backend = to.backend();
    let tx = write_tx(to)?;
    let mut copied = Vec::new();
    for t in tables {
        let cols = columns(from, t)?;
        if cols.is_empty() {
            return Err(Error::internal(format!(
                "table {t} has no columns in the source"
            )));
        }
        let target_cols = columns(&tx, t)?;
        if target_cols != cols {
            return Err(Error::bad_request(format!(
                "table {t} has columns {cols:?} in the source and {target_cols:?} in the target"
            )));
        }
        let list = cols.join(", ");
        let order: Vec<String> = (1..=cols.len()).map(|i| i.to_string()).collect();
        let select = format!(
            "SELECT {list} FROM {t} ORDER BY {} LIMIT ?1 OFFSET ?2",
            order.join(", ")
        );
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let insert = format!("INSERT INTO {t} ({list}) VALUES ({})", marks.join(", "));
        let mut done = 0i64;
        loop {
            let page: Vec<Vec<Value>> =
                from.query_all(&select, crate::params![PAGE, done], |r| {
                    Ok((0..r.len())
                        .map(|i| r.value(i).cloned().unwrap_or(Value::Null))
                        .collect())
                })?;
            let n = page.len() as i64;
            for row in page {
                tx.execute(&insert, row)?;
            }
            done += n;
            progress(t, done);
            if n < PAGE {
                break;
            }
        }
        if target_backend == Backend::Postgres {
            // Identity columns do not advance on explicit ids: start after the copied ones.
            let identity: Vec<String> = tx.query_all(
                "SELECT column_name::text FROM information_schema.columns WHERE table_schema = \
                 current_schema() AND table_name = ?1 AND is_identity = 'YES'",
                [*t],
                |r| r.get(0),
            )?;
            for c in identity {
                tx.query_row(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), \
                         COALESCE(MAX({c}), 0) + 1, false) FROM {t}"
                    ),
                    crate::params![],
                    |_| Ok(()),
                )?;
            }
        }
        copied.push((t.to_string(), done));
    }
    tx.commit()?;
    Ok(copied)
}
