//! Refs (branches, tags, `refs/pr/N`) live in the database and move by compare-and-swap.

use crate::db::{Conn, OptionalExtension};
use crate::params;

use crate::db::now_str;
use crate::error::{Error, Result};
use crate::git::object::is_sha1_hex;
use crate::hub::Hub;
use crate::repos::Repo;

pub const MAIN: &str = "refs/heads/main";

pub fn branch_ref(name: &str) -> String {
    format!("refs/heads/{name}")
}
pub fn tag_ref(name: &str) -> String {
    format!("refs/tags/{name}")
}

pub fn get_ref(conn: &Conn, repo_id: i64, name: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare("SELECT target FROM refs WHERE repo_id = ?1 AND name = ?2")?
        .query_row(params![repo_id, name], |r| r.get(0))
        .optional()?)
}

pub fn list_refs(conn: &Conn, repo_id: i64) -> Result<Vec<(String, String)>> {
    let mut stmt =
        conn.prepare("SELECT name, target FROM refs WHERE repo_id = ?1 ORDER BY name")?;
    let rows = stmt.query_map([repo_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<crate::db::DbResult<Vec<_>>>()?)
}

/// Move `name` from `old` to `new` atomically. `old = None` means "must not exist yet",
/// `new = None` deletes. Returns `false` when another writer got there first.
pub fn cas_ref(
    conn: &Conn,
    repo_id: i64,
    name: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<bool> {
    let n = match (old, new) {
        (None, Some(new)) => conn.execute(
            "INSERT INTO refs (repo_id, name, target, updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![repo_id, name, new, now_str()],
        )?,
        (Some(old), Some(new)) => conn.execute(
            "UPDATE refs SET target = ?1, updated_at = ?2 WHERE repo_id = ?3 AND name = ?4 AND target = ?5",
            params![new, now_str(), repo_id, name, old],
        )?,
        (Some(old), None) => conn.execute(
            "DELETE FROM refs WHERE repo_id = ?1 AND name = ?2 AND target = ?3",
            params![repo_id, name, old],
        )?,
        (None, None) => return Err(Error::internal("cas_ref with neither old nor new")),
    };
    Ok(n == 1)
}

/// A revision resolved to a commit, with the branch it names when it names one.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub commit: String,
    /// Full ref name (`refs/heads/main`) when the revision is a branch.
    pub branch: Option<String>,
}

/// The ref a revision names, if any: `(full name, target)`. Synchronous so callers can do it
/// in the same database round trip as the repo lookup.
pub fn lookup_rev(conn: &Conn, repo_id: i64, rev: &str) -> Result<Option<(String, String)>> {
    let candidates: Vec<String> = if rev.starts_with("refs/") {
        vec![rev.to_string()]
    } else {
        vec![format!("refs/heads/{rev}"), format!("refs/tags/{rev}")]
    };
    for cand in candidates {
        if let Some(t) = get_ref(conn, repo_id, &cand)? {
            return Ok(Some((cand, t)));
        }
    }
    Ok(None)
}

/// Resolve a branch, tag, full ref or full commit id. Unknown → `RevisionNotFound`.
pub async fn resolve(hub: &Hub, repo: &Repo, rev: &str) -> Result<Resolved> {
    let (repo_id, r) = (repo.id, rev.to_string());
    let found = hub.db.call(move |c| lookup_rev(c, repo_id, &r)).await?;
    finish_resolve(hub, repo, rev, found).await
}

/// Second half of [`resolve`], given what [`lookup_rev`] found.
pub async fn finish_resolve(
    hub: &Hub,
    repo: &Repo,
    rev: &str,
    found: Option<(String, String)>,
) -> Result<Resolved> {
    if let Some((name, target)) = found {
        let commit = hub
            .objects
            .peel_to_commit(repo.id, &target)
            .await?
            .ok_or_else(|| Error::internal(format!("ref {name} does not point at a commit")))?;
        let branch = name.starts_with("refs/heads/") || name.starts_with("refs/pr/");
        return Ok(Resolved {
            commit,
            branch: branch.then_some(name),
        });
    }
    if is_sha1_hex(rev) {
        if let Some(commit) = hub.objects.peel_to_commit(repo.id, rev).await? {
            return Ok(Resolved {
                commit,
                branch: None,
            });
        }
    }
    Err(Error::revision_not_found(rev))
}
