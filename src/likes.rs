//! Likes: one row per (repo, user); the repo's counter moves in the same transaction, so it
//! stays exact under concurrent likes.

use crate::db::Conn;
use crate::params;

use crate::accounts::Caller;
use crate::db::now_str;
use crate::error::{Error, Result};
use crate::perms::readable_repos_sql;
use crate::repos::{repo_from_row, Repo, REPO_COLS};

/// Like (`true`) or unlike; returns the new count.
pub fn set_like(conn: &mut Conn, repo_id: i64, user_id: i64, like: bool) -> Result<i64> {
    let tx = crate::db::row_tx(conn)?;
    let changed = if like {
        tx.execute(
            "INSERT INTO repo_likes (repo_id, user_id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![repo_id, user_id, now_str()],
        )?
    } else {
        tx.execute(
            "DELETE FROM repo_likes WHERE repo_id = ?1 AND user_id = ?2",
            params![repo_id, user_id],
        )?
    };
    if changed > 0 {
        let delta = if like { 1 } else { -1 };
        tx.execute(
            "UPDATE repos SET likes = likes + ?1 WHERE id = ?2",
            params![delta, repo_id],
        )?;
    }
    let count: i64 = tx.query_row("SELECT likes FROM repos WHERE id = ?1", [repo_id], |r| {
        r.get(0)
    })?;
    tx.commit()?;
    Ok(count)
}

pub fn has_liked(conn: &Conn, repo_id: i64, user_id: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM repo_likes WHERE repo_id = ?1 AND user_id = ?2",
        params![repo_id, user_id],
        |r| r.get::<_, i64>(0),
    )? > 0)
}

/// Users who liked a repo, newest first: `(username, full name, liked at)`.
pub fn likers(
    conn: &Conn,
    repo_id: i64,
    offset: u64,
    limit: u64,
) -> Result<Vec<(String, Option<String>, String)>> {
    let mut stmt = conn.prepare(
        "SELECT u.username, u.full_name, l.created_at FROM repo_likes l JOIN users u ON u.id = l.user_id \
         WHERE l.repo_id = ?1 ORDER BY l.created_at DESC, u.id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt.query_map(params![repo_id, limit as i64, offset as i64], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<crate::db::DbResult<Vec<_>>>()?)
}

/// Repos a user liked that the caller may see: `(repo, liked at)`.
pub fn liked_by(
    conn: &Conn,
    username: &str,
    caller: Option<&Caller>,
    offset: u64,
    limit: u64,
) -> Result<Vec<(Repo, String)>> {
    let user = crate::accounts::require_user(conn, username)
        .map_err(|_| Error::EntryNotFound(format!("User '{username}' not found")))?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {REPO_COLS}, l.created_at FROM repo_likes l JOIN repos r ON r.id = l.repo_id \
         WHERE l.user_id = ?1 AND {} ORDER BY l.created_at DESC, r.id DESC LIMIT ?2 OFFSET ?3",
        readable_repos_sql(caller)
    ))?;
    let rows = stmt.query_map(params![user.id, limit as i64, offset as i64], |r| {
        Ok((repo_from_row(r)?, r.get(11)?))
    })?;
    Ok(rows.collect::<crate::db::DbResult<Vec<_>>>()?)
}
