//! Turning a parsed commit request into a git commit and moving the branch by CAS.

use crate::db::Conn;

use super::ops::{CommitRequest, Op};
use super::pipeline::{self, RefMove, Source};
use super::tree_edit::TreeEditor;
use crate::accounts::Caller;
use crate::error::{Error, Result};
use crate::git::commit::compose_message;
use crate::git::tree::{MODE_FILE, MODE_TREE};
use crate::git::{Commit, Kind, Pointer, Signature};
use crate::hub::Hub;
use crate::lfs;
use crate::repos::refs::{self, get_ref};
use crate::repos::Repo;

/// How long a commit without `parentCommit` keeps rebuilding on a moving head (writers of
/// other processes) before it answers 503 with `Retry-After`.
const COMMIT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// An LFS file written by a commit or push (a row of the LFS history index).
#[derive(Debug, Clone)]
pub struct LfsAdded {
    pub path: String,
    pub oid: String,
    pub size: u64,
}

/// Resolve `rev` to a branch ref name for writing; tags and commit ids are not writable.
/// `HEAD` is the default branch, as for reads.
pub async fn writable_branch(hub: &Hub, repo: &Repo, rev: &str) -> Result<String> {
    let branch = refs::unalias(rev);
    let name = if branch.starts_with("refs/heads/") || branch.starts_with("refs/pr/") {
        branch.to_string()
    } else {
        refs::branch_ref(branch)
    };
    let (id, n) = (repo.id, name.clone());
    match hub.db.call(move |c| branch_head(c, id, &n)).await {
        Ok(_) => Ok(name),
        Err(Error::RevisionNotFound(_)) => Err(Error::revision_not_found(rev)),
        Err(e) => Err(e),
    }
}

/// The author line for a caller.
pub fn signature_for(caller: &Caller) -> Signature {
    let email = caller
        .user
        .email
        .clone()
        .unwrap_or_else(|| format!("{}@users.noreply.kohaku", caller.user.username));
    Signature::now(&caller.user.username, &email)
}

/// Check LFS references and fix their sizes; returns the resolved ops and LFS additions.
async fn check_lfs(hub: &Hub, caller: &Caller, repo: &Repo, ops: &mut [Op]) -> Result<()> {
    let mut wanted = Vec::new();
    for op in ops.iter() {
        if let Op::AddLfs { oid, .. } = op {
            wanted.push(oid.clone());
        }
    }
    // A regular file that is itself pointer text would expose the object it names.
    for op in ops.iter() {
        if let Op::AddBlob { oid, size, path } = op {
            if *size as usize <= crate::git::pointer::MAX_POINTER_SIZE {
                if let Some(p) = hub.objects.blob_info(repo.id, oid).await?.lfs {
                    tracing::debug!(path = %path, "regular file is an LFS pointer; checking its object");
                    wanted.push(p.oid);
                }
            }
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    lfs::settle_pending(hub, caller.user.id, &wanted).await?;
    let caller_c = caller.clone();
    let sizes = hub
        .db
        .call(move |c| {
            let mut out = Vec::new();
            for oid in wanted {
                let size = lfs::stored_size(c, &oid)?;
                let usable = size.is_some() && lfs::may_reference(c, &caller_c, &oid)?;
                out.push((oid, if usable { size } else { None }));
            }
            Ok(out)
        })
        .await?;
    for (oid, size) in &sizes {
        if size.is_none() {
            return Err(Error::bad_request(format!(
                "LFS object {oid} has not been uploaded (or you cannot use it): upload it before committing"
            )));
        }
    }
    for op in ops.iter_mut() {
        if let Op::AddLfs { oid, size, path } = op {
            let stored = sizes.iter().find(|(o, _)| o == oid).and_then(|(_, s)| *s);
            match (*size, stored) {
                (Some(given), Some(real)) if given != real => {
                    return Err(Error::bad_request(format!(
                        "Size mismatch for LFS file '{path}': commit says {given}, uploaded object has {real}"
                    )))
                }
                (None, real) => *size = real,
                _ => {}
            }
        }
    }
    Ok(())
}

/// Apply `req` on top of the branch head and move the branch. Returns the new commit id.
///
/// Without `parentCommit` a lost race is retried on the new head; with it, a stale parent
/// answers 412 and nothing moves.
pub async fn create_commit(
    hub: &Hub,
    caller: &Caller,
    repo: &Repo,
    branch: &str,
    mut req: CommitRequest,
) -> Result<String> {
    check_lfs(hub, caller, repo, &mut req.ops).await?;
    // Quota: regular bytes plus LFS objects new to this repository.
    let regular: u64 = req
        .ops
        .iter()
        .map(|op| {
            if let Op::AddBlob { size, .. } = op {
                *size
            } else {
                0
            }
        })
        .sum();
    let lfs_objs: Vec<(String, u64)> = req
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::AddLfs {
                oid,
                size: Some(size),
                ..
            } => Some((oid.clone(), *size)),
            _ => None,
        })
        .collect();
    super::pipeline::precheck(hub, repo, regular, lfs_objs).await?;
    // Pointer blobs for LFS additions are written once, before any retry.
    let mut lfs_added = Vec::new();
    let mut pointer_oids = Vec::new();
    for op in &req.ops {
        if let Op::AddLfs {
            path,
            oid,
            size: Some(size),
        } = op
        {
            let text = Pointer {
                oid: oid.clone(),
                size: *size,
            }
            .render();
            let blob = hub
                .objects
                .write(repo.id, Kind::Blob, text.as_bytes())
                .await?;
            pointer_oids.push(blob);
            lfs_added.push(LfsAdded {
                path: path.clone(),
                oid: oid.clone(),
                size: *size,
            });
        } else {
            pointer_oids.push(String::new());
        }
    }
    let message = compose_message(&req.header.summary, &req.header.description);
    let sig = signature_for(caller);

    // Writers of this process take turns; only other processes can move the head under us.
    // The deadline covers the wait for the turn too.
    let deadline = tokio::time::Instant::now() + COMMIT_DEADLINE;
    let Ok(turn) = tokio::time::timeout_at(deadline, hub.commit_turns.wait(repo.id, branch)).await
    else {
        return Err(busy());
    };
    let mut attempt = 0u64;
    loop {
        attempt += 1;
        let (id, b) = (repo.id, branch.to_string());
        let head = hub.db.call(move |c| branch_head(c, id, &b)).await?;
        if let Some(parent) = &req.header.parent_commit {
            if *parent != head {
                return Err(stale());
            }
        }
        let head_commit = hub.objects.commit(repo.id, &head).await?;
        let mut editor = TreeEditor::new(&hub.objects, repo.id, &head_commit.tree).await?;
        let mut added = lfs_added.clone();
        for (op, pointer) in req.ops.iter().zip(&pointer_oids) {
            match op {
                Op::AddBlob { path, oid, .. } => {
                    editor.put(path, MODE_FILE, oid).await?;
                    if let Some(p) = hub.objects.blob_info(repo.id, oid).await?.lfs {
                        added.push(LfsAdded {
                            path: path.clone(),
                            oid: p.oid,
                            size: p.size,
                        });
                    }
                }
                Op::AddLfs { path, .. } => editor.put(path, MODE_FILE, pointer).await?,
                Op::DeleteFile { path } => editor.delete_file(path).await?,
                Op::DeleteFolder { path } => editor.delete_folder(path).await?,
                Op::Copy {
                    path,
                    src_path,
                    src_revision,
                } => {
                    let src_commit = match src_revision {
                        Some(rev) => refs::resolve(hub, repo, rev).await?.commit,
                        None => head.clone(),
                    };
                    let src_tree = hub.objects.commit(repo.id, &src_commit).await?.tree.clone();
                    let entry = hub
                        .objects
                        .entry_at(repo.id, &src_tree, src_path)
                        .await?
                        .ok_or_else(|| {
                            Error::EntryNotFound(format!("Copy source not found: {src_path}"))
                        })?;
                    let mode = if entry.is_tree() {
                        MODE_TREE
                    } else {
                        entry.mode.as_str()
                    };
                    editor.put(path, mode, &entry.oid).await?;
                    if !entry.is_tree() {
                        if let Some(p) = hub.objects.blob_info(repo.id, &entry.oid).await?.lfs {
                            added.push(LfsAdded {
                                path: path.clone(),
                                oid: p.oid,
                                size: p.size,
                            });
                        }
                    }
                }
            }
        }
        // LFS files get a `.gitattributes` line when no pattern covers them yet.
        let lfs_paths: Vec<String> = req
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::AddLfs { path, .. } => Some(path.clone()),
                _ => None,
            })
            .collect();
        if !lfs_paths.is_empty() {
            let attrs = match req.ops.iter().rev().find_map(|op| match op {
                Op::AddBlob { path, oid, .. } if path == ".gitattributes" => Some(oid.clone()),
                _ => None,
            }) {
                Some(oid) => Some(oid),
                None => hub
                    .objects
                    .entry_at(repo.id, &head_commit.tree, ".gitattributes")
                    .await?
                    .filter(|e| e.is_blob())
                    .map(|e| e.oid),
            };
            let text = match attrs {
                Some(oid) => {
                    String::from_utf8_lossy(&hub.objects.blob(repo.id, &oid).await?).into_owned()
                }
                None => String::new(),
            };
            if let Some(updated) = super::gitattributes::track_lfs_paths(&text, &lfs_paths) {
                let blob = hub
                    .objects
                    .write(repo.id, Kind::Blob, updated.as_bytes())
                    .await?;
                editor.put(".gitattributes", MODE_FILE, &blob).await?;
            }
        }
        let tree = editor.write().await?;
        let commit = Commit {
            tree,
            parents: vec![head.clone()],
            author: sig.clone(),
            committer: sig.clone(),
            message: message.clone(),
        };
        let new_id = hub.objects.write_commit(repo.id, &commit).await?;
        let mv = RefMove::prepare(hub, repo.id, branch, Some(&head), Some(&new_id), added).await?;
        let id = repo.id;
        let outcome = hub
            .db
            .call(move |c| pipeline::apply(c, id, &[mv], true, Source::Commit))
            .await?;
        if let Some(Ok(event)) = outcome.into_iter().next() {
            drop(turn);
            tracing::debug!(?event, "branch moved by a commit");
            return Ok(new_id);
        }
        if req.header.parent_commit.is_some() {
            return Err(stale());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(busy());
        }
        tracing::debug!(
            branch,
            attempt,
            "lost a commit race; retrying on the new head"
        );
        // Writers of several processes: spread the retries out, more as they keep losing.
        let pause = rand::random::<u64>() % (5 * attempt.min(20) + 1);
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
    }
}

/// The branch's head; a repository deleted meanwhile is 404 `RepoNotFound`.
fn branch_head(conn: &Conn, repo_id: i64, branch: &str) -> Result<String> {
    if let Some(head) = get_ref(conn, repo_id, branch)? {
        return Ok(head);
    }
    if crate::repos::exists(conn, repo_id)? {
        Err(Error::revision_not_found(branch))
    } else {
        Err(Error::repo_not_found())
    }
}

fn busy() -> Error {
    Error::Busy("Too many concurrent commits on this branch; retry shortly".into())
}

fn stale() -> Error {
    Error::PreconditionFailed(
        "The branch was updated since you opened this page. Please refresh and try again. (parentCommit is not the branch head)".into(),
    )
}
