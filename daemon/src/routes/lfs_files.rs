//! `/api/{type}s/{id}/lfs-files`: list a repository's LFS objects, delete them for good
//! (`permanently_delete_lfs_files`), duplicate them into another repository (`copy_files`).

use axum::response::{IntoResponse, Response};
use kohaku::lfs::repo_files::{self, DuplicateFile};
use kohaku::names::{split_repo_id, RepoType};
use kohaku::perms::Access;
use serde::Deserialize;
use serde_json::{json, Value};

use super::shapes::load_repo;
use super::{Ctx, RepoRef};
use crate::auth;
use crate::error::ApiResult;
use crate::request::read_json;

const PAGE: u64 = 100;
const MAX_PAGE: u64 = 1000;

/// `GET .../lfs-files`, newest first, `Link`-paginated; for writers, as it serves the storage
/// clean-up (every object ever committed, deleted paths included).
pub async fn list(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let caller = auth::caller(&hub, &ctx.headers).await?;
    let (repo, _) = load_repo(&hub, caller.as_ref(), &id, Access::Write).await?;
    let limit = ctx.query.u64("limit")?.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let offset = ctx.query.cursor()?;
    let rid = repo.id;
    let files = hub
        .db
        .call(move |c| repo_files::list(c, rid, offset, limit))
        .await?;
    let items: Vec<Value> = files
        .into_iter()
        .map(|f| {
            json!({
                "fileOid": f.oid,
                "oid": f.pointer_oid,
                "filename": f.filename,
                "size": f.size,
                "pushedAt": f.pushed_at,
                "ref": null,
            })
        })
        .collect();
    Ok(super::cursor_page(
        &hub, &ctx.path, &ctx.query, items, offset, limit,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Deletions {
    sha: Vec<String>,
    #[serde(default)]
    rewrite_history: bool,
}

#[derive(Deserialize)]
struct BatchBody {
    deletions: Deletions,
}

async fn delete_oids(
    ctx: Ctx,
    id: RepoRef,
    oids: Vec<String>,
    rewrite: bool,
) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let caller = auth::required(&hub, &ctx.headers).await?;
    let (repo, _) = load_repo(&hub, Some(&caller), &id, Access::Write).await?;
    let done = repo_files::delete(&hub, &repo, &oids, rewrite).await?;
    let refs: Vec<Value> = done
        .rewritten
        .iter()
        .map(|(name, old, new)| json!({"ref": name, "oldTarget": old, "newTarget": new}))
        .collect();
    Ok(axum::Json(json!({
        "deleted": done.files,
        "rewrittenRefs": refs,
    }))
    .into_response())
}

/// `POST .../lfs-files/batch` `{"deletions": {"sha": [...], "rewriteHistory": bool}}`.
pub async fn delete_batch(mut ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let body = std::mem::take(&mut ctx.body);
    let b: BatchBody = read_json(body, 1 << 20).await?;
    delete_oids(ctx, id, b.deletions.sha, b.deletions.rewrite_history).await
}

/// `DELETE .../lfs-files/{sha}[?rewriteHistory=true]`.
pub async fn delete_one(ctx: Ctx, id: RepoRef, sha: &str) -> ApiResult<Response> {
    let rewrite = ctx.query.flag("rewriteHistory");
    delete_oids(ctx, id, vec![sha.to_string()], rewrite).await
}

#[derive(Deserialize)]
struct Target {
    #[serde(rename = "type")]
    repo_type: Option<String>,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DupFile {
    sha256: String,
    xet_hash: Option<String>,
    #[allow(dead_code)]
    filename: Option<String>,
}

#[derive(Deserialize)]
struct DuplicateBody {
    target: Target,
    files: Vec<DupFile>,
}

/// `POST .../lfs-files/duplicate` (on the source repo) `{"target": {"type", "name"}, "files":
/// [{"sha256", "xetHash", "filename"}]}` → `{"failed": [{"sha256", "error"}]}`.
pub async fn duplicate(mut ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let caller = auth::required(&hub, &ctx.headers).await?;
    let body = std::mem::take(&mut ctx.body);
    let b: DuplicateBody = read_json(body, 4 << 20).await?;
    let (source, _) = load_repo(&hub, Some(&caller), &id, Access::Read).await?;
    let t = RepoType::parse(b.target.repo_type.as_deref().unwrap_or("model"))?;
    let (ns, name) = split_repo_id(&b.target.name)?;
    let (target, _) = load_repo(&hub, Some(&caller), &(t, ns, name), Access::Write).await?;
    let files = b
        .files
        .into_iter()
        .map(|f| DuplicateFile {
            oid: f.sha256,
            xet_hash: f.xet_hash,
        })
        .collect();
    let failed = repo_files::duplicate(&hub, &caller, &source, &target, files).await?;
    let failed: Vec<Value> = failed
        .into_iter()
        .map(|f| json!({"sha256": f.oid, "error": f.error}))
        .collect();
    Ok(axum::Json(json!({"failed": failed})).into_response())
}
