//! Keeping `.gitattributes` in step with LFS files committed through the API, so that a git
//! clone smudges them to their content (a path LFS-stored but not tracked would check out as
//! pointer text).

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// Which paths a `.gitattributes` routes through LFS: as git reads it, the last line whose
/// pattern matches a path and that says anything about `filter` decides (`filter=lfs` sets
/// it; `-filter`, `!filter` or another filter unset it).
pub struct LfsAttributes {
    /// `(pattern, sets filter=lfs)`, in file order.
    rules: Vec<(Gitignore, bool)>,
}

impl LfsAttributes {
    pub fn parse(text: &str) -> LfsAttributes {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("[attr]") {
                continue;
            }
            let mut words = line.split_whitespace();
            let Some(pattern) = words.next() else {
                continue;
            };
            let mut lfs = None;
            for attr in words {
                match attr {
                    "filter=lfs" => lfs = Some(true),
                    "-filter" | "!filter" | "filter" => lfs = Some(false),
                    a if a.starts_with("filter=") => lfs = Some(false),
                    _ => {}
                }
            }
            let Some(lfs) = lfs else {
                continue;
            };
            let mut b = GitignoreBuilder::new("");
            if b.add_line(None, pattern).is_err() {
                continue;
            }
            if let Ok(m) = b.build() {
                rules.push((m, lfs));
            }
        }
        LfsAttributes { rules }
    }

    /// Does this file go through LFS?
    pub fn tracks(&self, path: &str) -> bool {
        self.rules
            .iter()
            .rev()
            .find(|(m, _)| m.matched(path, false).is_ignore())
            .is_some_and(|(_, lfs)| *lfs)
    }
}

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
    let attrs = LfsAttributes::parse(text);
    let missing: Vec<&String> = paths.iter().filter(|p| !attrs.tracks(p)).collect();
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

    #[test]
    fn lfs_attributes_follow_git() {
        let a = LfsAttributes::parse(
            "# comment\n*.png filter=lfs diff=lfs merge=lfs -text\n\
             icons/*.png -filter\n/top.dat filter=lfs\ndeep/**/x.bin filter=lfs\n\
             *.txt text\n",
        );
        assert!(a.tracks("image.png") && a.tracks("a/b/image.png"));
        assert!(!a.tracks("icons/small.png"), "a later line unsets it");
        assert!(a.tracks("top.dat") && !a.tracks("sub/top.dat"), "anchored");
        assert!(a.tracks("deep/a/b/x.bin") && !a.tracks("x.bin"));
        assert!(!a.tracks("notes.txt") && !a.tracks("image.jpg"));
        assert!(!LfsAttributes::parse("").tracks("a.png"));
    }
}
