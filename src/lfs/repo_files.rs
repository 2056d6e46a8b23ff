//! A repository's LFS files (`/api/{type}s/{id}/lfs-files`): listing what its history holds,
//! deleting objects for good, and duplicating objects into another repository (`copy_files`).
//!
//! Objects are stored once for the whole hub, so "deleting" an object from a repository takes
//! it out of that repository's history (`lfs_history`, which quota, GC retention and the
//! "may reference" rule read); the bytes go only when no repository's history holds the
//! object any more. The same re-checks as GC keep a commit racing the deletion safe.

use std::collections::HashSet;

use crate::accounts::Caller;
use crate::commits::pipeline::{self, RefMove, Source};
use crate::db::{now_str, write_tx, Conn, OptionalExtension};
use crate::error::{Error, Result};
use crate::git::object::is_sha256_hex;
use crate::git::{Kind, Pointer};
use crate::hub::Hub;
use crate::params;
use crate::repos::refs::list_refs;
use crate::repos::{touch, Repo};

/// One LFS object of a repository's history.
#[derive(Debug, Clone)]
pub struct RepoLfsFile {
    /// The object's sha256 (what deletion takes).
    pub oid: String,
    pub size: u64,
    /// The path it was last committed at.
    pub filename: String,
    /// When it first entered the repository's history.
    pub pushed_at: String,
    /// Git id of its pointer blob.
    pub pointer_oid: String,
}

/// The LFS objects in `repo_id`'s history, most recently committed first.
pub fn list(conn: &Conn, repo_id: i64, offset: u64, limit: u64) -> Result<Vec<RepoLfsFile>> {
    let rows = conn.query_all(
        "SELECT g.oid, g.size, g.first_at, h.path FROM \
         (SELECT oid, MAX(size) AS size, MIN(created_at) AS first_at, MAX(id) AS last_id \
          FROM lfs_history WHERE repo_id = ?1 GROUP BY oid) g \
         JOIN lfs_history h ON h.id = g.last_id ORDER BY g.last_id DESC LIMIT ?2 OFFSET ?3",
        params![repo_id, limit as i64, offset as i64],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        },
    )?;
    Ok(rows
        .into_iter()
        .map(|(oid, size, pushed_at, filename)| {
            let size = size.max(0) as u64;
            let pointer = Pointer {
                oid: oid.clone(),
                size,
            }
            .render();
            RepoLfsFile {
                pointer_oid: crate::git::object::object_id(Kind::Blob, pointer.as_bytes()),
                oid,
                size,
                filename,
                pushed_at,
            }
        })
        .collect())
}

/// Most objects one deletion or duplication request may name (the client sends 1,000 at most
/// in a deletion, 500 in a duplication).
pub const MAX_BATCH: usize = 1000;

/// Lower-cased, de-duplicated sha256 ids; a malformed one refuses the whole request.
fn parse_oids(oids: &[String]) -> Result<Vec<String>> {
    if oids.is_empty() {
        return Err(Error::bad_request("No LFS file given"));
    }
    if oids.len() > MAX_BATCH {
        return Err(Error::PayloadTooLarge(format!(
            "At most {MAX_BATCH} LFS files per request"
        )));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for o in oids {
        let oid = o.to_ascii_lowercase();
        if !is_sha256_hex(&oid) {
            return Err(Error::bad_request(format!(
                "Invalid LFS file id '{o}': a sha256 is expected"
            )));
        }
        if seen.insert(oid.clone()) {
            out.push(oid);
        }
    }
    Ok(out)
}

/// What a permanent deletion did.
#[derive(Debug, Clone, Default)]
pub struct Deleted {
    /// Objects taken out of the repository's history.
    pub files: Vec<String>,
    /// Refs whose history was rewritten: `(name, old, new)`.
    pub rewritten: Vec<(String, String, String)>,
    /// Objects whose bytes were removed (no other repository holds them).
    pub purged: Vec<String>,
}

/// Permanently delete LFS objects from `repo`'s history. Without `rewrite_history`, an object
/// still at the tip of a ref is refused (it would break that revision); with it, every ref's
/// history is rewritten without the files that point at the objects. Nothing changes unless
/// the whole request can be done.
pub async fn delete(
    hub: &Hub,
    repo: &Repo,
    oids: &[String],
    rewrite_history: bool,
) -> Result<Deleted> {
    let oids = parse_oids(oids)?;
    let start = now_str();
    let (rid, wanted) = (repo.id, oids.clone());
    let refs = hub
        .db
        .call(move |c| {
            for oid in &wanted {
                if !super::repo_has_object(c, rid, oid)? {
                    return Err(Error::EntryNotFound(format!(
                        "LFS file {oid} is not in this repository's history"
                    )));
                }
            }
            list_refs(c, rid)
        })
        .await?;
    let doomed: HashSet<String> = oids.iter().cloned().collect();
    // Writers of this process wait while refs are rewritten (each commit takes one turn;
    // these are taken in name order, so no two deletions can wait on each other).
    let mut turns = Vec::new();
    let mut moves = Vec::new();
    // The refs as this request leaves them: checked again when the deletion is written, so a
    // ref created or moved meanwhile (a branch at an old commit that still uses an object)
    // cannot end up pointing at a file whose bytes are gone.
    let mut expected = refs.clone();
    if rewrite_history {
        for (name, _) in &refs {
            turns.push(hub.commit_turns.wait(repo.id, name).await);
        }
        let refs = hub.db.call(move |c| list_refs(c, rid)).await?;
        let mut rw = crate::commits::rewrite::Rewriter::new(hub, repo.id, doomed.clone());
        expected.clear();
        for (name, target) in refs {
            let new = rw.target(&target).await?;
            expected.push((name.clone(), new.clone()));
            if new != target {
                moves.push((name, target, new));
            }
        }
    } else {
        for (name, target) in &refs {
            let Some(commit) = hub.objects.peel_to_commit(repo.id, target).await? else {
                continue;
            };
            let tree = hub.objects.commit(repo.id, &commit).await?.tree.clone();
            if let Some(path) =
                crate::commits::rewrite::find_lfs(hub, repo.id, &tree, &doomed).await?
            {
                return Err(Error::Conflict {
                    message: format!(
                        "'{path}' at {name} still uses this LFS file: delete the file first, \
                         or delete with rewriteHistory to remove it from every revision"
                    ),
                    url: None,
                });
            }
        }
    }
    let mut prepared = Vec::new();
    for (name, old, new) in &moves {
        prepared
            .push(RefMove::prepare(hub, repo.id, name, Some(old), Some(new), Vec::new()).await?);
    }
    let (rid, o) = (repo.id, oids.clone());
    let purged = hub
        .db
        .call(move |c| {
            let tx = write_tx(c)?;
            // Rewritten refs go through the ref-update pipeline; their usage change (regular
            // files of a rewritten main) plus the LFS bytes the history loses are added below.
            let mut delta = 0i64;
            for m in &prepared {
                match pipeline::move_in_tx(&tx, rid, m, Source::LfsDeletion)? {
                    Ok(event) => delta += event.usage_delta,
                    Err(_) => return Err(changed(&m.name)),
                }
            }
            let lfs_before = crate::quota::repo_lfs_bytes(&tx, rid)? as i64;
            // A ref deleted meanwhile is harmless; one created or moved may use the objects.
            if let Some((name, _)) = list_refs(&tx, rid)?
                .into_iter()
                .find(|r| !expected.contains(r))
            {
                return Err(changed(&name));
            }
            // A commit that added one of these objects since this request began wins.
            for oid in &o {
                let newer: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM lfs_history WHERE repo_id = ?1 AND oid = ?2 AND created_at >= ?3",
                    params![rid, oid, start],
                    |r| r.get(0),
                )?;
                if newer > 0 {
                    return Err(Error::Conflict {
                        message: format!("LFS file {oid} was committed again meanwhile; try again"),
                        url: None,
                    });
                }
                tx.execute(
                    "DELETE FROM lfs_history WHERE repo_id = ?1 AND oid = ?2",
                    params![rid, oid],
                )?;
            }
            // Bytes no repository's history holds any more go now.
            let mut purged = Vec::new();
            for oid in &o {
                let held: Option<i64> = tx
                    .query_row("SELECT 1 FROM lfs_history WHERE oid = ?1 LIMIT 1", [oid], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if held.is_some() {
                    continue;
                }
                if let Some((_, key)) = super::stored_object(&tx, oid)? {
                    tx.execute("DELETE FROM lfs_objects WHERE oid = ?1", [oid])?;
                    tx.execute("DELETE FROM lfs_possession WHERE oid = ?1", [oid])?;
                    purged.push((oid.clone(), key));
                }
            }
            // Deletions are rare: the history's LFS bytes are measured before and after.
            delta += crate::quota::repo_lfs_bytes(&tx, rid)? as i64 - lfs_before;
            pipeline::add_usage(&tx, rid, delta)?;
            touch(&tx, rid)?;
            tx.commit()?;
            Ok(purged)
        })
        .await?;
    drop(turns);
    for (_, key) in &purged {
        if let Err(e) = hub.storage.delete(key).await {
            // The row is gone: GC removes a key without a row later.
            tracing::warn!(key, error = %e, "could not delete a purged LFS object now");
        }
    }
    Ok(Deleted {
        files: oids,
        rewritten: moves,
        purged: purged.into_iter().map(|(o, _)| o).collect(),
    })
}

fn changed(name: &str) -> Error {
    Error::Conflict {
        message: format!("{name} changed while LFS files were being deleted; try again"),
        url: None,
    }
}

/// One object a duplication names.
#[derive(Debug, Clone)]
pub struct DuplicateFile {
    pub oid: String,
    /// The Xet file hash the caller expects the object to have, if it says.
    pub xet_hash: Option<String>,
}

/// Why one object could not be duplicated.
#[derive(Debug, Clone)]
pub struct DuplicateFailure {
    pub oid: String,
    pub error: String,
}

/// Make `source`'s LFS objects usable in `target` by `caller` (the server-side half of a
/// cross-repository copy; the commit that follows references them). An object must be in the
/// source's history — knowing its id is not enough, as for commits — and the target's quota
/// must take the bytes it does not hold yet. The caller then holds the objects as if it had
/// uploaded them. Returns the objects that could not be duplicated.
pub async fn duplicate(
    hub: &Hub,
    caller: &Caller,
    source: &Repo,
    target: &Repo,
    files: Vec<DuplicateFile>,
) -> Result<Vec<DuplicateFailure>> {
    let ids: Vec<String> = files.iter().map(|f| f.oid.clone()).collect();
    let oids = parse_oids(&ids)?;
    let (src, tgt, caller) = (source.id, target.clone(), caller.clone());
    hub.db
        .call(move |c| {
            let mut failed = Vec::new();
            let mut ok = Vec::new();
            for oid in &oids {
                let expected = files
                    .iter()
                    .find(|f| f.oid.eq_ignore_ascii_case(oid))
                    .and_then(|f| f.xet_hash.clone());
                let stored: Option<(i64, Option<String>)> = c
                    .query_row(
                        "SELECT size, xet_hash FROM lfs_objects WHERE oid = ?1",
                        [oid],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let in_source = super::repo_has_object(c, src, oid)?;
                let error = match (&stored, in_source) {
                    (Some((_, xet)), true) => match (&expected, xet) {
                        (Some(want), Some(have)) if !want.eq_ignore_ascii_case(have) => {
                            Some("xetHash does not match the stored file".to_string())
                        }
                        (Some(_), None) => {
                            Some("this file was not stored through Xet".to_string())
                        }
                        _ => None,
                    },
                    // Not in the source's history (or its content is gone): the same answer
                    // whether or not the hub has it elsewhere.
                    _ => Some("LFS file not found in the source repository".to_string()),
                };
                match error {
                    Some(error) => failed.push(DuplicateFailure {
                        oid: oid.clone(),
                        error,
                    }),
                    None => ok.push((oid.clone(), stored.map_or(0, |s| s.0.max(0) as u64))),
                }
            }
            let extra = crate::quota::new_lfs_bytes(c, tgt.id, &ok)?;
            crate::quota::check_repo(c, &tgt, extra)?;
            let now = now_str();
            for (oid, _) in &ok {
                c.execute(
                    "INSERT INTO lfs_possession (oid, user_id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    params![oid, caller.user.id, now],
                )?;
            }
            Ok(failed)
        })
        .await
}
