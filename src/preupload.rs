//! Preupload: the server decides, per file, LFS or regular, and whether it is ignored.

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::commits::gitattributes::LfsAttributes;
use crate::error::{Error, Result};
use crate::files::paths_info;
use crate::hub::Hub;
use crate::names::validate_path;

/// One file the client is about to upload.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: String,
    pub size: u64,
}

/// Largest `.gitattributes` read for LFS rules (git itself warns past 100 MB; real ones are a
/// few KB, and the client re-asks for every batch of files).
const MAX_ATTRIBUTES: u64 = 1 << 20;

/// The decision for one file.
#[derive(Debug, Clone)]
pub struct Decision {
    pub path: String,
    pub lfs: bool,
    pub should_ignore: bool,
    /// Id of the file already at this path (blob sha1, or sha256 for LFS files).
    pub oid: Option<String>,
}

/// LFS when the size reaches the threshold or a suffix rule matches.
pub fn is_lfs(path: &str, size: u64, threshold: u64, suffixes: &[String]) -> bool {
    let lower = path.to_ascii_lowercase();
    size >= threshold || suffixes.iter().any(|s| lower.ends_with(s.as_str()))
}

fn gitignore(text: &str) -> Option<Gitignore> {
    let mut b = GitignoreBuilder::new("");
    for line in text.lines() {
        let _ = b.add_line(None, line);
    }
    b.build().ok()
}

/// Decide for each candidate against the revision whose root tree is `root`.
pub async fn decide(
    hub: &Hub,
    repo: i64,
    root: &str,
    files: Vec<Candidate>,
    git_ignore: Option<&str>,
) -> Result<Vec<Decision>> {
    if files.len() > 1000 {
        return Err(Error::PayloadTooLarge(
            "At most 1000 files per preupload request".into(),
        ));
    }
    let mut paths = Vec::with_capacity(files.len());
    for f in &files {
        paths.push(validate_path(&f.path)?);
    }
    let ignore_text = match git_ignore {
        Some(t) => Some(t.to_string()),
        None => match hub.objects.entry_at(repo, root, ".gitignore").await? {
            Some(e) if e.is_blob() => {
                Some(String::from_utf8_lossy(&hub.objects.blob(repo, &e.oid).await?).into_owned())
            }
            _ => None,
        },
    };
    let matcher = ignore_text.as_deref().and_then(gitignore);
    // The revision's `.gitattributes` routes files through LFS too (`*.png filter=lfs`), as
    // git would when the same files are pushed.
    let attributes = match hub.objects.entry_at(repo, root, ".gitattributes").await? {
        Some(e)
            if e.is_blob() && hub.objects.blob_info(repo, &e.oid).await?.size <= MAX_ATTRIBUTES =>
        {
            let text = String::from_utf8_lossy(&hub.objects.blob(repo, &e.oid).await?).into_owned();
            Some(LfsAttributes::parse(&text))
        }
        _ => None,
    };
    let existing = paths_info(hub, repo, root, &paths).await?;
    let eff = {
        let repo_lfs = hub
            .db
            .call(move |c| crate::lfs::settings::load(c, repo))
            .await?;
        crate::lfs::settings::effective(&hub.config, &repo_lfs)
    };
    Ok(files
        .iter()
        .zip(paths)
        .map(|(f, path)| {
            let oid = existing
                .iter()
                .find(|e| e.path == path && !e.is_dir)
                .map(|e| match &e.lfs {
                    Some(p) => p.oid.clone(),
                    None => e.oid.clone(),
                });
            let should_ignore = matcher
                .as_ref()
                .is_some_and(|m| m.matched_path_or_any_parents(&path, false).is_ignore());
            Decision {
                lfs: is_lfs(&path, f.size, eff.threshold_bytes, &eff.suffix_rules)
                    || attributes.as_ref().is_some_and(|a| a.tracks(&path)),
                path: f.path.clone(),
                should_ignore,
                oid,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfs_rule() {
        let s = vec![".bin".to_string()];
        assert!(is_lfs("a/model.BIN", 1, 100, &s));
        assert!(is_lfs("a.txt", 100, 100, &s));
        assert!(!is_lfs("a.txt", 99, 100, &s));
    }

    #[test]
    fn ignore_rules() {
        let m = gitignore("*.log\nbuild/\n").unwrap();
        assert!(m.matched_path_or_any_parents("x.log", false).is_ignore());
        assert!(m
            .matched_path_or_any_parents("build/a.txt", false)
            .is_ignore());
        assert!(!m.matched_path_or_any_parents("a.txt", false).is_ignore());
    }
}
