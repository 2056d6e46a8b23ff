//! Repo info (`/api/{type}s/{id}[/revision/{rev}]`) and repo listings.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kohaku::names::RepoType;
use kohaku::perms::Access;
use kohaku::repos::refs::{self, MAIN};
use kohaku::repos::{self, ListQuery, Repo, SortKey};
use kohaku::{card, files, Error, Hub};
use serde_json::{json, Value};

use super::shapes::{load_repo, repo_base};
use super::{Ctx, RepoRef};
use crate::auth;
use crate::error::ApiResult;

/// `GET /api/{type}s/{id}/auth-check[/write]`: 200 when the caller may read (write) the repo;
/// otherwise the same refusal every other path gives (404 when it cannot even read it).
pub async fn auth_check(ctx: Ctx, id: RepoRef, need: Access) -> ApiResult<Response> {
    let caller = auth::caller(&ctx.hub, &ctx.headers).await?;
    let (repo, access) = load_repo(&ctx.hub, caller.as_ref(), &id, need).await?;
    Ok(axum::Json(json!({
        "id": repo.full_id(),
        "type": repo.repo_type.as_str(),
        "canWrite": access >= Access::Write,
    }))
    .into_response())
}

/// Full info of a repo at a revision.
pub async fn info(ctx: Ctx, id: RepoRef, rev: Option<String>) -> ApiResult<Response> {
    let hub = &ctx.hub;
    let caller = auth::caller(hub, &ctx.headers).await?;
    let (repo, _) = load_repo(hub, caller.as_ref(), &id, Access::Read).await?;
    let blobs = ctx.query.flag("blobs");
    // Sibling names (when listed without blob metadata), serialised last.
    let mut names: Vec<String> = Vec::new();
    let resolved = match rev.as_deref() {
        Some(r) => Some(refs::resolve(hub, &repo, r).await?),
        None => {
            let has_main = {
                let rid = repo.id;
                hub.db
                    .call(move |c| refs::get_ref(c, rid, MAIN))
                    .await?
                    .is_some()
            };
            if has_main {
                Some(refs::resolve(hub, &repo, "main").await?)
            } else {
                None
            }
        }
    };
    let mut v = match &resolved {
        None => {
            let mut v = repo_base(&repo, None, &repo.updated_at);
            v["siblings"] = json!([]);
            v
        }
        Some(res) => {
            let commit = hub.objects.commit(repo.id, &res.commit).await?;
            let mut v = repo_base(&repo, Some(&res.commit), &commit.committer.iso_time());
            // Names only unless blob metadata was asked for: no blob is read for them.
            let readme = if blobs {
                let all = files::all_files(hub, repo.id, &commit.tree).await?;
                let siblings: Vec<Value> = all
                    .iter()
                    .map(|f| {
                        let mut s = json!({"rfilename": f.path, "size": f.size, "blobId": f.oid});
                        if let Some(p) = &f.lfs {
                            s["lfs"] = json!({"sha256": p.oid, "size": p.size, "pointerSize": f.pointer_size});
                        }
                        s
                    })
                    .collect();
                v["siblings"] = Value::Array(siblings);
                v["usedStorage"] = json!(all.iter().map(|f| f.size).sum::<u64>());
                all.into_iter().find(|f| f.path == "README.md")
            } else {
                names = files::all_file_paths(hub, repo.id, &commit.tree).await?;
                if names.is_empty() {
                    v["siblings"] = json!([]);
                }
                files::file_at(hub, repo.id, &commit.tree, "README.md").await?
            };
            if let Some(readme) = readme.filter(|f| f.lfs.is_none() && f.size < (1 << 20)) {
                let text = String::from_utf8_lossy(&hub.objects.blob(repo.id, &readme.oid).await?)
                    .into_owned();
                if let Ok(Some(cd)) = card::card_data(&text) {
                    v["tags"] = json!(card::tags(Some(&cd)));
                    for key in ["library_name", "pipeline_tag"] {
                        if let Some(x) = cd.get(key) {
                            v[key] = x.clone();
                        }
                    }
                    // A Space's SDK comes from its card, as on huggingface.co.
                    if repo.repo_type == RepoType::Space {
                        if let Some(x) = cd.get("sdk") {
                            v["sdk"] = x.clone();
                        }
                    }
                    v["cardData"] = cd;
                }
            }
            v
        }
    };
    if v.get("tags").is_none() {
        v["tags"] = json!([]);
    }
    if names.is_empty() {
        return Ok(axum::Json(v).into_response());
    }
    // Thousands of names are written straight out, not built as JSON values first.
    Ok(axum::Json(WithSiblings {
        base: &v,
        siblings: Siblings(&names),
    })
    .into_response())
}

#[derive(serde::Serialize)]
struct WithSiblings<'a> {
    #[serde(flatten)]
    base: &'a Value,
    siblings: Siblings<'a>,
}

/// `[{"rfilename": ...}, ...]` from the names.
struct Siblings<'a>(&'a [String]);

impl serde::Serialize for Siblings<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct One<'b>(&'b str);
        impl serde::Serialize for One<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("rfilename", self.0)?;
                m.end()
            }
        }
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for n in self.0 {
            seq.serialize_element(&One(n))?;
        }
        seq.end()
    }
}

fn list_item(repo: &Repo, sha: Option<String>) -> Value {
    repo_base(repo, sha.as_deref(), &repo.updated_at)
}

const MAX_PAGE: u64 = 1000;

/// `GET /api/{type}s` with author / search / sort / limit and `Link` pagination.
pub async fn list(ctx: Ctx, t: RepoType) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let caller = auth::caller(&hub, &ctx.headers).await?;
    let q = &ctx.query;
    let limit = q.u64("limit")?.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let offset = q.cursor()?;
    let sort = SortKey::parse(q.get("sort").unwrap_or("createdAt"))?;
    let descending = q.get("direction") != Some("1");
    let author = q
        .get("author")
        .filter(|a| !a.is_empty())
        .map(str::to_string);
    let search: Vec<String> = q
        .all("search")
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let lq = ListQuery {
        repo_type: Some(t),
        author,
        search,
        sort,
        descending,
        offset,
        limit,
    };
    let rows = hub
        .db
        .call(move |c| {
            let repos = repos::list_repos(c, caller.as_ref(), &lq)?;
            let mut out = Vec::with_capacity(repos.len());
            for r in repos {
                let sha = refs::get_ref(c, r.id, MAIN)?;
                out.push((r, sha));
            }
            Ok(out)
        })
        .await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|(r, sha)| list_item(&r, sha))
        .collect();
    Ok(super::cursor_page(&hub, &ctx.path, q, items, offset, limit))
}

/// `GET /api/users/{username}/repos`: the readable repos of a user or org, grouped by type.
pub async fn user_repos(ctx: Ctx, username: &str) -> ApiResult<Response> {
    let hub: Hub = ctx.hub.clone();
    let caller = auth::caller(&hub, &ctx.headers).await?;
    let user = username.to_string();
    let rows = hub
        .db
        .call(move |c| {
            if kohaku::accounts::user_by_name(c, &user)?.is_none() {
                return Err(Error::EntryNotFound(format!("User '{user}' not found")));
            }
            let lq = ListQuery {
                repo_type: None,
                author: Some(user),
                search: vec![],
                sort: SortKey::LastModified,
                descending: true,
                offset: 0,
                limit: 10_000,
            };
            let repos = repos::list_repos(c, caller.as_ref(), &lq)?;
            let mut out = Vec::new();
            for r in repos {
                let sha = refs::get_ref(c, r.id, MAIN)?;
                out.push((r, sha));
            }
            Ok(out)
        })
        .await?;
    let mut grouped = json!({"models": [], "datasets": [], "spaces": []});
    for (r, sha) in rows {
        if let Some(Value::Array(a)) = grouped.get_mut(r.repo_type.plural()) {
            a.push(list_item(&r, sha));
        }
    }
    Ok((StatusCode::OK, axum::Json(grouped)).into_response())
}

/// `GET /api/settings/repositories` (the caller's own) and
/// `GET /api/organizations/{org}/settings/repositories`: every repository of the namespace
/// with its stored usage, `Link`-paginated (`list_user_repos()`, `hf repos ls`).
pub async fn storage_list(ctx: Ctx, org: Option<&str>) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let caller = auth::required(&hub, &ctx.headers).await?;
    let ns = org.map_or_else(|| caller.user.username.clone(), str::to_string);
    let limit = ctx
        .query
        .u64("limit")?
        .unwrap_or(MAX_PAGE)
        .clamp(1, MAX_PAGE);
    let offset = ctx.query.cursor()?;
    let (rows, total) = hub
        .db
        .call(move |c| repos::namespace_storage(c, &caller, &ns, offset, limit))
        .await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|(r, used)| {
            let percent = if total == 0 {
                0.0
            } else {
                used as f64 * 100.0 / total as f64
            };
            json!({
                "id": r.full_id(),
                "type": r.repo_type.as_str(),
                "updatedAt": r.updated_at,
                "visibility": if r.private { "private" } else { "public" },
                "storage": used,
                "storagePercent": percent,
            })
        })
        .collect();
    Ok(super::cursor_page(
        &hub, &ctx.path, &ctx.query, items, offset, limit,
    ))
}
