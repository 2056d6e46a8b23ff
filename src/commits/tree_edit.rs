//! Applying path edits to a git tree, loading only the subtrees that change.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::git::tree::{TreeEntry, MODE_SYMLINK, MODE_TREE};
use crate::git::ObjectStore;

enum Slot {
    /// Untouched entry (file or subtree) of the base tree.
    Kept(TreeEntry),
    /// A subtree that is being edited.
    Dir(Node),
}

#[derive(Default)]
struct Node {
    entries: BTreeMap<String, Slot>,
}

impl Drop for Node {
    /// Without recursion: an edit can hold a chain of 2,048 directories.
    fn drop(&mut self) {
        let mut pending = vec![std::mem::take(&mut self.entries)];
        while let Some(map) = pending.pop() {
            for (_, slot) in map {
                if let Slot::Dir(mut n) = slot {
                    pending.push(std::mem::take(&mut n.entries));
                }
            }
        }
    }
}

impl Node {
    async fn load(store: &ObjectStore, repo: i64, oid: &str) -> Result<Node> {
        let tree = store.tree(repo, oid).await?;
        Ok(Node {
            entries: tree
                .iter()
                .map(|e| (e.name.clone(), Slot::Kept(e.clone())))
                .collect(),
        })
    }
}

/// An in-progress edit of one tree.
pub struct TreeEditor<'a> {
    store: &'a ObjectStore,
    repo: i64,
    root: Node,
}

fn split(path: &str) -> (Vec<&str>, &str) {
    let mut parts: Vec<&str> = path.split('/').collect();
    let last = parts.pop().unwrap_or("");
    (parts, last)
}

impl<'a> TreeEditor<'a> {
    pub async fn new(store: &'a ObjectStore, repo: i64, base_tree: &str) -> Result<TreeEditor<'a>> {
        Ok(TreeEditor {
            store,
            repo,
            root: Node::load(store, repo, base_tree).await?,
        })
    }

    /// Walk to the directory holding `dirs`, loading subtrees; `create` makes missing
    /// directories (replacing a file in the way), otherwise a missing one gives `None`.
    async fn dir_mut(&mut self, dirs: &[&str], create: bool) -> Result<Option<&mut Node>> {
        let (store, repo) = (self.store, self.repo);
        let mut node = &mut self.root;
        for d in dirs {
            let needs_load = match node.entries.get(*d) {
                Some(Slot::Kept(e)) if e.is_tree() => Some(Some(e.oid.clone())),
                Some(Slot::Kept(_)) | None => {
                    if !create {
                        return Ok(None);
                    }
                    Some(None)
                }
                Some(Slot::Dir(_)) => None,
            };
            if let Some(oid) = needs_load {
                let loaded = match oid {
                    Some(oid) => Node::load(store, repo, &oid).await?,
                    None => Node::default(),
                };
                node.entries.insert(d.to_string(), Slot::Dir(loaded));
            }
            node = match node.entries.get_mut(*d) {
                Some(Slot::Dir(n)) => n,
                _ => return Err(Error::internal("tree edit lost a directory")),
            };
        }
        Ok(Some(node))
    }

    /// Add or replace the entry at `path`.
    pub async fn put(&mut self, path: &str, mode: &str, oid: &str) -> Result<()> {
        let (dirs, name) = split(path);
        // Paths were checked as regular files when parsed; a copy can carry a symlink's mode,
        // which git refuses under more names (`.gitmodules`).
        crate::names::check_path_component(name, mode == MODE_SYMLINK)
            .map_err(|why| Error::Unprocessable(format!("Invalid path '{path}': {why}")))?;
        let node = self
            .dir_mut(&dirs, true)
            .await?
            .ok_or_else(|| Error::internal("put: no directory"))?;
        node.entries.insert(
            name.to_string(),
            Slot::Kept(TreeEntry {
                mode: mode.to_string(),
                name: name.to_string(),
                oid: oid.to_string(),
            }),
        );
        Ok(())
    }

    /// Remove the file at `path`, or the folder (and everything under it) when `path` is
    /// one, as huggingface.co does for a `deletedFile` naming a folder; `EntryNotFound` when
    /// there is nothing at `path`.
    pub async fn delete_file(&mut self, path: &str) -> Result<()> {
        let missing =
            || Error::EntryNotFound(format!("A file with this name doesn't exist: {path}"));
        let (dirs, name) = split(path);
        let node = self.dir_mut(&dirs, false).await?.ok_or_else(missing)?;
        if node.entries.remove(name).is_none() {
            return Err(missing());
        }
        Ok(())
    }

    /// Remove a directory and everything under it.
    pub async fn delete_folder(&mut self, path: &str) -> Result<()> {
        let missing =
            || Error::EntryNotFound(format!("A folder with this name doesn't exist: {path}"));
        let (dirs, name) = split(path);
        let node = self.dir_mut(&dirs, false).await?.ok_or_else(missing)?;
        match node.entries.get(name) {
            Some(Slot::Dir(_)) => {}
            Some(Slot::Kept(e)) if e.is_tree() => {}
            _ => return Err(missing()),
        }
        node.entries.remove(name);
        Ok(())
    }

    /// Write every edited subtree and return the new root tree id.
    pub async fn write(self) -> Result<String> {
        let (store, repo) = (self.store, self.repo);
        match write_node(store, repo, self.root).await? {
            Some(oid) => Ok(oid),
            None => store.write_tree(repo, &mut []).await,
        }
    }
}

/// Post-order write with an explicit stack (a path can be 2,048 levels deep); empty
/// directories vanish (git cannot hold them).
async fn write_node(store: &ObjectStore, repo: i64, mut root: Node) -> Result<Option<String>> {
    struct Level {
        name: String,
        rest: std::collections::btree_map::IntoIter<String, Slot>,
        out: Vec<TreeEntry>,
    }
    let mut stack = vec![Level {
        name: String::new(),
        rest: std::mem::take(&mut root.entries).into_iter(),
        out: Vec::new(),
    }];
    while let Some(top) = stack.last_mut() {
        match top.rest.next() {
            Some((_, Slot::Kept(e))) => top.out.push(e),
            Some((name, Slot::Dir(mut child))) => stack.push(Level {
                name,
                rest: std::mem::take(&mut child.entries).into_iter(),
                out: Vec::new(),
            }),
            None => {
                let Some(mut done) = stack.pop() else { break };
                let oid = if done.out.is_empty() {
                    None
                } else {
                    Some(store.write_tree(repo, &mut done.out).await?)
                };
                match stack.last_mut() {
                    Some(parent) => {
                        if let Some(oid) = oid {
                            parent.out.push(TreeEntry {
                                mode: MODE_TREE.into(),
                                name: done.name,
                                oid,
                            });
                        }
                    }
                    None => return Ok(oid),
                }
            }
        }
    }
    Ok(None)
}
