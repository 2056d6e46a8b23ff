//! Reading a revision's files: tree listings, paths-info, the flat file list of repo info.

use crate::error::{Error, Result};
use crate::git::{Pointer, TreeEntry};
use crate::hub::Hub;

/// A file or directory at a revision, as the HF API describes it.
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub path: String,
    pub is_dir: bool,
    /// Git blob or tree id.
    pub oid: String,
    /// Real size (for LFS files the object's size, not the pointer's).
    pub size: u64,
    pub lfs: Option<Pointer>,
    /// Size of the pointer blob for LFS files.
    pub pointer_size: u64,
    /// The Xet file hash, for LFS files uploaded through Xet.
    pub xet_hash: Option<String>,
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

async fn describe(hub: &Hub, repo: i64, path: String, e: &TreeEntry) -> Result<FileEntry> {
    if e.is_tree() {
        return Ok(FileEntry {
            path,
            is_dir: true,
            oid: e.oid.clone(),
            size: 0,
            lfs: None,
            pointer_size: 0,
            xet_hash: None,
        });
    }
    if !e.is_blob() {
        // Submodules have no content here; show them as empty files.
        return Ok(FileEntry {
            path,
            is_dir: false,
            oid: e.oid.clone(),
            size: 0,
            lfs: None,
            pointer_size: 0,
            xet_hash: None,
        });
    }
    let info = hub.objects.blob_info(repo, &e.oid).await?;
    let size = info.lfs.as_ref().map(|p| p.size).unwrap_or(info.size);
    let xet_hash = crate::xet::cas::xet_hash_of_pointer(hub, info.lfs.as_ref()).await?;
    Ok(FileEntry {
        path,
        is_dir: false,
        oid: e.oid.clone(),
        size,
        lfs: info.lfs,
        pointer_size: info.size,
        xet_hash,
    })
}

/// Blob facts looked up at once while listing a directory.
const DESCRIBE_PARALLEL: usize = 16;

/// Entries under `path` ("" for the root), optionally recursive (directories included).
pub async fn list_tree(
    hub: &Hub,
    repo: i64,
    root: &str,
    path: &str,
    recursive: bool,
) -> Result<Vec<FileEntry>> {
    Ok(
        list_tree_page(hub, repo, root, path, recursive, 0, usize::MAX)
            .await?
            .0,
    )
}

/// Entries `[offset, offset + limit)` of [`list_tree`]'s order, and whether more follow. Only
/// the trees are walked; blob facts are read for the entries of the page alone, so a page of a
/// 20,000-entry directory costs what a page of a small one does.
pub async fn list_tree_page(
    hub: &Hub,
    repo: i64,
    root: &str,
    path: &str,
    recursive: bool,
    offset: usize,
    limit: usize,
) -> Result<(Vec<FileEntry>, bool)> {
    let path = path.trim_matches('/');
    let start = hub
        .objects
        .entry_at(repo, root, path)
        .await?
        .ok_or_else(|| Error::entry_not_found(path))?;
    if !start.is_tree() {
        let one = describe(hub, repo, path.to_string(), &start).await?;
        return Ok((
            if offset == 0 && limit > 0 {
                vec![one]
            } else {
                vec![]
            },
            false,
        ));
    }
    let end = offset.saturating_add(limit);
    let mut index = 0usize;
    let mut picked: Vec<(String, TreeEntry)> = Vec::new();
    let mut more = false;
    let mut stack = vec![(path.to_string(), start.oid)];
    'walk: while let Some((dir, oid)) = stack.pop() {
        let tree = hub.objects.tree(repo, &oid).await?;
        let mut subdirs = Vec::new();
        for e in tree.iter() {
            if index >= end {
                more = true;
                break 'walk;
            }
            if index >= offset {
                picked.push((join(&dir, &e.name), e.clone()));
            }
            index += 1;
            if recursive && e.is_tree() {
                subdirs.push((join(&dir, &e.name), e.oid.clone()));
            }
        }
        // Depth-first in tree order.
        stack.extend(subdirs.into_iter().rev());
    }
    // Blob facts are read side by side (a round trip each with a bucket), kept in order.
    let futures: Vec<_> = picked
        .iter()
        .map(|(p, e)| describe(hub, repo, p.clone(), e))
        .collect();
    let mut described =
        futures_util::StreamExt::buffered(futures_util::stream::iter(futures), DESCRIBE_PARALLEL);
    let mut out = Vec::with_capacity(picked.len());
    while let Some(entry) = futures_util::StreamExt::next(&mut described).await {
        out.push(entry?);
    }
    Ok((out, more))
}

/// The path of every file (no directories) at a revision, in [`all_files`]' order: the trees
/// only, no blob reads (what a listing of names needs).
pub async fn all_file_paths(hub: &Hub, repo: i64, root: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), root.to_string())];
    while let Some((dir, oid)) = stack.pop() {
        let tree = hub.objects.tree(repo, &oid).await?;
        let mut subdirs = Vec::new();
        for e in tree.iter() {
            if e.is_tree() {
                subdirs.push((join(&dir, &e.name), e.oid.clone()));
            } else {
                out.push(join(&dir, &e.name));
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(out)
}

/// The file at `path` of a revision, described; `None` when there is none (or a directory).
pub async fn file_at(hub: &Hub, repo: i64, root: &str, path: &str) -> Result<Option<FileEntry>> {
    match hub.objects.entry_at(repo, root, path).await? {
        Some(e) if !e.is_tree() => Ok(Some(describe(hub, repo, path.to_string(), &e).await?)),
        _ => Ok(None),
    }
}

/// Every file (no directories) at a revision.
pub async fn all_files(hub: &Hub, repo: i64, root: &str) -> Result<Vec<FileEntry>> {
    Ok(list_tree(hub, repo, root, "", true)
        .await?
        .into_iter()
        .filter(|e| !e.is_dir)
        .collect())
}

/// The entries that exist among `paths`; missing ones are left out.
pub async fn paths_info(
    hub: &Hub,
    repo: i64,
    root: &str,
    paths: &[String],
) -> Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    for p in paths {
        let p = p.trim_matches('/');
        if p.is_empty() {
            continue;
        }
        if let Some(e) = hub.objects.entry_at(repo, root, p).await? {
            out.push(describe(hub, repo, p.to_string(), &e).await?);
        }
    }
    Ok(out)
}
