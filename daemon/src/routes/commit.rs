//! `POST /api/{type}s/{id}/commit/{rev}`: the NDJSON commit, streamed.

use axum::response::{IntoResponse, Response};
use kohaku::commits::{self, parse_commit};
use kohaku::perms::Access;
use kohaku::Error;
use serde_json::json;

use super::shapes::load_repo;
use super::{Ctx, RepoRef};
use crate::auth;
use crate::error::ApiResult;
use crate::request::{body_reader, drain, limited_reader};

pub async fn commit(ctx: Ctx, id: RepoRef, rev: &str) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let caller = auth::required(&hub, &ctx.headers).await?;
    let (repo, _) = load_repo(&hub, Some(&caller), &id, Access::Write).await?;
    if ctx.query.flag("create_pr") {
        return Err(Error::bad_request(
            "Pull requests are not supported by this hub yet: commit to a branch",
        )
        .into());
    }
    let branch = commits::writable_branch(&hub, &repo, rev).await?;
    if let Some(len) = ctx
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > hub.config.max_commit_bytes {
            return Err(Error::PayloadTooLarge(format!(
                "Commit payload over {} bytes",
                hub.config.max_commit_bytes
            ))
            .into());
        }
    }
    let mut reader = limited_reader(body_reader(ctx.body), hub.config.max_commit_bytes);
    let req = match parse_commit(&hub, repo.id, &mut reader).await {
        Ok(r) => r,
        Err(e) => {
            // Let the client finish sending so that it reads the refusal.
            drain(&mut reader, 256 << 20).await;
            return Err(e.into());
        }
    };
    let oid = commits::create_commit(&hub, &caller, &repo, &branch, req).await?;
    let url = hub.url(&format!("{}/commit/{oid}", repo.web_path()));
    Ok(axum::Json(
        json!({"success": true, "commitOid": oid, "commitUrl": url, "pullRequestUrl": null}),
    )
    .into_response())
}
