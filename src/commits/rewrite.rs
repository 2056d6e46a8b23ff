//! Rewriting history without some LFS files (`lfs-files` deletion with `rewriteHistory`): every
//! commit reachable from the repository's refs is rewritten without the tree entries whose
//! pointer names one of the doomed objects. Commits and trees that do not change keep their ids
//! (and with them any signature), so only history from the first affected commit on changes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::git::tree::MODE_SUBMODULE;
use crate::git::{Commit, Kind, TreeEntry};
use crate::hub::Hub;

/// Longest chain of annotated tags (a tag of a tag of ...) followed to its commit.
const MAX_TAG_CHAIN: usize = 64;

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

/// A tree being rewritten: its entries, how far through them, and what is kept so far.
struct Frame {
    oid: String,
    entries: Arc<Vec<TreeEntry>>,
    next: usize,
    kept: Vec<TreeEntry>,
    changed: bool,
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

    /// The tree without the doomed files; `None` when nothing is left of it. Depth-first with
    /// an explicit stack: a pushed tree can nest as deep as its author likes.
    async fn tree(&mut self, root: &str) -> Result<Option<String>> {
        if let Some(done) = self.trees.get(root) {
            return Ok(done.clone());
        }
        let mut stack = vec![self.frame(root).await?];
        while let Some(top) = stack.last_mut() {
            if let Some(e) = top.entries.get(top.next) {
                if e.is_tree() {
                    match self.trees.get(&e.oid) {
                        Some(Some(t)) if *t == e.oid => top.kept.push(e.clone()),
                        Some(Some(t)) => {
                            top.changed = true;
                            top.kept.push(TreeEntry {
                                oid: t.clone(),
                                ..e.clone()
                            });
                        }
                        Some(None) => top.changed = true,
                        None => {
                            // Rewrite the subtree first; this entry is looked at again after.
                            let child = self.frame(&e.oid).await?;
                            stack.push(child);
                            continue;
                        }
                    }
                } else if e.is_blob() && e.mode != MODE_SUBMODULE {
                    let info = self.hub.objects.blob_info(self.repo, &e.oid).await?;
                    if info.lfs.is_some_and(|p| self.doomed.contains(&p.oid)) {
                        top.changed = true;
                    } else {
                        top.kept.push(e.clone());
                    }
                } else {
                    top.kept.push(e.clone());
                }
                top.next += 1;
                continue;
            }
            let Some(mut done) = stack.pop() else { break };
            let out = if !done.changed {
                Some(done.oid.clone())
            } else if done.kept.is_empty() {
                None
            } else {
                Some(
                    self.hub
                        .objects
                        .write_tree(self.repo, &mut done.kept)
                        .await?,
                )
            };
            self.trees.insert(done.oid, out);
        }
        self.trees
            .get(root)
            .cloned()
            .ok_or_else(|| Error::internal("history rewrite lost a tree"))
    }

    async fn frame(&self, oid: &str) -> Result<Frame> {
        let entries = self.hub.objects.tree(self.repo, oid).await?;
        Ok(Frame {
            oid: oid.to_string(),
            kept: Vec::with_capacity(entries.len()),
            entries,
            next: 0,
            changed: false,
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
    /// rewritten commit, through a chain of tags). Anything else is left as it is.
    pub async fn target(&mut self, oid: &str) -> Result<String> {
        // Follow the tags down to what they name, then rewrite back up.
        let mut chain: Vec<(String, Vec<u8>)> = Vec::new();
        let mut at = oid.to_string();
        let mut new = loop {
            match self.hub.objects.read(self.repo, &at).await? {
                Some((Kind::Commit, _)) => break self.commit(&at).await?,
                Some((Kind::Tag, data)) if chain.len() < MAX_TAG_CHAIN => {
                    let inner = crate::git::Tag::parse_target(&data)?;
                    chain.push((at, data));
                    at = inner;
                }
                Some((Kind::Tag, _)) => {
                    return Err(Error::bad_request(format!(
                        "A tag in this repository is a chain of more than {MAX_TAG_CHAIN} tags; it cannot be rewritten"
                    )))
                }
                _ => break at.clone(),
            }
        };
        while let Some((tag_oid, data)) = chain.pop() {
            if new == at {
                // Nothing below changed: this tag (and those above) keep their ids.
                new = tag_oid.clone();
                at = tag_oid;
                continue;
            }
            let text = String::from_utf8_lossy(&data);
            let rest = text.split_once('\n').map(|x| x.1).unwrap_or("");
            let tag = format!("object {new}\n{rest}");
            at = tag_oid;
            new = self
                .hub
                .objects
                .write(self.repo, Kind::Tag, tag.as_bytes())
                .await?;
        }
        Ok(new)
    }
}
