//! Identifiers: repo types, user/repo names, paths inside repos, ref names.
//! Validated before any database work so bad input never reaches storage.

use crate::error::{Error, Result};

/// The kinds of repository the HF API knows (kernels are out of scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepoType {
    Model,
    Dataset,
    Space,
}

impl RepoType {
    pub fn as_str(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
            RepoType::Space => "space",
        }
    }
    pub fn plural(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
            RepoType::Space => "spaces",
        }
    }
    /// Prefix of web URLs (`datasets/`), empty for models.
    pub fn url_prefix(self) -> &'static str {
        match self {
            RepoType::Model => "",
            RepoType::Dataset => "datasets/",
            RepoType::Space => "spaces/",
        }
    }
    pub fn parse(s: &str) -> Result<RepoType> {
        match s {
            "model" | "models" => Ok(RepoType::Model),
            "dataset" | "datasets" => Ok(RepoType::Dataset),
            "space" | "spaces" => Ok(RepoType::Space),
            other => Err(Error::bad_request(format!(
                "Invalid repo type '{other}': expected model, dataset or space"
            ))),
        }
    }
    pub fn from_plural(s: &str) -> Option<RepoType> {
        match s {
            "models" => Some(RepoType::Model),
            "datasets" => Some(RepoType::Dataset),
            "spaces" => Some(RepoType::Space),
            _ => None,
        }
    }
}

/// Names that would collide with routes or confuse users.
pub const RESERVED_NAMES: &[&str] = &[
    "api",
    "admin",
    "models",
    "datasets",
    "spaces",
    "org",
    "orgs",
    "organizations",
    "user",
    "users",
    "auth",
    "login",
    "logout",
    "register",
    "settings",
    "new",
    "docs",
    "health",
    "static",
    "assets",
    "resolve",
    "blob",
    "tree",
    "commit",
    "commits",
    "huggingface",
    "kohaku",
    "system",
    "root",
    "none",
    "null",
    "help",
    "search",
    "trending",
    "invitations",
    "kernels",
];

/// Lowercase and drop `-`/`_`: two names equal after this clash.
pub fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn check_name(kind: &str, name: &str, max: usize) -> Result<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || name.len() > max || !ok_chars {
        return Err(Error::bad_request(format!(
            "Invalid {kind} name '{name}': use 1 to {max} characters among letters, digits, '-', '_' and '.'"
        )));
    }
    if name.starts_with(['-', '.'])
        || name.ends_with(['-', '.'])
        || name.contains("--")
        || name.contains("..")
    {
        return Err(Error::bad_request(format!(
            "Invalid {kind} name '{name}': '-' and '.' cannot start or end it, '--' and '..' are forbidden"
        )));
    }
    if name.ends_with(".git") {
        return Err(Error::bad_request(format!(
            "Invalid {kind} name '{name}': cannot end with .git"
        )));
    }
    Ok(())
}

/// A repository name (the part after the namespace).
pub fn validate_repo_name(name: &str) -> Result<()> {
    check_name("repository", name, 96)
}

/// A user or organisation name.
pub fn validate_namespace(name: &str) -> Result<()> {
    check_name("namespace", name, 42)
}

/// A new user or organisation name: valid and not reserved.
pub fn validate_new_namespace(name: &str) -> Result<()> {
    validate_namespace(name)?;
    if RESERVED_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(Error::bad_request(format!("The name '{name}' is reserved")));
    }
    Ok(())
}

/// Split and validate `ns/name`.
pub fn split_repo_id(id: &str) -> Result<(String, String)> {
    let Some((ns, name)) = id.split_once('/') else {
        return Err(Error::bad_request(format!(
            "Invalid repo id '{id}': expected namespace/name"
        )));
    };
    validate_namespace(ns)?;
    validate_repo_name(name)?;
    Ok((ns.to_string(), name.to_string()))
}

/// A file path inside a repository: relative, no `.`/`..`/`.git` segments, no backslashes.
/// Returns the canonical form (no leading `./` or `/`, no trailing `/`).
pub fn validate_path(path: &str) -> Result<String> {
    let bad = |why: &str| Error::Unprocessable(format!("Invalid path '{path}': {why}"));
    if path.starts_with('/') {
        return Err(bad("absolute paths are not allowed"));
    }
    let trimmed = path.strip_prefix("./").unwrap_or(path);
    let trimmed = trimmed.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(bad("empty path"));
    }
    if trimmed.len() > 4096 {
        return Err(bad("too long"));
    }
    if trimmed.contains('\\') {
        return Err(bad("backslashes are not allowed"));
    }
    if trimmed.chars().any(|c| c.is_control()) {
        return Err(bad("control characters are not allowed"));
    }
    for seg in trimmed.split('/') {
        match seg {
            "" => return Err(bad("empty segment")),
            "." | ".." => return Err(bad("relative segments are not allowed")),
            _ if seg.eq_ignore_ascii_case(".git") => return Err(bad("'.git' is not allowed")),
            _ if seg.len() > 255 => return Err(bad("segment too long")),
            _ => {}
        }
    }
    Ok(trimmed.to_string())
}

/// A branch or tag short name, following `git check-ref-format`.
pub fn validate_ref_name(name: &str) -> Result<()> {
    let bad = || Error::bad_request(format!("Invalid reference name '{name}'"));
    if name.is_empty()
        || name.len() > 255
        || name == "@"
        || name.starts_with('-')
        || name.ends_with('/')
        || name.ends_with('.')
    {
        return Err(bad());
    }
    if name.contains("..") || name.contains("@{") || name.contains("//") {
        return Err(bad());
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
    {
        return Err(bad());
    }
    for seg in name.split('/') {
        if seg.is_empty() || seg.starts_with('.') || seg.ends_with(".lock") {
            return Err(bad());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_repo_name("my-model_v1.0").is_ok());
        for bad in [
            "",
            "-a",
            "a-",
            "a..b",
            "a/b",
            "a b",
            "x.git",
            &"a".repeat(97),
        ] {
            assert!(validate_repo_name(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize("My-New_Repo"), "mynewrepo");
        assert!(validate_new_namespace("api").is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(validate_path("./a/b.txt").unwrap(), "a/b.txt");
        assert_eq!(validate_path("dir/").unwrap(), "dir");
        for bad in [
            "",
            "/a",
            "/etc/passwd",
            "..",
            "a/../b",
            "a/./b",
            ".git/config",
            "x/.git/y",
            "..\\ddd",
            "a//b",
        ] {
            assert!(validate_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refs() {
        assert!(validate_ref_name("main").is_ok());
        assert!(validate_ref_name("feature/x-1").is_ok());
        for bad in [
            "", "a..b", "a b", "a~1", "x.lock", "-x", "a/.b", "a//b", "a:b",
        ] {
            assert!(validate_ref_name(bad).is_err(), "{bad}");
        }
    }
}
