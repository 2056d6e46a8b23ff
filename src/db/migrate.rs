//! Embedded migrations, applied in order at start-up and by `kohaku db migrate`.

use rusqlite::Connection;

use crate::error::Result;

/// `(version, sql)` of every migration, oldest first.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_initial.sql")),
    (2, include_str!("../../migrations/0002_accounts_orgs.sql")),
    (
        3,
        include_str!("../../migrations/0003_quota_stats_likes.sql"),
    ),
    (4, include_str!("../../migrations/0004_object_storage.sql")),
];

/// Apply every migration not yet recorded; returns the versions applied now.
pub fn migrate(conn: &mut Connection) -> Result<Vec<i64>> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )?;
    let done = applied_versions(conn)?;
    let mut applied = Vec::new();
    for (version, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        let tx = crate::db::write_tx(conn)?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            rusqlite::params![version, super::now_str()],
        )?;
        tx.commit()?;
        applied.push(*version);
    }
    Ok(applied)
}

/// Versions already recorded in `schema_migrations`.
pub fn applied_versions(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare("SELECT version FROM schema_migrations ORDER BY version")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<std::result::Result<Vec<i64>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tables with their columns (name, type, not null, default, pk) and indexes with their
    /// columns: what must match, whatever the SQL text (ALTERs rewrite it).
    fn schema_of(conn: &Connection) -> Vec<String> {
        let mut out = Vec::new();
        let mut stmt = conn
            .prepare("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY name")
            .unwrap();
        let objs: Vec<(String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        for (kind, name, table) in objs {
            let pragma = if kind == "table" {
                format!("PRAGMA table_info({name})")
            } else {
                format!("PRAGMA index_info({name})")
            };
            let mut p = conn.prepare(&pragma).unwrap();
            let n = p.column_count();
            let cols: Vec<String> = p
                .query_map([], |r| {
                    Ok((0..n)
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join(","))
                })
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            out.push(format!("{kind} {name} on {table}: {}", cols.join(" | ")));
        }
        out
    }

    #[test]
    fn migrations_equal_schema_sql() {
        let mut a = Connection::open_in_memory().unwrap();
        migrate(&mut a).unwrap();
        let b = Connection::open_in_memory().unwrap();
        b.execute_batch(include_str!("../../schema.sql")).unwrap();
        assert_eq!(schema_of(&a), schema_of(&b));
        assert!(
            migrate(&mut a).unwrap().is_empty(),
            "second run applies nothing"
        );
    }
}
