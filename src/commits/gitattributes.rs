//! Keeping `.gitattributes` in step with LFS files committed through the API, so that a git
//! clone smudges them to their content (a path LFS-stored but not tracked would check out as
//! pointer text).

use ignore::gitignore::GitignoreBuilder;

/// Escape a path as a gitattributes pattern (anchored, spaces and specials escaped).
fn pattern_for(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    for c in path.chars() {
        match c {
            ' ' => out.push_str("[[:space:]]"),
            '*' | '?' | '[' | ']' | '\\' | '!' | '#' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    if path.contains('/') {
        out
    } else {
        format!("/{out}")
    }
}

/// `.gitattributes` text with lines added for `paths` that no `filter=lfs` pattern covers;
/// `None` when every path is already tracked.
pub fn track_lfs_paths(text: &str, paths: &[String]) -> Option<String> {
    let mut b = GitignoreBuilder::new("");
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || !line.split_whitespace().skip(1).any(|a| a == "filter=lfs") {
            continue;
        }
        if let Some(pat) = line.split_whitespace().next() {
            let _ = b.add_line(None, pat);
        }
    }
    let matcher = b.build().ok()?;
    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| {
            !matcher
                .matched_path_or_any_parents(p.as_str(), false)
                .is_ignore()
        })
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for p in missing {
        out.push_str(&format!(
            "{} filter=lfs diff=lfs merge=lfs -text\n",
            pattern_for(p)
        ));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_only_untracked() {
        let attrs = "*.bin filter=lfs diff=lfs merge=lfs -text\n";
        assert_eq!(track_lfs_paths(attrs, &["a/m.bin".into()]), None);
        let new = track_lfs_paths(attrs, &["big.dat".into(), "d/x y.dat".into()]).unwrap();
        assert!(new.contains("/big.dat filter=lfs"));
        assert!(new.contains("d/x[[:space:]]y.dat filter=lfs"));
        assert_eq!(
            track_lfs_paths(&new, &["big.dat".into(), "d/x y.dat".into()]),
            None
        );
        assert!(track_lfs_paths("", &["f.dat".into()]).is_some());
    }
}
