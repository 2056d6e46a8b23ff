//! Refs (branches, tags, `refs/pr/N`) live in the database and move by compare-and-swap.

use crate::db::{Conn, OptionalExtension};
use crate::params;

use crate::db::now_str;
use crate::error::{Error, Result};
use crate::git::object::is_sha1_hex;
use crate::hub::Hub;
use crate::repos::Repo;

pub const MAIN: &str = "refs/heads/main";

/// The revision `HEAD` names the default branch, as on huggingface.co (the JS client asks for
/// `revision/HEAD` by default). No branch or tag can be called `HEAD` (`validate_ref_name`), so
/// the alias shadows nothing.
pub fn unalias(rev: &str) -> &str {
    if rev == "HEAD" {
        "main"
    } else {
        rev
    }
}

pub fn branch_ref(name: &str) -> String {
    format!("refs/heads/{name}")
}
pub fn tag_ref(name: &str) -> String {
    format!("refs/tags/{name}")
}

pub fn get_ref(conn: &Conn, repo_id: i64, name: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare("SELECT target FROM refs WHERE repo_id = ?1 AND name = ?2")?
        .query_row(params![repo_id, name], |r| r.get(0))
        .optional()?)
}

pub fn list_refs(conn: &Conn, repo_id: i64) -> Result<Vec<(String, String)>> {
    let mut stmt =
        conn.prepare("SELECT name, target FROM refs WHERE repo_id = ?1 ORDER BY name")?;
    let rows = stmt.query_map([repo_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<crate::db::DbResult<Vec<_>>>()?)
}

/// The existing ref that `name` cannot exist beside. Git keeps refs as files, so
/// `refs/heads/a` and `refs/heads/a/b` cannot both exist: a clone or fetch would fail to write
/// one of them. Looks for an existing ref that is a directory of `name`, then for one inside
/// `name/`.
pub fn dir_file_conflict(conn: &Conn, repo_id: i64, name: &str) -> Result<Option<String>> {
    for (i, _) in name.match_indices('/') {
        let dir = &name[..i];
        if get_ref(conn, repo_id, dir)?.is_some() {
            return Ok(Some(dir.to_string()));
        }
    }
    // A prefix test by `substr` (not LIKE: `_` is common in ref names, and SQLite's LIKE
    // ignores case); both databases count characters.
    let under = format!("{name}/");
    let len = under.chars().count() as i64;
    Ok(conn
        .prepare(
            "SELECT name FROM refs WHERE repo_id = ?1 AND substr(name, 1, ?2) = ?3 ORDER BY name LIMIT 1",
        )?
        .query_row(params![repo_id, len, under], |r| r.get(0))
        .optional()?)
}

/// Move `name` from `old` to `new` atomically. `old = None` means "must not exist yet",
/// `new = None` deletes. Returns `false` when another writer got there first.
///
/// Creating a ref that would clash with another in git's directory layout
/// ([`dir_file_conflict`]) is `Conflict`. The check and the insert are one step only inside
/// [`crate::db::write_tx`], which serialises writers across processes: every creation of a
/// ref by a client runs in one, so `a` and `a/b` created at once cannot both succeed.
pub fn cas_ref(
    conn: &Conn,
    repo_id: i64,
    name: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<bool> {
    let n = match (old, new) {
        (None, Some(new)) => {
            // The repository may have been deleted while the request worked (its refs go
            // with it): that is "not found", not a broken foreign key.
            if !super::exists(conn, repo_id)? {
                return Err(Error::repo_not_found());
            }
            if let Some(other) = dir_file_conflict(conn, repo_id, name)? {
                return Err(Error::Conflict {
                    message: format!(
                        "Cannot create {name}: it conflicts with the existing {other} \
                         (git cannot hold a ref and refs under it with the same name)"
                    ),
                    url: None,
                });
            }
            conn.execute(
            "INSERT INTO refs (repo_id, name, target, updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![repo_id, name, new, now_str()],
        )?
        }
        (Some(old), Some(new)) => conn.execute(
            "UPDATE refs SET target = ?1, updated_at = ?2 WHERE repo_id = ?3 AND name = ?4 AND target = ?5",
            params![new, now_str(), repo_id, name, old],
        )?,
        (Some(old), None) => conn.execute(
            "DELETE FROM refs WHERE repo_id = ?1 AND name = ?2 AND target = ?3",
            params![repo_id, name, old],
        )?,
        (None, None) => return Err(Error::internal("cas_ref with neither old nor new")),
    };
    if n == 0 && !super::exists(conn, repo_id)? {
        return Err(Error::repo_not_found());
    }
    Ok(n == 1)
}

/// A revision resolved to a commit, with the branch it names when it names one.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub commit: String,
    /// Full ref name (`refs/heads/main`) when the revision is a branch.
    pub branch: Option<String>,
}

/// The ref a revision names, if any: `(full name, target)`. Synchronous so callers can do it
/// in the same database round trip as the repo lookup.
pub fn lookup_rev(conn: &Conn, repo_id: i64, rev: &str) -> Result<Option<(String, String)>> {
    let rev = unalias(rev);
    let candidates: Vec<String> = if rev.starts_with("refs/") {
        vec![rev.to_string()]
    } else {
        vec![format!("refs/heads/{rev}"), format!("refs/tags/{rev}")]
    };
    for cand in candidates {
        if let Some(t) = get_ref(conn, repo_id, &cand)? {
            return Ok(Some((cand, t)));
        }
    }
    Ok(None)
}

/// Resolve a branch, tag, full ref, full commit id or `HEAD`. Unknown → `RevisionNotFound`.
pub async fn resolve(hub: &Hub, repo: &Repo, rev: &str) -> Result<Resolved> {
    let (repo_id, r) = (repo.id, rev.to_string());
    let found = hub.db.call(move |c| lookup_rev(c, repo_id, &r)).await?;
    finish_resolve(hub, repo, rev, found).await
}

/// Second half of [`resolve`], given what [`lookup_rev`] found.
pub async fn finish_resolve(
    hub: &Hub,
    repo: &Repo,
    rev: &str,
    found: Option<(String, String)>,
) -> Result<Resolved> {
    if let Some((name, target)) = found {
        let commit = hub
            .objects
            .peel_to_commit(repo.id, &target)
            .await?
            .ok_or_else(|| Error::internal(format!("ref {name} does not point at a commit")))?;
        let branch = name.starts_with("refs/heads/") || name.starts_with("refs/pr/");
        return Ok(Resolved {
            commit,
            branch: branch.then_some(name),
        });
    }
    if is_sha1_hex(rev) {
        if let Some(commit) = hub.objects.peel_to_commit(repo.id, rev).await? {
            return Ok(Resolved {
                commit,
                branch: None,
            });
        }
    } else if let Some(commit) = resolve_short_id(hub, repo.id, rev).await? {
        return Ok(Resolved {
            commit,
            branch: None,
        });
    }
    // A repository deleted while the request worked has no refs left: it is the repository
    // that is gone, not the revision.
    let id = repo.id;
    if !hub.db.call(move |c| super::exists(c, id)).await? {
        return Err(Error::repo_not_found());
    }
    Err(Error::revision_not_found(rev))
}

/// Shortest abbreviated commit id accepted, as git's default abbreviation.
const MIN_SHORT_ID: usize = 7;

/// Is `rev` an abbreviated object id (7 to 39 hex digits)?
fn is_short_id(rev: &str) -> bool {
    (MIN_SHORT_ID..40).contains(&rev.len()) && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The commit an abbreviated id names in this repository, as git resolves `abc1234`: the
/// objects whose id starts with it that are (or peel to) commits. `None` when there is none;
/// several different commits are refused as ambiguous.
pub async fn resolve_short_id(hub: &Hub, repo_id: i64, rev: &str) -> Result<Option<String>> {
    if !is_short_id(rev) {
        return Ok(None);
    }
    let prefix = rev.to_ascii_lowercase();
    // Loose objects live under `objects/{2 hex}/{38 hex}`: one directory to list.
    let dir = crate::storage::git_object_key(repo_id, &format!("{prefix:0<40}"));
    let dir = dir
        .rsplit_once('/')
        .map_or(dir.as_str(), |(d, _)| d)
        .to_string();
    let mut found: Vec<String> = Vec::new();
    for o in hub.storage.list(&dir).await? {
        let Some(rest) = o.key.strip_prefix(&format!("{dir}/")) else {
            continue;
        };
        let oid = format!("{}{rest}", &prefix[..2]);
        if !is_sha1_hex(&oid) || !oid.starts_with(&prefix) {
            continue;
        }
        if let Some(commit) = hub.objects.peel_to_commit(repo_id, &oid).await? {
            if !found.contains(&commit) {
                found.push(commit);
            }
        }
    }
    match found.len() {
        0 | 1 => Ok(found.pop()),
        _ => Err(Error::RevisionNotFound(format!(
            "Invalid rev id: {rev} is ambiguous ({} commits start with it); use more characters",
            found.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database with one repo; its id.
    fn repo_db() -> (Conn, i64) {
        let mut c = Conn::open_in_memory().unwrap();
        crate::db::migrate(&mut c).unwrap();
        let u =
            crate::accounts::create_user(&c, "alice", "a@example.com", "a-good-password", false)
                .unwrap();
        c.execute(
            "INSERT INTO repos (repo_type, namespace, name, normalized_name, owner_id, private, created_at, updated_at) \
             VALUES ('model', 'alice', 'm', 'm', ?1, 0, '', '')",
            params![u.id],
        )
        .unwrap();
        let id = c
            .query_row("SELECT id FROM repos", params![], |r| r.get::<_, i64>(0))
            .unwrap();
        (c, id)
    }

    const C: &str = "ce013625030ba8dba906f756967f9e9ca394464a";

    #[test]
    fn head_is_the_default_branch() {
        let (c, id) = repo_db();
        assert!(cas_ref(&c, id, MAIN, None, Some(C)).unwrap());
        let main = Some((MAIN.to_string(), C.to_string()));
        assert_eq!(lookup_rev(&c, id, "HEAD").unwrap(), main);
        assert_eq!(lookup_rev(&c, id, "main").unwrap(), main);
        // Only the exact name: git's refs are case-sensitive, `head` is a branch name like any.
        assert_eq!(lookup_rev(&c, id, "head").unwrap(), None);
        assert_eq!(lookup_rev(&c, id, "refs/heads/HEAD").unwrap(), None);
    }

    #[test]
    fn creation_refuses_directory_file_conflicts() {
        let (c, id) = repo_db();
        for name in [MAIN, "refs/heads/feat/x", "refs/tags/v1", "refs/heads/a_b"] {
            assert!(cas_ref(&c, id, name, None, Some(C)).unwrap(), "{name}");
        }
        for (name, other) in [
            ("refs/heads/main/sub", MAIN),
            ("refs/heads/main/a/b", MAIN),
            ("refs/heads/feat", "refs/heads/feat/x"),
            ("refs/tags/v1/rc", "refs/tags/v1"),
        ] {
            assert_eq!(
                dir_file_conflict(&c, id, name).unwrap().as_deref(),
                Some(other)
            );
            assert!(matches!(
                cas_ref(&c, id, name, None, Some(C)),
                Err(Error::Conflict { .. })
            ));
            assert_eq!(get_ref(&c, id, name).unwrap(), None);
        }
        // Siblings, other namespaces and look-alike prefixes do not clash; `_` is not a
        // wildcard and case matters.
        for name in [
            "refs/heads/feat-2",
            "refs/heads/fea",
            "refs/tags/main",
            "refs/heads/feat/y",
            "refs/heads/aXb",
            "refs/heads/Main/sub",
            "refs/heads/v1/rc",
        ] {
            assert_eq!(dir_file_conflict(&c, id, name).unwrap(), None, "{name}");
            assert!(cas_ref(&c, id, name, None, Some(C)).unwrap(), "{name}");
        }
        // An existing ref is "already there", not a conflict with itself.
        assert!(!cas_ref(&c, id, MAIN, None, Some(C)).unwrap());
        // Moving or deleting an existing ref is not a creation.
        let other = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
        assert!(cas_ref(&c, id, "refs/heads/feat/x", Some(C), Some(other)).unwrap());
        assert!(cas_ref(&c, id, "refs/heads/feat/x", Some(other), None).unwrap());
        assert!(cas_ref(&c, id, "refs/heads/feat/y", Some(C), None).unwrap());
        // With `feat/*` gone, `feat` is free.
        assert!(cas_ref(&c, id, "refs/heads/feat", None, Some(C)).unwrap());
    }
}
