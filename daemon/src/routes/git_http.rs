//! git smart HTTP: `info/refs`, `git-upload-pack`, `git-receive-pack`, `HEAD`.
//! Basic auth with a token as password; anonymous callers are asked to authenticate (401 with
//! `WWW-Authenticate`) for anything they cannot read, so git prompts and nothing leaks.

use std::io::Read;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kohaku::accounts::Caller;
use kohaku::git_http::receive_pack;
use kohaku::git_http::upload_pack::{self, Response as GitResponse};
use kohaku::perms::Access;
use kohaku::repos::Repo;
use kohaku::{Error, Hub};

use super::shapes::load_repo;
use super::{Ctx, RepoRef};
use crate::auth;
use crate::error::ApiResult;
use crate::request::read_body;

/// Largest upload-pack request (wants and haves).
const MAX_NEGOTIATION: usize = 64 << 20;

fn git_v2(headers: &HeaderMap) -> bool {
    headers
        .get("git-protocol")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(':').any(|p| p.trim() == "version=2"))
}

/// Load the repo for git: anonymous callers get 401 instead of 404 so git asks for credentials.
async fn git_repo(
    hub: &Hub,
    headers: &HeaderMap,
    id: &RepoRef,
    need: Access,
) -> ApiResult<(Repo, Option<Caller>)> {
    let caller = auth::caller(hub, headers).await?;
    match load_repo(hub, caller.as_ref(), id, need).await {
        Ok((repo, _)) => Ok((repo, caller)),
        Err(Error::RepoNotFound(_)) | Err(Error::Unauthorized(_)) if caller.is_none() => {
            Err(Error::Unauthorized("Authentication required".into()).into())
        }
        Err(e) => Err(e.into()),
    }
}

fn git_response(content_type: &'static str, body: Body) -> Response {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static(content_type));
    h.insert(
        "cache-control",
        HeaderValue::from_static("no-cache, max-age=0, must-revalidate"),
    );
    (StatusCode::OK, h, body).into_response()
}

fn into_body(r: GitResponse) -> Body {
    match r {
        GitResponse::Bytes(b) => Body::from(b),
        GitResponse::Stream(s) => Body::from_stream(s),
    }
}

/// Request body, gunzipped when git compressed it, bounded by `max`.
async fn git_body(ctx: Ctx, max: usize) -> ApiResult<Vec<u8>> {
    let gzip = ctx
        .headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let raw = read_body(ctx.body, max).await?;
    if !gzip {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&raw[..])
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::bad_request(format!("Invalid gzip request body: {e}")))?;
    if out.len() > max {
        return Err(Error::PayloadTooLarge("Request body too large".into()).into());
    }
    Ok(out)
}

pub async fn info_refs(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let service = ctx.query.get("service").unwrap_or("").to_string();
    let need = match service.as_str() {
        "git-upload-pack" => Access::Read,
        "git-receive-pack" => Access::Write,
        _ => {
            return Err(Error::Forbidden(
                "Only the smart HTTP protocol is supported (git 1.6.6 or newer)".into(),
            )
            .into())
        }
    };
    let (repo, caller) = git_repo(&ctx.hub, &ctx.headers, &id, need).await?;
    if need == Access::Write && caller.is_none() {
        return Err(Error::Unauthorized("Authentication required to push".into()).into());
    }
    let body = if service == "git-upload-pack" && git_v2(&ctx.headers) {
        upload_pack::v2_capabilities()
    } else {
        upload_pack::v0_advertisement(&ctx.hub, repo.id, &service).await?
    };
    let ct = if service == "git-upload-pack" {
        "application/x-git-upload-pack-advertisement"
    } else {
        "application/x-git-receive-pack-advertisement"
    };
    Ok(git_response(ct, Body::from(body)))
}

pub async fn upload_pack(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let (repo, caller) = git_repo(&ctx.hub, &ctx.headers, &id, Access::Read).await?;
    let hub = ctx.hub.clone();
    let v2 = git_v2(&ctx.headers);
    let session = super::social::download_session(caller.as_ref(), &ctx.headers, ctx.peer);
    let body = git_body(ctx, MAX_NEGOTIATION).await?;
    let resp = if v2 {
        upload_pack::handle_v2(&hub, repo.id, &body).await?
    } else {
        upload_pack::handle_v0(&hub, repo.id, &body).await?
    };
    if matches!(resp, GitResponse::Stream(_)) {
        // A clone or fetch that receives a pack is one download.
        super::social::record(&hub, repo.id, &session, "<git fetch>").await;
    }
    Ok(git_response(
        "application/x-git-upload-pack-result",
        into_body(resp),
    ))
}

pub async fn receive_pack(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let (repo, caller) = git_repo(&ctx.hub, &ctx.headers, &id, Access::Write).await?;
    let caller =
        caller.ok_or_else(|| Error::Unauthorized("Authentication required to push".into()))?;
    let hub = ctx.hub.clone();
    let max = usize::try_from(hub.config.max_commit_bytes).unwrap_or(usize::MAX);
    let body = git_body(ctx, max).await?;
    let req = receive_pack::parse_request(&body)?;
    let sideband = req.sideband;
    let report_status = req.report_status;
    let report = receive_pack::receive(&hub, &caller, &repo, req).await?;
    for (name, r) in &report.refs {
        match r {
            Ok(()) => tracing::info!(r#ref = %name, repo = %repo.full_id(), "push updated ref"),
            Err(e) => tracing::info!(r#ref = %name, reason = %e, "push refused a ref"),
        }
    }
    let out = if report_status || sideband {
        report.render(sideband)
    } else {
        Vec::new()
    };
    Ok(git_response(
        "application/x-git-receive-pack-result",
        Body::from(out),
    ))
}

pub async fn head(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    git_repo(&ctx.hub, &ctx.headers, &id, Access::Read).await?;
    Ok(git_response(
        "text/plain",
        Body::from("ref: refs/heads/main\n"),
    ))
}
