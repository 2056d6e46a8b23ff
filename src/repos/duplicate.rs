//! Duplicating a repository (`duplicate_repo`): a new repository the caller creates, holding
//! the source's branches and tags with every git object they reach, copied server-side. LFS
//! content is stored once for the hub, so only the source's LFS history rows are copied: the
//! new repository may then serve, count and keep those objects like the source does.

use std::collections::HashSet;

use futures_util::StreamExt;

use super::create::{insert_row, undo_if_failed, CreateRepo};
use super::refs::list_refs;
use super::{touch, Repo};
use crate::accounts::Caller;
use crate::commits::pipeline::{self, RefMove, Source};
use crate::db::{now_str, write_tx};
use crate::error::{Error, Result};
use crate::git::tree::{parse_tree, MODE_SUBMODULE};
use crate::git::{Commit, Kind, Tag};
use crate::hub::Hub;
use crate::names;
use crate::params;
use crate::storage::git_object_key;

/// Objects copied at once (with a bucket each copy is two round trips).
const COPY_PARALLEL: usize = 16;
/// Objects up to this size are copied through memory (so at most 16 MiB is held at once).
const SMALL_OBJECT: u64 = 1 << 20;

/// Copy `source` (which the caller can read) into a new repository `to` (`namespace/name`),
/// private as asked or as the source is. The namespace's quota must take the source's usage.
/// The work runs in a task of its own: a client that hangs up does not leave a half-filled
/// repository behind (it is finished, or undone on failure, either way).
pub async fn duplicate_repo(
    hub: &Hub,
    caller: &Caller,
    source: &Repo,
    to: &str,
    private: Option<bool>,
) -> Result<Repo> {
    let (hub, caller, source, to) = (hub.clone(), caller.clone(), source.clone(), to.to_string());
    tokio::spawn(async move { duplicate_now(&hub, &caller, &source, &to, private).await })
        .await
        .map_err(|e| Error::internal(format!("repository duplication stopped: {e}")))?
}

async fn duplicate_now(
    hub: &Hub,
    caller: &Caller,
    source: &Repo,
    to: &str,
    private: Option<bool>,
) -> Result<Repo> {
    let (namespace, name) = names::split_repo_id(to)?;
    let src = source.id;
    let (refs, used) = hub
        .db
        .call(move |c| {
            let refs: Vec<(String, String)> = list_refs(c, src)?
                .into_iter()
                .filter(|(n, _)| n.starts_with("refs/heads/") || n.starts_with("refs/tags/"))
                .collect();
            let used: i64 =
                c.query_row("SELECT used_bytes FROM repos WHERE id = ?1", [src], |r| {
                    r.get(0)
                })?;
            Ok((refs, used.max(0) as u64))
        })
        .await?;
    let req = CreateRepo {
        repo_type: source.repo_type,
        namespace,
        name,
        private: private.unwrap_or(source.private),
        sdk: None,
    };
    let repo = insert_row(hub, Some(caller), &req, Some(used)).await?;
    let done = fill(hub, source, &repo, &refs).await;
    undo_if_failed(hub, &repo, done).await?;
    crate::quota::recalc_repo(hub, repo.id).await?;
    Ok(repo)
}

/// Copy the objects `refs` reach, then set the refs and the LFS history in one transaction.
async fn fill(hub: &Hub, source: &Repo, target: &Repo, refs: &[(String, String)]) -> Result<()> {
    let objects = reachable(hub, source.id, refs.iter().map(|(_, t)| t.clone())).await?;
    let (src, dst) = (source.id, target.id);
    let mut copies = futures_util::stream::iter(objects.into_iter().map(|oid| async move {
        let (from, to) = (git_object_key(src, &oid), git_object_key(dst, &oid));
        let missing = || Error::internal(format!("object {oid} of repo {src} is missing"));
        // Small objects (nearly all) in one read; a large blob through a staging file.
        let head = hub
            .storage
            .read_prefix(&from, SMALL_OBJECT + 1)
            .await?
            .ok_or_else(missing)?;
        if head.len() as u64 <= SMALL_OBJECT {
            hub.storage.put_bytes_if_absent(&to, &head).await
        } else if hub.storage.copy(&from, &to).await? {
            Ok(())
        } else {
            Err(missing())
        }
    }))
    .buffer_unordered(COPY_PARALLEL);
    while let Some(r) = copies.next().await {
        r?;
    }
    let (refs, t, ns, name) = (
        refs.to_vec(),
        target.repo_type,
        target.namespace.clone(),
        target.name.clone(),
    );
    hub.db
        .call(move |c| {
            let tx = write_tx(c)?;
            // Through the ref-update pipeline (events); the usage is set by the full
            // recalculation once the copy is done, as the history is copied wholesale.
            for (name, oid) in &refs {
                let mv = RefMove::unmeasured(name, None, Some(oid));
                let _event = pipeline::move_in_tx(&tx, dst, &mv, Source::Duplicate)?;
            }
            tx.execute(
                "INSERT INTO lfs_history (repo_id, path, oid, size, commit_id, created_at) \
                 SELECT ?1, path, oid, size, commit_id, ?2 FROM lfs_history WHERE repo_id = ?3 ORDER BY id",
                params![dst, now_str(), src],
            )?;
            tx.execute(
                "DELETE FROM repo_redirects WHERE repo_type = ?1 AND lower(namespace) = ?2 AND lower(name) = ?3",
                params![t.as_str(), ns.to_ascii_lowercase(), name.to_ascii_lowercase()],
            )?;
            touch(&tx, dst)?;
            tx.commit()?;
            Ok(())
        })
        .await
}

/// Every git object reachable from `tips` (tags, commits, trees, blobs; not submodules).
async fn reachable(
    hub: &Hub,
    repo: i64,
    tips: impl IntoIterator<Item = String>,
) -> Result<HashSet<String>> {
    let mut seen = HashSet::new();
    // (object, known to be a blob: blobs are copied without being read)
    let mut stack: Vec<(String, bool)> = tips.into_iter().map(|t| (t, false)).collect();
    while let Some((oid, blob)) = stack.pop() {
        if !seen.insert(oid.clone()) || blob {
            continue;
        }
        let Some((kind, data)) = hub.objects.read(repo, &oid).await? else {
            return Err(Error::internal(format!(
                "object {oid} of repo {repo} is missing"
            )));
        };
        match kind {
            Kind::Tag => stack.push((Tag::parse_target(&data)?, false)),
            Kind::Commit => {
                let c = Commit::parse(&data)?;
                stack.push((c.tree, false));
                stack.extend(c.parents.into_iter().map(|p| (p, false)));
            }
            Kind::Tree => {
                for e in parse_tree(&data)? {
                    if e.mode != MODE_SUBMODULE {
                        let blob = !e.is_tree();
                        stack.push((e.oid, blob));
                    }
                }
            }
            Kind::Blob => {}
        }
    }
    Ok(seen)
}
