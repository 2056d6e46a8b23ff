//! Refs, branches, tags, commit history, super-squash.

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use kohaku::commits::branches;
use kohaku::perms::Access;
use kohaku::repos::refs;
use kohaku::{history, Error};
use serde::Deserialize;
use serde_json::{json, Value};

use super::shapes::{commit_json, load_repo};
use super::{Ctx, RepoRef};
use crate::auth;
use crate::error::ApiResult;
use crate::request::read_body;

pub async fn list(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let hub = &ctx.hub;
    let caller = auth::caller(hub, &ctx.headers).await?;
    let (repo, _) = load_repo(hub, caller.as_ref(), &id, Access::Read).await?;
    let rid = repo.id;
    let all = hub.db.call(move |c| refs::list_refs(c, rid)).await?;
    let (mut branches, mut tags, mut converts, mut prs) = (vec![], vec![], vec![], vec![]);
    for (name, target) in all {
        let commit = hub
            .objects
            .peel_to_commit(repo.id, &target)
            .await?
            .unwrap_or(target);
        let short = name.rsplit_once('/').map(|(_, s)| s).unwrap_or(&name);
        if let Some(b) = name.strip_prefix("refs/heads/") {
            branches.push(json!({"name": b, "ref": name, "targetCommit": commit}));
        } else if let Some(t) = name.strip_prefix("refs/tags/") {
            tags.push(json!({"name": t, "ref": name, "targetCommit": commit}));
        } else if name.starts_with("refs/convert/") {
            converts.push(json!({"name": short, "ref": name, "targetCommit": commit}));
        } else if name.starts_with("refs/pr/") {
            prs.push(json!({"name": short, "ref": name, "targetCommit": commit}));
        }
    }
    let mut v = json!({"branches": branches, "tags": tags, "converts": converts});
    if ctx.query.flag("include_prs") {
        v["pullRequests"] = Value::Array(prs);
    }
    Ok(axum::Json(v).into_response())
}

const COMMITS_PAGE: u64 = 50;

pub async fn commits(ctx: Ctx, id: RepoRef, rev: &str) -> ApiResult<Response> {
    let hub = &ctx.hub;
    let caller = auth::caller(hub, &ctx.headers).await?;
    let (repo, _) = load_repo(hub, caller.as_ref(), &id, Access::Read).await?;
    let resolved = refs::resolve(hub, &repo, rev).await?;
    let limit = ctx
        .query
        .u64("limit")?
        .unwrap_or(COMMITS_PAGE)
        .clamp(1, 1000);
    let page = ctx.query.u64("p")?.unwrap_or(0);
    let (items, more) = history::list_commits(
        hub,
        repo.id,
        &resolved.commit,
        (page * limit) as usize,
        limit as usize,
    )
    .await?;
    let total = history::count_commits(hub, repo.id, &resolved.commit).await?;
    let body: Vec<Value> = items.iter().map(commit_json).collect();
    let mut resp = axum::Json(Value::Array(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        resp.headers_mut().insert("x-total-count", v);
    }
    if more {
        super::set_next_link(&mut resp, hub, &ctx.path, &ctx.query, "p", page + 1);
    }
    Ok(resp)
}

/// Parse an optional JSON object body (the client may send nothing at all).
async fn optional_json<T: serde::de::DeserializeOwned + Default>(
    body: axum::body::Body,
) -> Result<T, Error> {
    let bytes = read_body(body, 1 << 20).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::bad_request(format!("Invalid JSON body: {e}")))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct BranchBody {
    starting_point: Option<String>,
}

pub async fn create_branch(ctx: Ctx, id: RepoRef, branch: &str) -> ApiResult<Response> {
    let hub = &ctx.hub;
    let caller = auth::required(hub, &ctx.headers).await?;
    let (repo, _) = load_repo(hub, Some(&caller), &id, Access::Write).await?;
    let b: BranchBody = optional_json(ctx.body).await?;
    let commit = branches::create_branch(hub, &repo, branch, b.starting_point.as_deref()).await?;
    Ok(axum::Json(
        json!({"success": true, "ref": refs::branch_ref(branch), "targetCommit": commit}),
    )
    .into_response())
}

pub async fn delete_branch(ctx: Ctx, id: RepoRef, branch: &str) -> ApiResult<Response> {
    let hub = &ctx.hub;
    let caller = auth::required(hub, &ctx.headers).await?;
    let (repo, _) = load_repo(hub, Some(&caller), &id, Access::Write).await?;
    branches::delete_branch(hub, &repo, branch).await?;
    Ok(axum::Json(json!({"success": true})).into_response())
}

#[derive(Deserialize, Default)]
struct TagBody {
    tag: Option<String>,
    message: Option<String>,
}

pub async fn create_tag(ctx: Ctx, id: RepoRef, revision: &str) -> ApiResult<Response> {
    let hub = &ctx.hub;
    let caller = auth::required(hub, &ctx.headers).await?;
    let (repo, _) = load_repo(hub, Some(&caller), &id, Access::Write).await?;
    let b: TagBody = optional_json(ctx.body).await?;
    let (tag, commit) = branches::create_tag(
        hub,
        &caller,
        &repo,
        revision,
        b.tag.as_deref(),
        b.message.as_deref(),
    )
    .await?;
    Ok(
        axum::Json(json!({"success": true, "ref": refs::tag_ref(&tag), "targetCommit": commit}))
            .into_response(),
    )
}

pub async fn delete_tag(ctx: Ctx, id: RepoRef, tag: &str) -> ApiResult<Response> {
    let hub = &ctx.hub;
    let caller = auth::required(hub, &ctx.headers).await?;
    let (repo, _) = load_repo(hub, Some(&caller), &id, Access::Write).await?;
    branches::delete_tag(hub, &repo, tag).await?;
    Ok(axum::Json(json!({"success": true})).into_response())
}

#[derive(Deserialize, Default)]
struct SquashBody {
    message: Option<String>,
}

pub async fn super_squash(ctx: Ctx, id: RepoRef, branch: &str) -> ApiResult<Response> {
    let hub = &ctx.hub;
    let caller = auth::required(hub, &ctx.headers).await?;
    let (repo, _) = load_repo(hub, Some(&caller), &id, Access::Write).await?;
    let b: SquashBody = optional_json(ctx.body).await?;
    let msg = b
        .message
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| format!("Super-squash branch '{branch}'"));
    let oid = branches::super_squash(hub, &caller, &repo, branch, &msg).await?;
    Ok(axum::Json(json!({"success": true, "commitOid": oid})).into_response())
}
