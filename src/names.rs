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

/// A file path inside a repository: relative, every segment acceptable to git (see
/// [`check_path_component`]), no control characters, bounded length.
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
    if trimmed.chars().any(|c| c.is_control()) {
        return Err(bad("control characters are not allowed"));
    }
    for seg in trimmed.split('/') {
        // The API writes regular files; a symlink can only arrive by copy, which the tree
        // editor checks with the entry's mode.
        check_path_component(seg, false).map_err(bad)?;
        if seg.len() > 255 {
            return Err(bad("segment too long"));
        }
    }
    Ok(trimmed.to_string())
}

/// The one rule for a single path component (a tree entry name), shared by API commits,
/// preupload and pushed trees: refuse what git's `verify_path` and `fsck` refuse, so that every
/// revision the hub accepts can be checked out by `git clone` on any platform. Besides `.`,
/// `..`, empty names and separators, that is every spelling that Windows (NTFS) or macOS
/// (HFS+) would resolve to `.git`, and, for symlinks, to `.gitmodules`. Backslashes are
/// refused outright, as git does on Windows (they are directory separators there).
pub fn check_path_component(name: &str, symlink: bool) -> std::result::Result<(), &'static str> {
    match name {
        "" => return Err("empty segment"),
        "." | ".." => return Err("relative segments are not allowed"),
        _ => {}
    }
    if name.contains('/') {
        return Err("a name cannot contain '/'");
    }
    if name.contains('\\') {
        return Err("backslashes are not allowed");
    }
    if name.contains('\0') {
        return Err("NUL bytes are not allowed");
    }
    if is_ntfs_dotgit(name) || is_hfs_dot(name, "git") {
        return Err("'.git' (in any spelling Windows or macOS resolve to it) is not allowed");
    }
    if symlink && (is_ntfs_dotgitmodules(name) || is_hfs_dot(name, "gitmodules")) {
        return Err("'.gitmodules' (in any spelling Windows or macOS resolve to it) cannot be a symbolic link");
    }
    Ok(())
}

/// NTFS drops trailing spaces and dots, and everything from a `:` on names an alternate data
/// stream (`.git::$INDEX_ALLOCATION` is the directory itself): after `stem` only those may
/// follow for the name to reach the same file.
fn ntfs_same_file(rest: &[u8]) -> bool {
    for &b in rest {
        match b {
            b':' => return true,
            b' ' | b'.' => {}
            _ => return false,
        }
    }
    true
}

/// `.git` on NTFS: `.git` or its 8.3 short name `git~1` (`.git` is always first in a clone, so
/// it gets `~1`), in any case, followed by what NTFS ignores.
fn is_ntfs_dotgit(name: &str) -> bool {
    let b = name.as_bytes();
    let stem = if b.len() >= 4 && b[0] == b'.' && b[1..4].eq_ignore_ascii_case(b"git") {
        4
    } else if b.len() >= 5 && b[..5].eq_ignore_ascii_case(b"git~1") {
        5
    } else {
        return false;
    };
    ntfs_same_file(&b[stem..])
}

/// `.gitmodules` on NTFS: the long name, the regular short names `gitmod~1` to `gitmod~4`, and
/// the hashed fall-back short names Windows makes when those are taken (a prefix of `gi7eba`,
/// then `~` and a number, eight characters in all), each followed by what NTFS ignores.
fn is_ntfs_dotgitmodules(name: &str) -> bool {
    let b = name.as_bytes();
    if b.len() >= 11 && b[0] == b'.' && b[1..11].eq_ignore_ascii_case(b"gitmodules") {
        return ntfs_same_file(&b[11..]);
    }
    if b.len() >= 8
        && b[..6].eq_ignore_ascii_case(b"gitmod")
        && b[6] == b'~'
        && (b'1'..=b'4').contains(&b[7])
    {
        return ntfs_same_file(&b[8..]);
    }
    // Fall-back short name: up to six characters of the hash prefix, `~`, a digit 1-9, then
    // digits, eight bytes in all.
    const HASHED: &[u8] = b"gi7eba";
    if b.len() < 8 {
        return false;
    }
    let Some(tilde) = b[..8].iter().position(|&c| c == b'~') else {
        return false;
    };
    let prefix_ok = tilde <= HASHED.len() && b[..tilde].eq_ignore_ascii_case(&HASHED[..tilde]);
    let number_ok = tilde + 1 < 8
        && (b'1'..=b'9').contains(&b[tilde + 1])
        && b[tilde + 2..8].iter().all(u8::is_ascii_digit);
    prefix_ok && number_ok && ntfs_same_file(&b[8..])
}

/// Code points HFS+ ignores when comparing names (joiners, direction marks and overrides,
/// shaping controls, the byte-order mark).
fn hfs_ignorable(c: char) -> bool {
    matches!(c, '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}')
}

/// Does HFS+ see `name` as `.{needle}` (`needle` lowercase ASCII)? It skips ignorable code
/// points anywhere and folds case.
fn is_hfs_dot(name: &str, needle: &str) -> bool {
    let mut seen = name.chars().filter(|c| !hfs_ignorable(*c));
    if seen.next() != Some('.') {
        return false;
    }
    for want in needle.chars() {
        match seen.next() {
            Some(c) if c.is_ascii() && c.to_ascii_lowercase() == want => {}
            _ => return false,
        }
    }
    seen.next().is_none()
}

/// A branch or tag short name, following `git check-ref-format`, plus what would make a ref
/// ambiguous: `HEAD`, and names that already look like full ref names (`refs/...`).
pub fn validate_ref_name(name: &str) -> Result<()> {
    let bad = |why: &str| Error::bad_request(format!("Invalid reference name '{name}': {why}"));
    if name.is_empty() || name.len() > 255 {
        return Err(bad("use 1 to 255 bytes"));
    }
    if name == "@" || name == "HEAD" {
        return Err(bad("the name is reserved"));
    }
    if name.starts_with("refs/") {
        return Err(bad(
            "give the short name, without refs/heads/ or refs/tags/",
        ));
    }
    if name.starts_with('-') {
        return Err(bad("it cannot start with '-'"));
    }
    if name.ends_with('/') || name.ends_with('.') {
        return Err(bad("it cannot end with '/' or '.'"));
    }
    if name.contains("..") || name.contains("@{") || name.contains("//") {
        return Err(bad("'..', '@{' and '//' are not allowed"));
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
    {
        return Err(bad(
            "control characters, space and '~', '^', ':', '?', '*', '[', '\\' are not allowed",
        ));
    }
    for seg in name.split('/') {
        if seg.is_empty() || seg.starts_with('.') || seg.ends_with(".lock") {
            return Err(bad(
                "a component cannot be empty, start with '.' or end with '.lock'",
            ));
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
            "a\nb",
            ".git./config",
            "GIT~1/config",
        ] {
            assert!(validate_path(bad).is_err(), "{bad}");
        }
    }

    /// Spellings git's `verify_path`/`fsck` treat as `.git` on NTFS or HFS+.
    const DOTGIT: &[&str] = &[
        ".git",
        ".GIT",
        ".Git",
        ".git.",
        ".git..",
        ".git ",
        ".git . .",
        ".git::$INDEX_ALLOCATION",
        ".git:stream",
        ".GIT:",
        "git~1",
        "GIT~1",
        "Git~1. ",
        "git~1::$INDEX_ALLOCATION",
        ".g\u{200c}it",
        "\u{200e}.git",
        ".git\u{feff}",
        ".\u{202a}GIT\u{206f}",
        ".gi\u{200d}t\u{202e}",
    ];

    /// Spellings of `.gitmodules` refused for symlinks only.
    const DOTGITMODULES: &[&str] = &[
        ".gitmodules",
        ".GITMODULES",
        ".gitmodules.",
        ".gitmodules . ",
        ".gitmodules:x",
        "gitmod~1",
        "GITMOD~4",
        "gitmod~2 .",
        "gi7eba~1",
        "GI7EBA~9",
        "gi7eb~12",
        "gi7~1234",
        "g~123456",
        ".git\u{200c}modules",
        "\u{feff}.GitModules",
    ];

    #[test]
    fn component_dotgit_spellings() {
        for name in DOTGIT {
            assert!(check_path_component(name, false).is_err(), "{name:?}");
            assert!(check_path_component(name, true).is_err(), "{name:?}");
            assert!(
                validate_path(&format!("{name}/config")).is_err(),
                "{name:?}"
            );
            assert!(validate_path(&format!("a/{name}")).is_err(), "{name:?}");
        }
    }

    #[test]
    fn component_gitmodules_only_as_symlink() {
        for name in DOTGITMODULES {
            assert!(check_path_component(name, true).is_err(), "{name:?}");
            assert!(check_path_component(name, false).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn component_near_misses_are_fine() {
        for name in [
            ".github",
            ".gitignore",
            ".gitattributes",
            ".gitkeep",
            ".git-blame-ignore-revs",
            "a.git",
            "git",
            ".gi",
            "git~2",
            "git~10",
            "git~1x",
            ".gitx",
            ".git x",
            ".g\u{200b}it",
            ".gît",
            "x.gitmodules",
            "gitmod~5",
            "gitmod~1x",
            "gi7eba~0",
            "gi7ebx~1",
            "gi7eba~1x",
            "gi7eb~1a",
            ".gitmodulesx",
            "..a",
            "...",
            "a b",
            "é",
        ] {
            assert!(check_path_component(name, false).is_ok(), "{name:?}");
            assert!(check_path_component(name, true).is_ok(), "{name:?}");
        }
        assert!(validate_path(".github/workflows/ci.yml").is_ok());
        assert!(validate_path("git/x").is_ok());
    }

    #[test]
    fn component_shape() {
        for bad in ["", ".", "..", "a/b", "a\\b", "\\", "a\0b"] {
            assert!(check_path_component(bad, false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refs() {
        assert!(validate_ref_name("main").is_ok());
        assert!(validate_ref_name("feature/x-1").is_ok());
        assert!(validate_ref_name("v1.0").is_ok());
        assert!(validate_ref_name("head").is_ok());
        assert!(validate_ref_name("x/HEAD").is_ok());
        assert!(validate_ref_name("my-refs/x").is_ok());
        for bad in [
            "",
            "a..b",
            "a b",
            "a~1",
            "x.lock",
            "a/x.lock/b",
            "-x",
            "a/.b",
            ".a",
            "a//b",
            "a:b",
            "a^b",
            "a?b",
            "a*b",
            "a[b",
            "a\\b",
            "a\tb",
            "a\u{7f}b",
            "a@{b",
            "@",
            "a/",
            "/a",
            "a.",
            "HEAD",
            "refs/heads/main",
            "refs/tags/v1",
            "refs/x",
        ] {
            assert!(validate_ref_name(bad).is_err(), "{bad:?}");
        }
    }
}
