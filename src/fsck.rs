//! `kohaku fsck`: is every repository whole? Each ref names a commit, every object reachable
//! from the refs is stored and parses as the kind its parent says, and every LFS file at a
//! branch or tag tip is recorded with a stored object of the right size.
//!
//! Read-only; safe next to serving processes. Objects written after the refs were read are
//! simply not looked at.

use std::collections::HashSet;

use futures_util::StreamExt;
use serde::Serialize;

use crate::error::Result;
use crate::git::tree::MODE_SUBMODULE;
use crate::git::{Commit, Kind, Pointer, Tag};
use crate::hub::Hub;
use crate::repos::refs::list_refs;

/// Repositories checked at the same time (object reads are round trips with a bucket).
const PARALLEL: usize = 8;

/// One inconsistency.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub repo: String,
    pub what: String,
}

/// What a check found.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    pub repos: u64,
    pub refs: u64,
    pub objects: u64,
    pub lfs_objects: u64,
    pub problems: Vec<Problem>,
}

struct RepoCheck {
    refs: u64,
    objects: u64,
    lfs: u64,
    problems: Vec<String>,
}

/// Check one repository (by database key).
async fn check_repo(hub: &Hub, repo: i64) -> Result<RepoCheck> {
    let refs = hub.db.call(move |c| list_refs(c, repo)).await?;
    let mut out = RepoCheck {
        refs: refs.len() as u64,
        objects: 0,
        lfs: 0,
        problems: Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut commits = Vec::new();
    let mut tips = HashSet::new();
    for (name, target) in refs {
        let mut cur = target;
        loop {
            match hub.objects.read(repo, &cur).await {
                Ok(Some((Kind::Tag, data))) => {
                    seen.insert(cur.clone());
                    match Tag::parse_target(&data) {
                        Ok(t) => cur = t,
                        Err(e) => {
                            out.problems
                                .push(format!("{name}: tag {cur} does not parse: {e}"));
                            break;
                        }
                    }
                }
                Ok(Some((Kind::Commit, _))) => {
                    tips.insert(cur.clone());
                    commits.push(cur);
                    break;
                }
                Ok(Some((k, _))) => {
                    out.problems
                        .push(format!("{name} points at a {}, not a commit", k.as_str()));
                    break;
                }
                Ok(None) => {
                    out.problems
                        .push(format!("{name} points at missing object {cur}"));
                    break;
                }
                Err(e) => {
                    out.problems
                        .push(format!("{name}: object {cur} is corrupt: {e}"));
                    break;
                }
            }
        }
    }
    let mut tip_pointers: Vec<(String, Pointer)> = Vec::new();
    while let Some(c) = commits.pop() {
        if !seen.insert(c.clone()) {
            continue;
        }
        let commit = match hub.objects.read(repo, &c).await {
            Ok(Some((Kind::Commit, data))) => match Commit::parse(&data) {
                Ok(commit) => commit,
                Err(e) => {
                    out.problems.push(format!("commit {c} does not parse: {e}"));
                    continue;
                }
            },
            Ok(_) => {
                out.problems.push(format!("commit {c} is missing"));
                continue;
            }
            Err(e) => {
                out.problems.push(format!("commit {c} is corrupt: {e}"));
                continue;
            }
        };
        let is_tip = tips.contains(&c);
        let mut trees = vec![(String::new(), commit.tree.clone())];
        while let Some((dir, t)) = trees.pop() {
            if !seen.insert(t.clone()) && !is_tip {
                continue;
            }
            let entries = match hub.objects.tree(repo, &t).await {
                Ok(e) => e,
                Err(e) => {
                    out.problems.push(format!("tree {t} of commit {c}: {e}"));
                    continue;
                }
            };
            for e in entries.iter() {
                let path = if dir.is_empty() {
                    e.name.clone()
                } else {
                    format!("{dir}/{}", e.name)
                };
                if e.mode == MODE_SUBMODULE {
                    continue;
                }
                if e.is_tree() {
                    trees.push((path, e.oid.clone()));
                    continue;
                }
                let fresh = seen.insert(e.oid.clone());
                if !(fresh || is_tip) {
                    continue;
                }
                match hub.objects.blob_info(repo, &e.oid).await {
                    Ok(info) => {
                        if let Some(p) = info.lfs.filter(|_| is_tip) {
                            tip_pointers.push((path, p));
                        }
                    }
                    Err(err) => out
                        .problems
                        .push(format!("blob {} ({path}) in commit {c}: {err}", e.oid)),
                }
            }
        }
        commits.extend(
            commit
                .parents
                .iter()
                .filter(|p| !seen.contains(*p))
                .cloned(),
        );
    }
    out.objects = seen.len() as u64;
    // LFS files at the tips must be downloadable.
    let mut done = HashSet::new();
    for (path, p) in tip_pointers {
        if !done.insert(p.oid.clone()) {
            continue;
        }
        out.lfs += 1;
        let oid = p.oid.clone();
        let (stored, xet) = hub
            .db
            .call(move |c| {
                let xet = crate::xet::store::xet_hash_of(c, &oid)?
                    .map(|fh| crate::xet::store::file(c, &fh).map(|f| (fh, f)))
                    .transpose()?;
                Ok((crate::lfs::stored_object(c, &oid)?, xet))
            })
            .await?;
        if let Some((fh, file)) = xet {
            // Uploaded through Xet: the file is registered and each xorb it needs is stored.
            match file {
                None => out.problems.push(format!(
                    "LFS object {} of {path} names Xet file {fh}, which is not registered",
                    p.oid
                )),
                Some(f) => {
                    let mut xorbs: Vec<&str> = f.segments.iter().map(|s| s.xorb.as_str()).collect();
                    xorbs.sort_unstable();
                    xorbs.dedup();
                    for x in xorbs {
                        let key = crate::xet::store::xorb_key(x);
                        if hub.storage.size(&key).await?.is_none() {
                            out.problems.push(format!(
                                "xorb {x} of LFS object {} ({path}) is missing from storage ({key})",
                                p.oid
                            ));
                        }
                    }
                }
            }
            continue;
        }
        match stored {
            None => out
                .problems
                .push(format!("LFS object {} of {path} is not recorded", p.oid)),
            Some((size, _)) if size != p.size => out.problems.push(format!(
                "LFS object {} of {path} is recorded with {size} bytes, the pointer says {}",
                p.oid, p.size
            )),
            Some((_, key)) => match hub.storage.size(&key).await? {
                Some(s) if s == p.size => {}
                Some(s) => out.problems.push(format!(
                    "LFS object {} of {path} has {s} bytes in storage, expected {}",
                    p.oid, p.size
                )),
                None => out.problems.push(format!(
                    "LFS object {} of {path} is missing from storage ({key})",
                    p.oid
                )),
            },
        }
    }
    Ok(out)
}

/// Every repository as `(database key, TYPE/NS/NAME)`.
pub fn all_repos(conn: &mut crate::db::Conn) -> Result<Vec<(i64, String)>> {
    let mut st = conn.prepare("SELECT id, repo_type, namespace, name FROM repos ORDER BY id")?;
    let rows = st
        .query_map(crate::params![], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                format!(
                    "{}/{}/{}",
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?
                ),
            ))
        })?
        .collect::<crate::db::DbResult<Vec<_>>>()?;
    Ok(rows)
}

/// Check `repos` (database key and display id), several at a time.
pub async fn run(
    hub: &Hub,
    repos: Vec<(i64, String)>,
    progress: impl Fn(u64, u64),
) -> Result<Report> {
    let total = repos.len() as u64;
    let mut report = Report {
        repos: total,
        ..Report::default()
    };
    let jobs: Vec<_> = repos
        .into_iter()
        .map(|(id, name)| async move { (name, check_repo(hub, id).await) })
        .collect();
    let mut checks = futures_util::stream::iter(jobs).buffer_unordered(PARALLEL);
    let mut done = 0;
    while let Some((name, r)) = checks.next().await {
        let r = r?;
        report.refs += r.refs;
        report.objects += r.objects;
        report.lfs_objects += r.lfs;
        report
            .problems
            .extend(r.problems.into_iter().map(|what| Problem {
                repo: name.clone(),
                what,
            }));
        done += 1;
        progress(done, total);
    }
    report
        .problems
        .sort_by(|a, b| (&a.repo, &a.what).cmp(&(&b.repo, &b.what)));
    Ok(report)
}
