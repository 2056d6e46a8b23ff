//! Download statistics: sessions of 15-minute buckets counted on resolve GETs (and git
//! fetches), rolled up into daily rows by `kohaku stats rollup`, and trending scores.

use std::collections::HashMap;

use crate::db::Conn;
use crate::params;
use chrono::{NaiveDate, Utc};

use crate::db::now_str;
use crate::error::Result;

/// Length of a download session bucket.
pub const BUCKET_SECS: i64 = 900;

/// Count a download of `file` by the session `session_key`. A session counts once per bucket
/// (a snapshot or clone of many files is one download); repeats only add to its file count.
pub fn record_download(
    conn: &mut Conn,
    repo_id: i64,
    session_key: &str,
    authenticated: bool,
    file: &str,
) -> Result<bool> {
    let bucket = Utc::now().timestamp() / BUCKET_SECS;
    let now = now_str();
    // On every download: row atomicity keeps it exact, no hub-wide writer queue.
    let tx = crate::db::row_tx(conn)?;
    let new = tx.execute(
        "INSERT INTO download_sessions (repo_id, session_key, time_bucket, authenticated, file_count, first_file, first_download_at, last_download_at) \
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?6) ON CONFLICT DO NOTHING",
        params![repo_id, session_key, bucket, authenticated, file, now],
    )? > 0;
    if new {
        tx.execute(
            "UPDATE repos SET downloads = downloads + 1 WHERE id = ?1",
            [repo_id],
        )?;
    } else {
        tx.execute(
            "UPDATE download_sessions SET file_count = file_count + 1, last_download_at = ?1 WHERE repo_id = ?2 AND session_key = ?3 AND time_bucket = ?4",
            params![now, repo_id, session_key, bucket],
        )?;
    }
    tx.commit()?;
    Ok(new)
}

/// One day of a repo's downloads.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Day {
    pub date: String,
    pub downloads: i64,
    pub authenticated: i64,
    pub anonymous: i64,
    pub files: i64,
}

/// The UTC day (`YYYY-MM-DD`) of a session's 15-minute bucket, in the connection's dialect.
fn day_of_bucket(conn: &Conn) -> &'static str {
    match conn.backend() {
        crate::db::Backend::Sqlite => "date(time_bucket * 900, 'unixepoch')",
        crate::db::Backend::Postgres => {
            "to_char(to_timestamp(time_bucket * 900) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        }
    }
}

/// What `rollup` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RollupReport {
    pub days_written: usize,
    pub sessions_pruned: usize,
}

/// Aggregate sessions into `daily_repo_stats` (recomputing whole days, so running it twice
/// changes nothing), then prune sessions of whole days older than `keep_days`.
pub fn rollup(conn: &mut Conn, since: Option<NaiveDate>, keep_days: i64) -> Result<RollupReport> {
    let tx = crate::db::write_tx(conn)?;
    let since_s = since
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "0000-00-00".into());
    let day = day_of_bucket(&tx);
    let days_written = tx.execute(
        &format!(
            "INSERT INTO daily_repo_stats (repo_id, date, download_sessions, authenticated_downloads, anonymous_downloads, total_files) \
             SELECT repo_id, {day} AS d, COUNT(*), SUM(authenticated), SUM(1 - authenticated), SUM(file_count) \
             FROM download_sessions WHERE {day} >= ?1 GROUP BY repo_id, d \
             ON CONFLICT (repo_id, date) DO UPDATE SET download_sessions = excluded.download_sessions, \
             authenticated_downloads = excluded.authenticated_downloads, anonymous_downloads = excluded.anonymous_downloads, \
             total_files = excluded.total_files"
        ),
        [&since_s],
    )?;
    let cutoff_day = (Utc::now().date_naive() - chrono::Duration::days(keep_days.max(1)))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or(0);
    // Only days that are aggregated (all of them, when --since is not given) are pruned.
    let prune_from = since
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
        .unwrap_or(i64::MIN);
    let sessions_pruned = if prune_from == i64::MIN {
        tx.execute(
            "DELETE FROM download_sessions WHERE time_bucket < ?1",
            [cutoff_day / BUCKET_SECS],
        )?
    } else {
        tx.execute(
            "DELETE FROM download_sessions WHERE time_bucket < ?1 AND time_bucket >= ?2",
            params![cutoff_day / BUCKET_SECS, prune_from / BUCKET_SECS],
        )?
    };
    tx.commit()?;
    Ok(RollupReport {
        days_written,
        sessions_pruned,
    })
}

/// Per-day downloads of one repo over the last `days` days (today included): sessions still
/// present are counted directly, older days come from the rollup.
pub fn recent(conn: &Conn, repo_id: i64, days: i64) -> Result<Vec<Day>> {
    let per_repo = recent_by_repo(conn, Some(repo_id), days)?;
    let mut map = per_repo.get(&repo_id).cloned().unwrap_or_default();
    let today = Utc::now().date_naive();
    let mut out = Vec::new();
    for i in (0..days).rev() {
        let d = (today - chrono::Duration::days(i))
            .format("%Y-%m-%d")
            .to_string();
        out.push(map.remove(&d).unwrap_or(Day {
            date: d,
            ..Day::default()
        }));
    }
    Ok(out)
}

/// Per repo, per day downloads over the last `days` days.
pub fn recent_by_repo(
    conn: &Conn,
    repo: Option<i64>,
    days: i64,
) -> Result<HashMap<i64, HashMap<String, Day>>> {
    let start = (Utc::now().date_naive() - chrono::Duration::days(days - 1))
        .format("%Y-%m-%d")
        .to_string();
    let repo_filter = repo
        .map(|r| format!(" AND repo_id = {r}"))
        .unwrap_or_default();
    let start_bucket = NaiveDate::parse_from_str(&start, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp() / BUCKET_SECS)
        .unwrap_or(0);
    let day = day_of_bucket(conn);
    let mut out: HashMap<i64, HashMap<String, Day>> = HashMap::new();
    // Rolled-up days first, then live sessions, which win for the days they cover.
    let queries = [
        (
            format!("SELECT repo_id, date, download_sessions, authenticated_downloads, anonymous_downloads, total_files FROM daily_repo_stats WHERE date >= ?1{repo_filter}"),
            crate::db::Value::Text(start.clone()),
        ),
        (
            format!(
                "SELECT repo_id, {day} AS d, COUNT(*), SUM(authenticated), SUM(1 - authenticated), SUM(file_count) \
                 FROM download_sessions WHERE time_bucket >= ?1{repo_filter} GROUP BY repo_id, d"
            ),
            crate::db::Value::Int(start_bucket),
        ),
    ];
    for (sql, arg) in queries {
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([arg], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Day {
                    date: r.get(1)?,
                    downloads: r.get(2)?,
                    authenticated: r.get(3)?,
                    anonymous: r.get(4)?,
                    files: r.get(5)?,
                },
            ))
        })?;
        for row in rows {
            let (id, d) = row?;
            out.entry(id).or_default().insert(d.date.clone(), d);
        }
    }
    Ok(out)
}

/// Trending score: Σ over the last 7 days of ln(1 + downloads) × 0.8^days_ago.
pub fn trending_scores(conn: &Conn) -> Result<HashMap<i64, f64>> {
    let today = Utc::now().date_naive();
    let mut out = HashMap::new();
    for (repo, days) in recent_by_repo(conn, None, 7)? {
        let mut score = 0.0;
        for (date, d) in days {
            if let Ok(day) = NaiveDate::parse_from_str(&date, "%Y-%m-%d") {
                let ago = (today - day).num_days().max(0) as i32;
                score += (1.0 + d.downloads as f64).ln() * 0.8f64.powi(ago);
            }
        }
        out.insert(repo, score);
    }
    Ok(out)
}

/// Total downloads per repo over the last `days` days.
pub fn recent_totals(conn: &Conn, days: i64) -> Result<HashMap<i64, i64>> {
    Ok(recent_by_repo(conn, None, days)?
        .into_iter()
        .map(|(id, m)| (id, m.values().map(|d| d.downloads).sum()))
        .collect())
}
