//! The one ref-update pipeline: API commits, git pushes, LFS-file deletion, repo creation and
//! duplication move refs through here, so a GC-safety or quota rule lives in one place.
//!
//! Order of a ref update:
//! 1. permission: checked by the caller before anything is written (write access to the repo;
//!    the daemon's handlers and the git endpoints do it with `perms`), never here;
//! 2. quota pre-check ([`precheck`]) before objects are stored;
//! 3. [`RefMove::prepare`] (outside the transaction): the change in bytes of regular files on
//!    `main` that the move makes, from a diff of the old and new trees (cost grows with the
//!    change, not with the repo);
//! 4. in one write transaction ([`apply`], or [`move_in_tx`] + [`add_usage`] inside a caller's
//!    transaction): LFS objects still present (GC safety), compare-and-swap of each ref, LFS
//!    history rows, usage updated by the change, repo touched;
//! 5. the [`RefUpdated`] events come back to the caller, for listeners to come (webhooks).
//!
//! Usage (`repos.used_bytes`) = sizes of the regular (non-pointer) files on `main` + the LFS
//! bytes of the repo's history ([`crate::quota::repo_lfs_bytes`]). Both parts change only when
//! `main` moves or LFS history rows are added or removed, which all go through here, so the
//! running value stays equal to what `kohaku quota recalculate` computes by walking the tree.

use std::collections::HashMap;

use serde::Serialize;

use super::apply::LfsAdded;
use crate::db::{now_str, Conn};
use crate::error::{Error, Result};
use crate::git::tree::TreeEntry;
use crate::hub::Hub;
use crate::params;
use crate::repos::refs::{cas_ref, MAIN};
use crate::repos::{touch, Repo};

/// What moved a ref (for listeners).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Commit,
    Push,
    LfsDeletion,
    Create,
    Duplicate,
}

/// A ref that moved: the event future webhooks will be fed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefUpdated {
    pub repo_id: i64,
    pub name: String,
    pub old: Option<String>,
    pub new: Option<String>,
    pub source: Source,
    /// Change of the repo's `used_bytes` this move made.
    pub usage_delta: i64,
}

/// Why a ref did not move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The ref is no longer at `old` (another writer won).
    Moved,
    /// The new ref clashes with another (`a` beside `a/b`).
    Conflict(String),
}

/// One ref move, prepared outside the transaction.
#[derive(Debug, Clone)]
pub struct RefMove {
    pub name: String,
    pub old: Option<String>,
    pub new: Option<String>,
    /// LFS files the new commits add (rows of `lfs_history`).
    pub lfs: Vec<LfsAdded>,
    /// Change of the regular-file bytes on `main` (0 for other refs).
    regular_delta: i64,
}

impl RefMove {
    /// A move whose usage effect is measured: for `main`, the regular bytes of the new tree
    /// minus those of the old, from a diff that skips subtrees the two share.
    pub async fn prepare(
        hub: &Hub,
        repo_id: i64,
        name: &str,
        old: Option<&str>,
        new: Option<&str>,
        lfs: Vec<LfsAdded>,
    ) -> Result<RefMove> {
        let regular_delta = if name == MAIN {
            let old_tree = root_tree(hub, repo_id, old).await?;
            let new_tree = root_tree(hub, repo_id, new).await?;
            regular_delta(hub, repo_id, old_tree, new_tree).await?
        } else {
            0
        };
        Ok(RefMove {
            name: name.to_string(),
            old: old.map(str::to_string),
            new: new.map(str::to_string),
            lfs,
            regular_delta,
        })
    }

    /// A move whose usage is set afterwards by a full recalculation (duplication).
    pub fn unmeasured(name: &str, old: Option<&str>, new: Option<&str>) -> RefMove {
        RefMove {
            name: name.to_string(),
            old: old.map(str::to_string),
            new: new.map(str::to_string),
            lfs: Vec::new(),
            regular_delta: 0,
        }
    }
}

/// Quota pre-check of a write: `regular` bytes of new plain files plus the LFS objects
/// (`(oid, size)`) new to this repository must fit every quota. Runs before anything is stored.
pub async fn precheck(hub: &Hub, repo: &Repo, regular: u64, lfs: Vec<(String, u64)>) -> Result<()> {
    let r = repo.clone();
    hub.db
        .call(move |c| {
            let extra = regular + crate::quota::new_lfs_bytes(c, r.id, &lfs)?;
            crate::quota::check_repo(c, &r, extra)
        })
        .await
}

/// Move `moves` in one transaction. `atomic`: any refusal undoes every move (nothing is
/// written, not even the repo touch); otherwise the refs that can move do. One outcome per move,
/// in order.
pub fn apply(
    conn: &mut Conn,
    repo_id: i64,
    moves: &[RefMove],
    atomic: bool,
    source: Source,
) -> Result<Vec<std::result::Result<RefUpdated, Refused>>> {
    let tx = crate::db::write_tx(conn)?;
    crate::lfs::ensure_present(
        &tx,
        moves
            .iter()
            .flat_map(|m| m.lfs.iter().map(|f| f.oid.as_str())),
    )?;
    let mut out = Vec::with_capacity(moves.len());
    let mut delta = 0i64;
    for m in moves {
        let r = move_in_tx(&tx, repo_id, m, source)?;
        match &r {
            Ok(ev) => delta += ev.usage_delta,
            Err(_) if atomic => {
                // Dropping the transaction undoes the moves made so far.
                out.push(r);
                return Ok(out);
            }
            Err(_) => {}
        }
        out.push(r);
    }
    add_usage(&tx, repo_id, delta)?;
    touch(&tx, repo_id)?;
    tx.commit()?;
    Ok(out)
}

/// One compare-and-swap with its LFS history rows, inside the caller's write transaction
/// (which must also call [`add_usage`] with the events' deltas and touch the repo).
pub fn move_in_tx(
    tx: &Conn,
    repo_id: i64,
    m: &RefMove,
    source: Source,
) -> Result<std::result::Result<RefUpdated, Refused>> {
    match cas_ref(tx, repo_id, &m.name, m.old.as_deref(), m.new.as_deref()) {
        Ok(true) => {}
        Ok(false) => return Ok(Err(Refused::Moved)),
        Err(Error::Conflict { message, .. }) => return Ok(Err(Refused::Conflict(message))),
        Err(e) => return Err(e),
    }
    let mut usage_delta = m.regular_delta;
    if !m.lfs.is_empty() {
        // Measured before the rows go in: the bytes these objects add to the history's.
        usage_delta += crate::quota::lfs_rows_bytes(tx, repo_id, &m.lfs)? as i64;
        let now = now_str();
        let commit = m.new.as_deref().unwrap_or_default();
        for f in &m.lfs {
            tx.execute(
                "INSERT INTO lfs_history (repo_id, path, oid, size, commit_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![repo_id, f.path, f.oid, f.size as i64, commit, now],
            )?;
        }
    }
    Ok(Ok(RefUpdated {
        repo_id,
        name: m.name.clone(),
        old: m.old.clone(),
        new: m.new.clone(),
        source,
        usage_delta,
    }))
}

/// Add `delta` to the repo's usage, inside the ref-moving transaction.
pub fn add_usage(tx: &Conn, repo_id: i64, delta: i64) -> Result<()> {
    if delta != 0 {
        tx.execute(
            "UPDATE repos SET used_bytes = used_bytes + ?1 WHERE id = ?2",
            params![delta, repo_id],
        )?;
    }
    Ok(())
}

async fn root_tree(hub: &Hub, repo_id: i64, target: Option<&str>) -> Result<Option<String>> {
    let Some(t) = target else { return Ok(None) };
    let commit = hub
        .objects
        .peel_to_commit(repo_id, t)
        .await?
        .ok_or_else(|| Error::internal(format!("{t} is not a commit")))?;
    Ok(Some(
        hub.objects.commit(repo_id, &commit).await?.tree.clone(),
    ))
}

/// Regular-file bytes of `new` minus those of `old` (trees; `None` is empty), counted as
/// [`crate::quota::recalc_repo`] counts them: every path once, LFS pointers and submodules as
/// nothing. Subtrees with the same id on both sides are skipped.
pub async fn regular_delta(
    hub: &Hub,
    repo: i64,
    old: Option<String>,
    new: Option<String>,
) -> Result<i64> {
    let mut delta = 0i64;
    let mut pairs = vec![(old, new)];
    while let Some((a, b)) = pairs.pop() {
        if a == b {
            continue;
        }
        let left = match &a {
            Some(t) => Some(hub.objects.tree(repo, t).await?),
            None => None,
        };
        let right = match &b {
            Some(t) => Some(hub.objects.tree(repo, t).await?),
            None => None,
        };
        let mut by_name: HashMap<&str, (Option<&TreeEntry>, Option<&TreeEntry>)> = HashMap::new();
        for e in left.iter().flat_map(|t| t.iter()) {
            by_name.entry(e.name.as_str()).or_default().0 = Some(e);
        }
        for e in right.iter().flat_map(|t| t.iter()) {
            by_name.entry(e.name.as_str()).or_default().1 = Some(e);
        }
        for (_, (x, y)) in by_name {
            if let (Some(x), Some(y)) = (x, y) {
                if x.oid == y.oid && x.mode == y.mode {
                    continue;
                }
            }
            let (xt, yt) = (
                x.filter(|e| e.is_tree()).map(|e| e.oid.clone()),
                y.filter(|e| e.is_tree()).map(|e| e.oid.clone()),
            );
            if xt.is_some() || yt.is_some() {
                pairs.push((xt, yt));
            }
            if let Some(x) = x.filter(|e| e.is_blob()) {
                delta -= blob_regular_bytes(hub, repo, &x.oid).await? as i64;
            }
            if let Some(y) = y.filter(|e| e.is_blob()) {
                delta += blob_regular_bytes(hub, repo, &y.oid).await? as i64;
            }
        }
    }
    Ok(delta)
}

async fn blob_regular_bytes(hub: &Hub, repo: i64, oid: &str) -> Result<u64> {
    let info = hub.objects.blob_info(repo, oid).await?;
    Ok(if info.lfs.is_some() { 0 } else { info.size })
}
