//! Large files: the LFS batch API, self-signed transfer URLs, verified streaming uploads.
//!
//! One stored copy per sha256 for the whole hub. Knowing an oid is never enough to use it:
//! a commit may reference an object only if the committer uploaded it or can already read a
//! repository that holds it.

mod batch;
pub mod settings;
mod sign;
mod upload;

pub use batch::{batch, BatchObject, BatchRequest, BatchResponse, Operation};
pub use sign::{SignedUrl, Signer};
pub use upload::{complete_multipart, receive_object, receive_part, CompletePart};

use rusqlite::{params, Connection, OptionalExtension};

use crate::accounts::Caller;
use crate::db::now_str;
use crate::error::Result;
use crate::perms::readable_repos_sql;

/// Size of a stored LFS object, `None` if the hub does not have it.
pub fn stored_size(conn: &Connection, oid: &str) -> Result<Option<u64>> {
    Ok(conn
        .query_row("SELECT size FROM lfs_objects WHERE oid = ?1", [oid], |r| {
            r.get::<_, i64>(0)
        })
        .optional()?
        .map(|s| s as u64))
}

/// May `caller` reference `oid` in a commit (proof of possession or readable elsewhere)?
pub fn may_reference(conn: &Connection, caller: &Caller, oid: &str) -> Result<bool> {
    let uploaded: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM lfs_possession WHERE oid = ?1 AND user_id = ?2",
            params![oid, caller.user.id],
            |r| r.get(0),
        )
        .optional()?;
    if uploaded.is_some() {
        return Ok(true);
    }
    let readable: Option<i64> = conn
        .query_row(
            &format!(
                "SELECT 1 FROM lfs_history h JOIN repos r ON r.id = h.repo_id WHERE h.oid = ?1 AND {} LIMIT 1",
                readable_repos_sql(Some(caller))
            ),
            [oid],
            |r| r.get(0),
        )
        .optional()?;
    Ok(readable.is_some())
}

/// Is `oid` part of the history of repository `repo_id`?
pub fn repo_has_object(conn: &Connection, repo_id: i64, oid: &str) -> Result<bool> {
    let v: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM lfs_history WHERE repo_id = ?1 AND oid = ?2 LIMIT 1",
            params![repo_id, oid],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.is_some())
}

/// Record a complete, verified object and that `user_id` possesses it.
pub fn record_object(conn: &Connection, oid: &str, size: u64, user_id: i64) -> Result<()> {
    let now = now_str();
    conn.execute(
        "INSERT INTO lfs_objects (oid, size, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params![oid, size as i64, now],
    )?;
    conn.execute(
        "INSERT INTO lfs_possession (oid, user_id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params![oid, user_id, now],
    )?;
    Ok(())
}

/// Inside a ref-moving transaction: every LFS object the commit references is still stored.
/// GC deletes rows in its own transaction, so one of the two sees the other.
pub fn ensure_present<'a>(
    conn: &Connection,
    oids: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    for oid in oids {
        if stored_size(conn, oid)?.is_none() {
            return Err(crate::Error::Conflict {
                message: format!(
                    "LFS object {oid} was garbage-collected while committing; upload it again"
                ),
                url: None,
            });
        }
    }
    Ok(())
}
