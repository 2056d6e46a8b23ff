//! Rewriting history without some LFS files (`lfs-files` deletion with `rewriteHistory`): every
//! commit reachable from the repository's refs is rewritten without the tree entries whose
//! pointer names one of the doomed objects. Commits and trees that do not change keep their ids
//! (and with them any signature), so only history from the first affected commit on changes.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use crate::error::{Error, Result};
use crate::git::tree::MODE_SUBMODULE;
use crate::git::{Commit, Kind, TreeEntry};
use crate::hub::Hub;

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The first path (if any) in the tree `root` whose LFS pointer names one of `oids`.
pub async fn find_lfs(
    hub: &Hub,
    repo: i64,
    root: &str,
    oids: &HashSet<String>,
) -> Result<Option<String>> {
    let mut stack = vec![(String::new(), root.to_string())];
    let mut seen = HashSet::new();
    while let Some((dir, tree)) = stack.pop() {
        if !seen.insert(tree.clone()) {
            continue;
        }
        for e in hub.objects.tree(repo, &tree).await?.iter() {
            let path = if dir.is_empty() {
                e.name.clone()
            } else {
                format!("{dir}/{}", e.name)
            };
            if e.is_tree() {
                stack.push((path, e.oid.clone()));
            } else if e.is_blob() {
                let info = hub.objects.blob_info(repo, &e.oid).await?;
                if info.lfs.is_some_and(|p| oids.contains(&p.oid)) {
                    return Ok(Some(path));
                }
            }
        }
    }
    Ok(None)
}

/// Rewrites a repository's objects without the LFS files whose objects are `doomed`.
pub struct Rewriter<'a> {
    hub: &'a Hub,
    repo: i64,
    doomed: HashSet<String>,
    trees: HashMap<String, Option<String>>,
    commits: HashMap<String, String>,
}

impl<'a> Rewriter<'a> {
    pub fn new(hub: &'a Hub, repo: i64, doomed: HashSet<String>) -> Rewriter<'a> {
        Rewriter {
            hub,
            repo,
            doomed,
            trees: HashMap::new(),
            commits: HashMap::new(),
        }
    }

    /// The tree without the doomed files; `None` when nothing is left of it.
    fn tree<'s>(&'s mut self, oid: &'s str) -> BoxFut<'s, Result<Option<String>>> {
        Box::pin(async move {
            if let Some(done) = self.trees.get(oid) {
                return Ok(done.clone());
            }
            let entries = self.hub.objects.tree(self.repo, oid).await?;
            let mut kept: Vec<TreeEntry> = Vec::with_capacity(entries.len());
            let mut changed = false;
            for e in entries.iter() {
                if e.is_tree() {
                    match self.tree(&e.oid).await? {
                        Some(t) if t == e.oid => kept.push(e.clone()),
                        Some(t) => {
                            changed = true;
                            kept.push(TreeEntry {
                                oid: t,
                                ..e.clone()
                            });
                        }
                        None => changed = true,
                    }
                } else if e.is_blob() && e.mode != MODE_SUBMODULE {
                    let info = self.hub.objects.blob_info(self.repo, &e.oid).await?;
                    if info.lfs.is_some_and(|p| self.doomed.contains(&p.oid)) {
                        changed = true;
                    } else {
                        kept.push(e.clone());
                    }
                } else {
                    kept.push(e.clone());
                }
            }
            let out = if !changed {
                Some(oid.to_string())
            } else if kept.is_empty() {
                None
            } else {
                Some(self.hub.objects.write_tree(self.repo, &mut kept).await?)
            };
            self.trees.insert(oid.to_string(), out.clone());
            Ok(out)
        })
    }

    /// The rewritten id of `tip` (a commit), rewriting its ancestors first (iteratively: a
    /// history can be deeper than the stack).
    pub async fn commit(&mut self, tip: &str) -> Result<String> {
        let mut stack = vec![tip.to_string()];
        while let Some(oid) = stack.last().cloned() {
            if self.commits.contains_key(&oid) {
                stack.pop();
                continue;
            }
            let c = self.hub.objects.commit(self.repo, &oid).await?;
            let pending: Vec<String> = c
                .parents
                .iter()
                .filter(|p| !self.commits.contains_key(*p))
                .cloned()
                .collect();
            if !pending.is_empty() {
                stack.extend(pending);
                continue;
            }
            stack.pop();
            let parents: Vec<String> = c
                .parents
                .iter()
                .map(|p| self.commits.get(p).cloned().unwrap_or_else(|| p.clone()))
                .collect();
            let tree = match self.tree(&c.tree).await? {
                Some(t) => t,
                None => self.hub.objects.write_tree(self.repo, &mut []).await?,
            };
            let new = if tree == c.tree && parents == c.parents {
                oid.clone()
            } else {
                let rewritten = Commit {
                    tree,
                    parents,
                    author: c.author.clone(),
                    committer: c.committer.clone(),
                    message: c.message.clone(),
                };
                self.hub.objects.write_commit(self.repo, &rewritten).await?
            };
            self.commits.insert(oid, new);
        }
        self.commits
            .get(tip)
            .cloned()
            .ok_or_else(|| Error::internal("history rewrite lost a commit"))
    }

    /// The rewritten target of a ref: a commit, or an annotated tag (re-written to point at the
    /// rewritten commit). Anything else is left as it is.
    pub async fn target(&mut self, oid: &str) -> Result<String> {
        match self.hub.objects.read(self.repo, oid).await? {
            Some((Kind::Commit, _)) => self.commit(oid).await,
            Some((Kind::Tag, data)) => {
                let inner = crate::git::Tag::parse_target(&data)?;
                let new_inner = Box::pin(self.target(&inner)).await?;
                if new_inner == inner {
                    return Ok(oid.to_string());
                }
                let text = String::from_utf8_lossy(&data);
                let rest = text.split_once('\n').map(|x| x.1).unwrap_or("");
                let tag = format!("object {new_inner}\n{rest}");
                self.hub
                    .objects
                    .write(self.repo, Kind::Tag, tag.as_bytes())
                    .await
            }
            _ => Ok(oid.to_string()),
        }
    }
}
