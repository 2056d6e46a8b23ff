//! Large files: the LFS batch API, self-signed transfer URLs, verified streaming uploads.
//!
//! One stored copy per sha256 for the whole hub. Knowing an oid is never enough to use it:
//! a commit may reference an object only if the committer uploaded it or can already read a
//! repository that holds it.

mod batch;
pub mod repo_files;
pub mod settings;
mod sign;
mod upload;

pub use batch::{batch, BatchObject, BatchRequest, BatchResponse, Operation};
pub use sign::{SignedUrl, Signer};
pub use upload::{
    complete_multipart, receive_object, receive_part, settle_pending, verify, CompletePart,
};

use crate::db::{Conn, OptionalExtension};
use crate::params;

use crate::accounts::Caller;
use crate::db::now_str;
use crate::error::Result;
use crate::perms::readable_repos_sql;
use crate::storage::lfs_key;

/// Size of a stored LFS object, `None` if the hub does not have it.
pub fn stored_size(conn: &Conn, oid: &str) -> Result<Option<u64>> {
    Ok(conn
        .query_row("SELECT size FROM lfs_objects WHERE oid = ?1", [oid], |r| {
            r.get::<_, i64>(0)
        })
        .optional()?
        .map(|s| s as u64))
}

/// Size and storage key of a stored LFS object, `None` if the hub does not have it.
pub fn stored_object(conn: &Conn, oid: &str) -> Result<Option<(u64, String)>> {
    Ok(conn
        .query_row(
            "SELECT size, storage_key FROM lfs_objects WHERE oid = ?1",
            [oid],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Option<String>>(1)?)),
        )
        .optional()?
        .map(|(size, key)| (size, key.unwrap_or_else(|| lfs_key(oid)))))
}

/// May `caller` reference `oid` in a commit (proof of possession or readable elsewhere)?
pub fn may_reference(conn: &Conn, caller: &Caller, oid: &str) -> Result<bool> {
    may_read_object(conn, Some(caller), oid)
}

/// May `caller` (`None`: anonymous) know `oid`'s content: it uploaded the bytes itself or can
/// read a repository whose history holds it? Everything else about a stored object — that it
/// exists, its size — must look to it exactly as for an unknown one.
pub fn may_read_object(conn: &Conn, caller: Option<&Caller>, oid: &str) -> Result<bool> {
    if let Some(c) = caller {
        let uploaded: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM lfs_possession WHERE oid = ?1 AND user_id = ?2",
                params![oid, c.user.id],
                |r| r.get(0),
            )
            .optional()?;
        if uploaded.is_some() {
            return Ok(true);
        }
    }
    let readable: Option<i64> = conn
        .query_row(
            &format!(
                "SELECT 1 FROM lfs_history h JOIN repos r ON r.id = h.repo_id WHERE h.oid = ?1 AND {} LIMIT 1",
                readable_repos_sql(caller)
            ),
            [oid],
            |r| r.get(0),
        )
        .optional()?;
    Ok(readable.is_some())
}

/// Is `oid` part of the history of repository `repo_id`?
pub fn repo_has_object(conn: &Conn, repo_id: i64, oid: &str) -> Result<bool> {
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
pub fn record_object(conn: &Conn, oid: &str, size: u64, user_id: i64) -> Result<()> {
    record_object_at(conn, oid, size, user_id, None).map(|_| ())
}

/// Record a verified object stored under `key` (`None`: the canonical key). Returns false
/// when another copy was recorded first; the caller then deletes its own copy.
pub fn record_object_at(
    conn: &Conn,
    oid: &str,
    size: u64,
    user_id: i64,
    key: Option<&str>,
) -> Result<bool> {
    let now = now_str();
    let inserted = conn.execute(
        "INSERT INTO lfs_objects (oid, size, created_at, storage_key) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        params![oid, size as i64, now, key],
    )? == 1;
    conn.execute(
        "INSERT INTO lfs_possession (oid, user_id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params![oid, user_id, now],
    )?;
    Ok(inserted)
}

/// Inside a ref-moving transaction: every LFS object the commit references is still stored.
/// GC deletes rows in its own transaction, so one of the two sees the other.
pub fn ensure_present<'a>(conn: &Conn, oids: impl IntoIterator<Item = &'a str>) -> Result<()> {
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
