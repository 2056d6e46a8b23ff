//! Garbage collection: LFS retention (newest N distinct versions per path), unreferenced LFS
//! objects, unreachable git objects, abandoned uploads, and the storage of deleted repos.
//!
//! Safe next to a serving hub: objects younger than the grace period are never touched
//! (content-addressed writes freshen existing objects), and an LFS object's row is deleted in a
//! transaction that re-checks it, while commits re-check their LFS objects in the transaction
//! that moves the ref — whichever comes second sees the other.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;

use crate::db::OptionalExtension;
use crate::params;
use serde::Serialize;

use crate::error::Result;
use crate::git::tree::MODE_SUBMODULE;
use crate::git::{Commit, Kind, Pointer, Tag};
use crate::hub::Hub;
use crate::repos::refs::list_refs;
use crate::storage::{lfs_key, repo_prefix};

/// What to collect.
#[derive(Debug, Clone)]
pub struct Options {
    pub dry_run: bool,
    /// Restrict LFS retention and git-object collection to one repository.
    pub repo: Option<i64>,
    pub grace: Duration,
}

/// Objects and bytes freed (or, in a dry run, that would be).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Freed {
    pub objects: u64,
    pub bytes: u64,
}

impl Freed {
    fn add(&mut self, bytes: u64) {
        self.objects += 1;
        self.bytes += bytes;
    }
}

/// Per kind of garbage.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub lfs_old_versions: Freed,
    pub lfs_unreferenced: Freed,
    pub git_unreachable: Freed,
    pub abandoned_uploads: Freed,
    pub deleted_repos: Freed,
    /// Xorbs no kept file needs a chunk of.
    pub xet_xorbs: Freed,
    pub dry_run: bool,
}

/// Progress callback: (stage, done, total).
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Send + Sync);

fn older_than(t: SystemTime, grace: Duration) -> bool {
    SystemTime::now()
        .duration_since(t)
        .map(|age| age > grace)
        .unwrap_or(false)
}

/// Repositories walked at the same time.
const SCAN_PARALLEL: usize = 8;

/// LFS oids referenced by the tip of every ref of a repo, and every git object reachable.
async fn reachable(hub: &Hub, repo: i64) -> Result<(HashSet<String>, HashSet<String>)> {
    let refs = hub.db.call(move |c| list_refs(c, repo)).await?;
    let mut objects = HashSet::new();
    let mut tips_lfs = HashSet::new();
    let mut commits: Vec<String> = Vec::new();
    for (_, target) in refs {
        let mut cur = target;
        // Peel tags, keeping the tag objects.
        loop {
            match hub.objects.read(repo, &cur).await? {
                Some((Kind::Tag, data)) => {
                    objects.insert(cur.clone());
                    cur = Tag::parse_target(&data)?;
                }
                Some((Kind::Commit, _)) => {
                    commits.push(cur);
                    break;
                }
                _ => break,
            }
        }
    }
    let tips: HashSet<String> = commits.iter().cloned().collect();
    while let Some(c) = commits.pop() {
        if !objects.insert(c.clone()) {
            continue;
        }
        let Some((Kind::Commit, data)) = hub.objects.read(repo, &c).await? else {
            continue;
        };
        let commit = Commit::parse(&data)?;
        let is_tip = tips.contains(&c);
        let mut trees = vec![commit.tree.clone()];
        while let Some(t) = trees.pop() {
            if !objects.insert(t.clone()) && !is_tip {
                continue;
            }
            let Ok(entries) = hub.objects.tree(repo, &t).await else {
                continue;
            };
            for e in entries.iter() {
                if e.mode == MODE_SUBMODULE {
                    continue;
                }
                if e.is_tree() {
                    trees.push(e.oid.clone());
                } else {
                    let fresh = objects.insert(e.oid.clone());
                    if is_tip || fresh {
                        if let Ok(info) = hub.objects.blob_info(repo, &e.oid).await {
                            if let Some(Pointer { oid, .. }) = info.lfs.filter(|_| is_tip) {
                                tips_lfs.insert(oid);
                            }
                        }
                    }
                }
            }
        }
        commits.extend(
            commit
                .parents
                .iter()
                .filter(|p| !objects.contains(*p))
                .cloned(),
        );
    }
    Ok((tips_lfs, objects))
}

/// How long a collection's lease lasts; a collection that dies leaves it to expire.
const LEASE_TTL: Duration = Duration::from_secs(6 * 3600);

/// Run a collection. A deleting run holds the `gc` lease, so runs started from cron on several
/// machines never overlap (the second answers that the first is running); dry runs only read.
pub async fn run(hub: &Hub, opts: &Options, progress: Progress<'_>) -> Result<Report> {
    if opts.dry_run {
        return collect(hub, opts, progress).await;
    }
    let lease = hub
        .db
        .call(|c| crate::lease::acquire(c, "gc", LEASE_TTL))
        .await?;
    let out = collect(hub, opts, progress).await;
    let back = lease.clone();
    if let Err(e) = hub.db.call(move |c| crate::lease::release(c, &back)).await {
        tracing::warn!("could not release the gc lease: {e}");
    }
    out
}

async fn collect(hub: &Hub, opts: &Options, progress: Progress<'_>) -> Result<Report> {
    let mut report = Report {
        dry_run: opts.dry_run,
        ..Report::default()
    };
    let start = crate::db::now_str();
    let grace_secs = opts.grace.as_secs() as i64;
    let cutoff = (chrono::Utc::now() - chrono::Duration::seconds(grace_secs))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();

    // 1. Storage of deleted repositories.
    let deleted: Vec<i64> = hub
        .db
        .call(|c| {
            let mut st = c.prepare("SELECT repo_id FROM deleted_repos ORDER BY repo_id")?;
            let v = st
                .query_map(crate::params![], |r| r.get(0))?
                .collect::<crate::db::DbResult<Vec<i64>>>()?;
            Ok(v)
        })
        .await?;
    for (i, id) in deleted.iter().enumerate() {
        progress("deleted repositories", i as u64, deleted.len() as u64);
        for o in hub.storage.list(&repo_prefix(*id)).await? {
            report.deleted_repos.add(o.size);
        }
        if !opts.dry_run {
            hub.storage.remove_prefix(&repo_prefix(*id)).await?;
            let id = *id;
            hub.db
                .call(move |c| Ok(c.execute("DELETE FROM deleted_repos WHERE repo_id = ?1", [id])?))
                .await?;
        }
    }

    // 2. What every repository still needs.
    let repo_ids: Vec<(i64, u64)> = hub
        .db
        .call({
            let default_keep = hub.config.lfs_keep_versions;
            move |c| {
                let mut st = c.prepare("SELECT id, lfs_keep_versions FROM repos ORDER BY id")?;
                let v = st
                    .query_map(crate::params![], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?))
                    })?
                    .map(|r| r.map(|(id, k)| (id, k.map(|k| k as u64).unwrap_or(default_keep))))
                    .collect::<crate::db::DbResult<Vec<_>>>()?;
                Ok(v)
            }
        })
        .await?;
    let mut protected: HashSet<String> = HashSet::new();
    let mut reachable_by_repo: HashMap<i64, HashSet<String>> = HashMap::new();
    // Walks run side by side: with a bucket, each object read is a network round trip.
    let mut walks = futures_util::stream::iter(
        repo_ids
            .iter()
            .map(|(id, _)| async move { reachable(hub, *id).await.map(|r| (*id, r)) }),
    )
    .buffered(SCAN_PARALLEL);
    let mut walked = HashMap::new();
    let mut scanned = 0u64;
    while let Some(r) = futures_util::StreamExt::next(&mut walks).await {
        let (id, found) = r?;
        walked.insert(id, found);
        scanned += 1;
        progress("scanning repositories", scanned, repo_ids.len() as u64);
    }
    drop(walks);
    for (id, keep) in repo_ids.iter() {
        let (tips, objects) = walked
            .remove(id)
            .ok_or_else(|| crate::Error::internal("repository walk missing"))?;
        protected.extend(tips);
        if opts.repo.is_none() || opts.repo == Some(*id) {
            reachable_by_repo.insert(*id, objects);
        }
        let (id, keep) = (*id, *keep);
        let kept: Vec<String> = hub
            .db
            .call(move |c| {
                // Per path: distinct oids by their newest commit, newest first; keep N.
                let mut st = c.prepare("SELECT path, oid, MAX(id) AS last FROM lfs_history WHERE repo_id = ?1 GROUP BY path, oid ORDER BY path, last DESC")?;
                let rows = st.query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
                let mut count: HashMap<String, u64> = HashMap::new();
                let mut kept = Vec::new();
                for row in rows {
                    let (path, oid) = row?;
                    let n = count.entry(path).or_insert(0);
                    if *n < keep {
                        kept.push(oid);
                    }
                    *n += 1;
                }
                Ok(kept)
            })
            .await?;
        protected.extend(kept);
    }

    // 3. LFS objects nobody needs.
    let (filter_repo, cut) = (opts.repo, cutoff.clone());
    let candidates: Vec<(String, u64, bool)> = hub
        .db
        .call(move |c| {
            let sql = match filter_repo {
                Some(r) => format!("SELECT o.oid, o.size, o.created_at FROM lfs_objects o WHERE o.oid IN (SELECT oid FROM lfs_history WHERE repo_id = {r})"),
                None => "SELECT o.oid, o.size, o.created_at FROM lfs_objects o".to_string(),
            };
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map(crate::params![], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (oid, size, created) = row?;
                let committed: bool = c.query_row("SELECT COUNT(*) FROM lfs_history WHERE oid = ?1", [&oid], |r| r.get::<_, i64>(0))? > 0;
                let recent_upload: Option<String> =
                    c.query_row("SELECT MAX(created_at) FROM lfs_possession WHERE oid = ?1", [&oid], |r| r.get(0)).optional()?.flatten();
                let young = created > cut || recent_upload.is_some_and(|t| t > cut);
                // Uploaded but never committed: only once the grace period is over.
                if !committed && young {
                    continue;
                }
                out.push((oid, size as u64, committed));
            }
            Ok(out)
        })
        .await?;
    let candidates: Vec<_> = candidates
        .into_iter()
        .filter(|(oid, _, _)| !protected.contains(oid))
        .collect();
    for (i, (oid, size, committed)) in candidates.iter().enumerate() {
        progress("LFS objects", i as u64, candidates.len() as u64);
        let deleted = if opts.dry_run {
            true
        } else {
            let (o, s) = (oid.clone(), start.clone());
            let gone = hub
                .db
                .call(move |c| {
                    let tx = crate::db::write_tx(c)?;
                    // Re-check: nothing referenced it since this run started.
                    let newer: i64 = tx.query_row(
                        "SELECT COUNT(*) FROM lfs_history WHERE oid = ?1 AND created_at >= ?2",
                        params![o, s],
                        |r| r.get(0),
                    )?;
                    if newer > 0 {
                        return Ok(None);
                    }
                    let key = crate::lfs::stored_object(&tx, &o)?.map(|s| s.1);
                    tx.execute("DELETE FROM lfs_objects WHERE oid = ?1", [&o])?;
                    tx.execute("DELETE FROM lfs_possession WHERE oid = ?1", [&o])?;
                    tx.commit()?;
                    Ok(key)
                })
                .await?;
            if let Some(key) = &gone {
                hub.storage.delete(key).await?;
            }
            gone.is_some()
        };
        if deleted {
            if *committed {
                report.lfs_old_versions.add(*size);
            } else {
                report.lfs_unreferenced.add(*size);
            }
        }
    }
    // Keys under lfs/ without a row: a crash between storing and recording, or a direct
    // upload that was never completed.
    if opts.repo.is_none() {
        let known: HashSet<String> = hub
            .db
            .call(|c| {
                let mut st = c.prepare(
                    "SELECT oid, storage_key FROM lfs_objects UNION ALL SELECT oid, storage_key FROM multipart_uploads WHERE storage_key IS NOT NULL",
                )?;
                let v = st
                    .query_map(crate::params![], |r| {
                        let oid: String = r.get(0)?;
                        let key: Option<String> = r.get(1)?;
                        Ok(key.unwrap_or_else(|| lfs_key(&oid)))
                    })?
                    .collect::<crate::db::DbResult<HashSet<String>>>()?;
                Ok(v)
            })
            .await?;
        for o in hub.storage.list("lfs").await? {
            if !known.contains(&o.key) && older_than(o.modified, opts.grace) {
                report.lfs_unreferenced.add(o.size);
                if !opts.dry_run {
                    hub.storage.delete(&o.key).await?;
                }
            }
        }
    }

    // 3b. Xet: files whose LFS object went, then xorbs no remaining file needs.
    if opts.repo.is_none() {
        progress("Xet storage", 0, 1);
        let swept = crate::xet::gc::sweep(hub, &cutoff, opts.dry_run).await?;
        for (_, bytes) in swept.xorbs {
            report.xet_xorbs.add(bytes);
        }
    }

    // 4. Unreachable git objects (after branch deletion, squash, refused pushes).
    let n = reachable_by_repo.len() as u64;
    // One listing of every repository's objects (a listing per repository would cost a
    // request each with a bucket).
    let mut stored: HashMap<i64, Vec<crate::storage::ObjectMeta>> = HashMap::new();
    let listed = match opts.repo {
        Some(id) => {
            hub.storage
                .list(&format!("{}objects", repo_prefix(id)))
                .await?
        }
        None => hub.storage.list("repos").await?,
    };
    for o in listed {
        let id = o
            .key
            .strip_prefix("repos/")
            .and_then(|k| k.split('/').next())
            .and_then(|id| id.parse::<i64>().ok());
        if let Some(id) = id {
            stored.entry(id).or_default().push(o);
        }
    }
    for (i, (repo, reach)) in reachable_by_repo.iter().enumerate() {
        progress("git objects", i as u64, n);
        for o in stored.remove(repo).unwrap_or_default() {
            if !o
                .key
                .starts_with(&format!("{}objects/", repo_prefix(*repo)))
            {
                continue;
            }
            let parts: Vec<&str> = o.key.rsplitn(3, '/').collect();
            let sha = match parts.as_slice() {
                [rest, dir, _] => format!("{dir}{rest}"),
                _ => continue,
            };
            if !reach.contains(&sha) && older_than(o.modified, opts.grace) {
                report.git_unreachable.add(o.size);
                if !opts.dry_run {
                    hub.storage.delete(&o.key).await?;
                }
            }
        }
    }

    // 5. Abandoned uploads: staging files and multipart uploads past the grace period.
    if opts.repo.is_none() {
        for o in hub.storage.list("tmp").await? {
            if older_than(o.modified, opts.grace) {
                report.abandoned_uploads.add(o.size);
                if !opts.dry_run {
                    hub.storage.delete(&o.key).await?;
                }
            }
        }
        // Multipart uploads nobody completed (a client gave up, or the process answering it
        // was killed): counted in dry runs too, removed otherwise.
        let (cut, dry_run) = (cutoff.clone(), opts.dry_run);
        type Stale = (String, Option<String>, Option<String>, i64);
        let stale: Vec<Stale> = hub
            .db
            .call(move |c| {
                let v = c.query_all(
                    "SELECT upload_id, storage_key, backend_upload_id, size FROM multipart_uploads WHERE created_at < ?1",
                    [&cut],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?;
                if !dry_run {
                    c.execute("DELETE FROM multipart_uploads WHERE created_at < ?1", [&cut])?;
                }
                Ok(v)
            })
            .await?;
        for (id, key, backend, size) in stale {
            // Bytes are known only once an upload reached its key; parts in flight count as
            // an object of unknown size.
            let mut bytes = 0;
            if let (Some(bucket), Some(key)) = (hub.storage.direct(), &key) {
                if bucket.size(key).await?.is_some() {
                    bytes = size.max(0) as u64;
                }
                if !opts.dry_run {
                    if let Some(backend) = &backend {
                        bucket.abort_multipart(key, backend).await?;
                    }
                    bucket.delete(key).await?;
                }
            }
            if !opts.dry_run {
                let _ = tokio::fs::remove_dir_all(hub.storage.multipart_dir(&id)).await;
            }
            report.abandoned_uploads.add(bytes);
        }
    }
    progress("done", 1, 1);
    Ok(report)
}
