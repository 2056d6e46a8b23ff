//! Listing repositories with the filters of `GET /api/{type}s`, privacy respected.

use crate::db::{params_from_iter, Conn, OptionalExtension};

use super::{repo_from_row, Repo, REPO_COLS};
use crate::accounts::Caller;
use crate::error::{Error, Result};
use crate::names::RepoType;
use crate::perms::readable_repos_sql;

/// Orderings the HF client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    CreatedAt,
    LastModified,
    Downloads,
    Likes,
    /// Σ over the last 7 days of ln(1 + downloads) × 0.8^days_ago.
    Trending,
    Id,
}

impl SortKey {
    pub fn parse(s: &str) -> Result<SortKey> {
        Ok(match s {
            "createdAt" | "created_at" => SortKey::CreatedAt,
            "lastModified" | "last_modified" | "updatedAt" => SortKey::LastModified,
            "downloads" => SortKey::Downloads,
            "likes" => SortKey::Likes,
            "trendingScore" | "trending_score" | "trending" => SortKey::Trending,
            "id" | "name" => SortKey::Id,
            other => return Err(Error::bad_request(format!("Invalid sort '{other}'"))),
        })
    }
    fn column(self) -> &'static str {
        match self {
            SortKey::CreatedAt => "r.created_at",
            SortKey::LastModified => "r.updated_at",
            SortKey::Downloads | SortKey::Trending => "r.downloads",
            SortKey::Likes => "r.likes",
            SortKey::Id => "r.namespace || '/' || r.name",
        }
    }
}

/// Filters of a repo listing.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub repo_type: Option<RepoType>,
    pub author: Option<String>,
    pub search: Vec<String>,
    pub sort: SortKey,
    pub descending: bool,
    pub offset: u64,
    pub limit: u64,
}

pub fn list_repos(conn: &Conn, caller: Option<&Caller>, q: &ListQuery) -> Result<Vec<Repo>> {
    let mut sql = format!(
        "SELECT {REPO_COLS} FROM repos r WHERE {}",
        readable_repos_sql(caller)
    );
    let mut args: Vec<String> = Vec::new();
    if let Some(t) = q.repo_type {
        args.push(t.as_str().into());
        sql.push_str(&format!(" AND r.repo_type = ?{}", args.len()));
    }
    if let Some(a) = &q.author {
        args.push(a.to_ascii_lowercase());
        sql.push_str(&format!(" AND lower(r.namespace) = ?{}", args.len()));
    }
    for s in &q.search {
        let escaped = s
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        args.push(format!("%{escaped}%"));
        sql.push_str(&format!(
            " AND lower(r.namespace || '/' || r.name) LIKE ?{} ESCAPE '\\'",
            args.len()
        ));
    }
    let dir = if q.descending { "DESC" } else { "ASC" };
    if q.sort == SortKey::Trending {
        // Scores come from recent download statistics, computed here rather than in SQL.
        sql.push_str(" ORDER BY r.id DESC");
        let mut stmt = conn.prepare(&sql)?;
        let mut all = stmt
            .query_map(params_from_iter(args.iter()), repo_from_row)?
            .collect::<crate::db::DbResult<Vec<_>>>()?;
        let scores = crate::stats::trending_scores(conn)?;
        let score = |r: &Repo| scores.get(&r.id).copied().unwrap_or(0.0);
        all.sort_by(|a, b| {
            let o = score(b)
                .total_cmp(&score(a))
                .then(b.downloads.cmp(&a.downloads))
                .then(b.id.cmp(&a.id));
            if q.descending {
                o
            } else {
                o.reverse()
            }
        });
        return Ok(all
            .into_iter()
            .skip(q.offset as usize)
            .take(q.limit as usize)
            .collect());
    }
    sql.push_str(&format!(
        " ORDER BY {} {dir}, r.id {dir} LIMIT {} OFFSET {}",
        q.sort.column(),
        q.limit,
        q.offset
    ));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args.iter()), repo_from_row)?;
    Ok(rows.collect::<crate::db::DbResult<Vec<_>>>()?)
}

/// Every repository of `namespace` with its stored usage (largest first, then newest), and the
/// namespace's total usage: what `list_user_repos()` / `hf repos ls` show. Only the namespace's
/// user, members of its organization and hub admins may see it.
pub fn namespace_storage(
    conn: &Conn,
    caller: &Caller,
    namespace: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<(Repo, u64)>, u64)> {
    let owner: Option<(String, bool)> = conn
        .query_row(
            "SELECT username, is_org FROM users WHERE lower(username) = ?1",
            [namespace.to_ascii_lowercase()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((ns, is_org)) = owner else {
        return Err(Error::EntryNotFound(format!(
            "Namespace '{namespace}' not found"
        )));
    };
    let allowed = caller.user.is_admin
        || caller.user.username == ns
        || (is_org && crate::orgs::role_in(conn, &ns, caller.user.id)?.is_some());
    if !allowed {
        return Err(Error::Forbidden(format!(
            "Only members of '{ns}' can list its repositories' storage"
        )));
    }
    let total: i64 = conn.query_row(
        "SELECT COALESCE(SUM(used_bytes), 0) FROM repos WHERE namespace = ?1",
        [&ns],
        |r| r.get(0),
    )?;
    let rows = conn.query_all(
        &format!(
            "SELECT {REPO_COLS}, r.used_bytes FROM repos r WHERE r.namespace = ?1 \
             ORDER BY r.used_bytes DESC, r.id DESC LIMIT {limit} OFFSET {offset}"
        ),
        [&ns],
        |r| Ok((repo_from_row(r)?, r.get::<_, i64>(11)?.max(0) as u64)),
    )?;
    Ok((rows, total.max(0) as u64))
}

/// How many repositories of each type a namespace holds that `caller` may see.
#[derive(Debug, Clone, Copy, Default)]
pub struct RepoCounts {
    pub models: i64,
    pub datasets: i64,
    pub spaces: i64,
}

pub fn count_by_type(conn: &Conn, namespace: &str, caller: Option<&Caller>) -> Result<RepoCounts> {
    let cond = crate::perms::readable_repos_sql(caller);
    let q = |t: &str| -> Result<i64> {
        Ok(conn.query_row(
            &format!("SELECT COUNT(*) FROM repos r WHERE r.namespace = ?1 AND r.repo_type = ?2 AND {cond}"),
            [namespace, t],
            |r| r.get(0),
        )?)
    };
    Ok(RepoCounts {
        models: q("model")?,
        datasets: q("dataset")?,
        spaces: q("space")?,
    })
}
