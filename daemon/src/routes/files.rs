//! File listings: tree, paths-info, and preupload decisions.

use axum::response::{IntoResponse, Response};
use kohaku::perms::Access;
use kohaku::preupload::{self, Candidate};
use kohaku::repos::refs;
use kohaku::{files, history, Error};
use serde::Deserialize;
use serde_json::{json, Value};

use super::shapes::{entry_json, load_repo};
use super::{Ctx, RepoRef};
use crate::auth;
use crate::error::ApiResult;
use crate::request::{read_body, read_json, Query};

/// `GET /api/{type}s/{id}/tree/{rev}[/{path}]`, cursor-paginated.
pub async fn tree(ctx: Ctx, id: RepoRef, rev: &str, path: &str) -> ApiResult<Response> {
    let hub = &ctx.hub;
    let caller = auth::caller(hub, &ctx.headers).await?;
    let (repo, _) = load_repo(hub, caller.as_ref(), &id, Access::Read).await?;
    let resolved = refs::resolve(hub, &repo, rev).await?;
    let commit = hub.objects.commit(repo.id, &resolved.commit).await?;
    let recursive = ctx.query.flag("recursive");
    let expand = ctx.query.flag("expand");
    let page = if expand { 50 } else { 1000 };
    let page = ctx
        .query
        .u64("limit")?
        .map(|l| l.clamp(1, page))
        .unwrap_or(page) as usize;
    let offset = usize::try_from(ctx.query.u64("cursor")?.unwrap_or(0)).unwrap_or(usize::MAX);
    let (slice, more) =
        files::list_tree_page(hub, repo.id, &commit.tree, path, recursive, offset, page).await?;
    let last = if expand {
        let paths: Vec<String> = slice.iter().map(|e| e.path.clone()).collect();
        Some(history::last_commits(hub, repo.id, &resolved.commit, &paths).await?)
    } else {
        None
    };
    let items: Vec<Value> = slice
        .iter()
        .map(|e| entry_json(e, last.as_ref().and_then(|m| m.get(&e.path))))
        .collect();
    let mut resp = axum::Json(Value::Array(items)).into_response();
    if more {
        super::set_next_link(
            &mut resp,
            hub,
            &ctx.path,
            &ctx.query,
            "cursor",
            (offset + page) as u64,
        );
    }
    Ok(resp)
}

#[derive(Deserialize)]
struct PathsJson {
    paths: Vec<String>,
    #[serde(default)]
    expand: Option<bool>,
}

/// `POST /api/{type}s/{id}/paths-info/{rev}` (form or JSON body).
pub async fn paths_info(ctx: Ctx, id: RepoRef, rev: &str) -> ApiResult<Response> {
    let hub = &ctx.hub;
    let caller = auth::caller(hub, &ctx.headers).await?;
    let (repo, _) = load_repo(hub, caller.as_ref(), &id, Access::Read).await?;
    let is_json = ctx
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let body = read_body(ctx.body, 8 << 20).await?;
    let (paths, expand) = if is_json {
        let p: PathsJson = serde_json::from_slice(&body)
            .map_err(|e| Error::bad_request(format!("Invalid JSON body: {e}")))?;
        (p.paths, p.expand.unwrap_or(false))
    } else {
        let text =
            std::str::from_utf8(&body).map_err(|_| Error::bad_request("Body is not UTF-8"))?;
        let q = Query::parse(Some(text));
        (q.all("paths"), q.flag("expand"))
    };
    if paths.len() > 1000 {
        return Err(Error::PayloadTooLarge("At most 1000 paths per request".into()).into());
    }
    let resolved = refs::resolve(hub, &repo, rev).await?;
    let commit = hub.objects.commit(repo.id, &resolved.commit).await?;
    let entries = files::paths_info(hub, repo.id, &commit.tree, &paths).await?;
    let last = if expand {
        let ps: Vec<String> = entries.iter().map(|e| e.path.clone()).collect();
        Some(history::last_commits(hub, repo.id, &resolved.commit, &ps).await?)
    } else {
        None
    };
    let items: Vec<Value> = entries
        .iter()
        .map(|e| entry_json(e, last.as_ref().and_then(|m| m.get(&e.path))))
        .collect();
    Ok(axum::Json(Value::Array(items)).into_response())
}

#[derive(Deserialize)]
struct PreFile {
    path: String,
    size: i64,
    #[allow(dead_code)]
    sample: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreBody {
    files: Vec<PreFile>,
    git_ignore: Option<String>,
}

/// `POST /api/{type}s/{id}/preupload/{rev}`.
pub async fn preupload(ctx: Ctx, id: RepoRef, rev: &str) -> ApiResult<Response> {
    let hub = &ctx.hub;
    let caller = auth::required(hub, &ctx.headers).await?;
    let (repo, _) = load_repo(hub, Some(&caller), &id, Access::Write).await?;
    let body: PreBody = read_json(ctx.body, 16 << 20).await?;
    let resolved = refs::resolve(hub, &repo, rev).await?;
    let commit = hub.objects.commit(repo.id, &resolved.commit).await?;
    let mut cands = Vec::with_capacity(body.files.len());
    for f in body.files {
        if f.size < 0 {
            return Err(Error::bad_request(format!("Invalid size for '{}'", f.path)).into());
        }
        cands.push(Candidate {
            path: f.path,
            size: f.size as u64,
        });
    }
    let sizes: Vec<u64> = cands.iter().map(|c| c.size).collect();
    let decisions = preupload::decide(
        hub,
        repo.id,
        &commit.tree,
        cands,
        body.git_ignore.as_deref(),
    )
    .await?;
    // Regular files count here, whole. LFS files are counted where their bytes arrive: whole
    // at the LFS batch, after dedup at the commit when they come through Xet (a fine-tune of a
    // stored model may add a few MB, not its full size).
    let extra: u64 = decisions
        .iter()
        .zip(&sizes)
        .filter(|(d, _)| !d.lfs)
        .map(|(_, size)| size)
        .sum();
    let r2 = repo.clone();
    hub.db
        .call(move |c| kohaku::quota::check_repo(c, &r2, extra))
        .await?;
    let files: Vec<Value> = decisions
        .into_iter()
        .map(|d| {
            let mut v = json!({
                "path": d.path,
                "uploadMode": if d.lfs { "lfs" } else { "regular" },
                "shouldIgnore": d.should_ignore,
            });
            if let Some(oid) = d.oid {
                v["oid"] = json!(oid);
            }
            v
        })
        .collect();
    Ok(axum::Json(json!({"files": files, "commitOid": resolved.commit})).into_response())
}
