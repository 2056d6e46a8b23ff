//! Repositories: rows, lookup (with redirects after a move), creation, deletion, move, settings.

mod create;
mod duplicate;
pub mod listing;
pub mod refs;

pub use create::{
    create_repo, delete_repo, move_repo, update_settings, CreateRepo, SettingsUpdate,
};
pub use duplicate::duplicate_repo;
pub use listing::{list_repos, namespace_storage, ListQuery, SortKey};

use crate::db::{Conn, OptionalExtension, Row};
use crate::params;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::names::RepoType;

/// A repository row.
#[derive(Debug, Clone, Serialize)]
pub struct Repo {
    pub id: i64,
    #[serde(skip)]
    pub repo_type: RepoType,
    pub namespace: String,
    pub name: String,
    pub owner_id: i64,
    pub private: bool,
    pub gated: Option<String>,
    pub downloads: i64,
    pub likes: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl Repo {
    pub fn full_id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    /// Web path of the repo (`/datasets/ns/name`), no trailing slash.
    pub fn web_path(&self) -> String {
        format!(
            "/{}{}/{}",
            self.repo_type.url_prefix(),
            self.namespace,
            self.name
        )
    }
}

pub const REPO_COLS: &str =
    "r.id, r.repo_type, r.namespace, r.name, r.owner_id, r.private, r.gated, r.downloads, r.likes, r.created_at, r.updated_at";

pub fn repo_from_row(r: &Row<'_>) -> crate::db::DbResult<Repo> {
    let t: String = r.get(1)?;
    Ok(Repo {
        id: r.get(0)?,
        repo_type: RepoType::parse(&t).unwrap_or(RepoType::Model),
        namespace: r.get(2)?,
        name: r.get(3)?,
        owner_id: r.get(4)?,
        private: r.get(5)?,
        gated: r.get(6)?,
        downloads: r.get(7)?,
        likes: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

/// Result of looking a repo up by id: found directly, or through the redirect a move left.
#[derive(Debug, Clone)]
pub enum Lookup {
    Found(Repo),
    Moved(Repo),
    Missing,
}

/// Look a repo up by id. Ids are case-insensitive, as on huggingface.co (`alice/model` finds
/// `Alice/Model`); answers keep the stored spelling. Two spellings of one id cannot both exist
/// (the namespace is a user's or org's exact name, and names are unique once normalised).
pub fn find_repo(conn: &Conn, t: RepoType, ns: &str, name: &str) -> Result<Lookup> {
    // Hot path (every resolve): cached statements, the exact spelling first.
    let direct = conn
        .prepare(&format!("SELECT {REPO_COLS} FROM repos r WHERE r.repo_type = ?1 AND r.namespace = ?2 AND r.name = ?3"))?
        .query_row(params![t.as_str(), ns, name], repo_from_row)
        .optional()?;
    if let Some(r) = direct {
        return Ok(Lookup::Found(r));
    }
    let (lns, lname) = (ns.to_ascii_lowercase(), name.to_ascii_lowercase());
    let folded = conn
        .prepare(&format!(
            "SELECT {REPO_COLS} FROM repos r WHERE r.repo_type = ?1 AND lower(r.namespace) = ?2 \
             AND lower(r.name) = ?3 ORDER BY r.id LIMIT 1"
        ))?
        .query_row(params![t.as_str(), lns, lname], repo_from_row)
        .optional()?;
    if let Some(r) = folded {
        return Ok(Lookup::Found(r));
    }
    let moved = conn
        .query_row(
            &format!(
                "SELECT {REPO_COLS} FROM repo_redirects d JOIN repos r ON r.id = d.repo_id \
                 WHERE d.repo_type = ?1 AND lower(d.namespace) = ?2 AND lower(d.name) = ?3 \
                 ORDER BY (d.namespace = ?4 AND d.name = ?5) DESC, d.created_at DESC LIMIT 1"
            ),
            params![t.as_str(), lns, lname, ns, name],
            repo_from_row,
        )
        .optional()?;
    Ok(moved.map(Lookup::Moved).unwrap_or(Lookup::Missing))
}

/// The exact name of the user or organization `ns` names, ignoring case (`None`: none).
pub fn canonical_namespace(conn: &Conn, ns: &str) -> Result<Option<(i64, String)>> {
    Ok(conn
        .query_row(
            "SELECT id, username FROM users WHERE lower(username) = ?1 ORDER BY id LIMIT 1",
            [ns.to_ascii_lowercase()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Find a repo, following redirects silently (for API calls that act on the repo).
pub fn get_repo(conn: &Conn, t: RepoType, ns: &str, name: &str) -> Result<Repo> {
    match find_repo(conn, t, ns, name)? {
        Lookup::Found(r) | Lookup::Moved(r) => Ok(r),
        Lookup::Missing => Err(Error::repo_not_found()),
    }
}

pub fn repo_by_id(conn: &Conn, id: i64) -> Result<Option<Repo>> {
    Ok(conn
        .query_row(
            &format!("SELECT {REPO_COLS} FROM repos r WHERE r.id = ?1"),
            [id],
            repo_from_row,
        )
        .optional()?)
}

/// Does the repository still exist (it may be deleted while a request works on it)?
pub fn exists(conn: &Conn, repo_id: i64) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM repos WHERE id = ?1", [repo_id], |r| {
            r.get::<_, i64>(0)
        })
        .optional()?
        .is_some())
}

/// Mark a repo as changed now.
pub fn touch(conn: &Conn, repo_id: i64) -> Result<()> {
    conn.execute(
        "UPDATE repos SET updated_at = ?1 WHERE id = ?2",
        params![crate::db::now_str(), repo_id],
    )?;
    Ok(())
}
