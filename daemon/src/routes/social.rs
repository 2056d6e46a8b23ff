//! Likes, download statistics and trending.

use std::net::SocketAddr;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use kohaku::accounts::Caller;
use kohaku::names::RepoType;
use kohaku::perms::Access;
use kohaku::repos::{self, ListQuery, SortKey};
use kohaku::{likes, stats, Error, Hub};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::shapes::load_repo;
use super::{Ctx, RepoRef};
use crate::auth;
use crate::error::{header_safe, ApiResult};

/// Cookie naming an anonymous download session.
const DOWNLOAD_COOKIE: &str = "hf_download_session";

/// Who is downloading, for the 15-minute session buckets.
pub struct DownloadSession {
    pub key: String,
    pub authenticated: bool,
    /// Set on the response for anonymous clients without the cookie yet.
    pub set_cookie: Option<HeaderValue>,
}

/// Logged-in users count per session, tokens per token; anonymous clients by their cookie,
/// else by address and user agent (and they are given that id as a cookie).
pub fn download_session(
    caller: Option<&Caller>,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> DownloadSession {
    if let Some(c) = caller {
        let key = match &c.token {
            Some(t) => format!("t:{}", t.id),
            None => format!("u:{}", c.user.id),
        };
        return DownloadSession {
            key,
            authenticated: true,
            set_cookie: None,
        };
    }
    let cookie = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == DOWNLOAD_COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric()));
    if let Some(c) = cookie {
        return DownloadSession {
            key: format!("c:{c}"),
            authenticated: false,
            set_cookie: None,
        };
    }
    let ua = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ip = peer.map(|p| p.ip().to_string()).unwrap_or_default();
    let id = hex::encode(&Sha256::digest(format!("{ip}|{ua}").as_bytes())[..16]);
    DownloadSession {
        key: format!("c:{id}"),
        authenticated: false,
        set_cookie: Some(header_safe(&format!(
            "{DOWNLOAD_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400"
        ))),
    }
}

/// Count a download; failures are logged, never turned into a failed download.
pub async fn record(hub: &Hub, repo_id: i64, s: &DownloadSession, file: &str) {
    let (key, auth, file) = (s.key.clone(), s.authenticated, file.to_string());
    if let Err(e) = hub
        .db
        .call(move |c| stats::record_download(c, repo_id, &key, auth, &file))
        .await
    {
        tracing::warn!(error = %e, "could not record a download");
    }
}

/// `POST|DELETE|GET /api/{type}s/{id}/like`
pub async fn like(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    use axum::http::Method;
    let hub = ctx.hub.clone();
    let caller = auth::caller(&hub, &ctx.headers).await?;
    let (repo, _) = load_repo(&hub, caller.as_ref(), &id, Access::Read).await?;
    if ctx.method == Method::GET {
        let liked = match &caller {
            Some(c) => {
                let (r, u) = (repo.id, c.user.id);
                hub.db
                    .call(move |conn| likes::has_liked(conn, r, u))
                    .await?
            }
            None => false,
        };
        return Ok(axum::Json(json!({"liked": liked})).into_response());
    }
    let caller = caller.ok_or_else(|| Error::Unauthorized("Log in to like repositories".into()))?;
    if !caller.can_write() {
        return Err(Error::Forbidden("This token is read-only".into()).into());
    }
    let like = ctx.method == Method::POST;
    let (r, u) = (repo.id, caller.user.id);
    let count = hub
        .db
        .call(move |conn| likes::set_like(conn, r, u, like))
        .await?;
    let msg = if like {
        "Repository liked successfully"
    } else {
        "Repository unliked successfully"
    };
    Ok(axum::Json(json!({"success": true, "message": msg, "likes_count": count})).into_response())
}

/// `GET /api/{type}s/{id}/likers`: a JSON array (huggingface_hub paginates it).
pub async fn likers(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let caller = auth::caller(&hub, &ctx.headers).await?;
    let (repo, _) = load_repo(&hub, caller.as_ref(), &id, Access::Read).await?;
    let limit = ctx.query.u64("limit")?.unwrap_or(1000).clamp(1, 1000);
    let offset = ctx.query.cursor()?;
    let r = repo.id;
    let rows = hub
        .db
        .call(move |c| likes::likers(c, r, offset, limit))
        .await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|(u, f, at)| {
            json!({
                "user": u, "username": u,
                "fullname": f.clone().unwrap_or_else(|| u.clone()), "full_name": f,
                "avatarUrl": hub.url(&format!("/api/users/{u}/avatar")),
                "type": "user", "likedAt": at,
            })
        })
        .collect();
    Ok(super::cursor_page(
        &hub, &ctx.path, &ctx.query, items, offset, limit,
    ))
}

/// `GET /api/users/{username}/likes`
pub async fn user_likes(ctx: Ctx, username: &str) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let caller = auth::caller(&hub, &ctx.headers).await?;
    let limit = ctx.query.u64("limit")?.unwrap_or(1000).clamp(1, 1000);
    let offset = ctx.query.cursor()?;
    let name = username.to_string();
    let rows = hub
        .db
        .call(move |c| likes::liked_by(c, &name, caller.as_ref(), offset, limit))
        .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|(r, at)| json!({"createdAt": at, "repo": {"name": r.full_id(), "type": r.repo_type.as_str()}}))
        .collect();
    Ok(super::cursor_page(
        &hub, &ctx.path, &ctx.query, items, offset, limit,
    ))
}

/// `GET /api/{type}s/{id}/stats`
pub async fn repo_stats(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let caller = auth::caller(&ctx.hub, &ctx.headers).await?;
    let (repo, _) = load_repo(&ctx.hub, caller.as_ref(), &id, Access::Read).await?;
    Ok(axum::Json(json!({"downloads": repo.downloads, "likes": repo.likes})).into_response())
}

fn days_param(ctx: &Ctx, default: u64, max: u64) -> Result<i64, Error> {
    let d = ctx.query.u64("days")?.unwrap_or(default);
    if d == 0 || d > max {
        return Err(Error::bad_request(format!(
            "days must be between 1 and {max}"
        )));
    }
    Ok(d as i64)
}

/// `GET /api/{type}s/{id}/stats/recent?days=N`
pub async fn repo_stats_recent(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let caller = auth::caller(&ctx.hub, &ctx.headers).await?;
    let (repo, _) = load_repo(&ctx.hub, caller.as_ref(), &id, Access::Read).await?;
    let days = days_param(&ctx, 30, 365)?;
    let r = repo.id;
    let list = ctx.hub.db.call(move |c| stats::recent(c, r, days)).await?;
    let period = json!({"start": list.first().map(|d| d.date.clone()), "end": list.last().map(|d| d.date.clone()), "days": days});
    Ok(axum::Json(json!({"stats": list, "period": period})).into_response())
}

/// `GET /api/trending?repo_type=&days=&limit=`: most downloaded readable repos lately.
pub async fn trending(ctx: Ctx) -> ApiResult<Response> {
    let caller = auth::caller(&ctx.hub, &ctx.headers).await?;
    let days = days_param(&ctx, 7, 90)?;
    let limit = ctx.query.u64("limit")?.unwrap_or(20);
    if limit == 0 || limit > 100 {
        return Err(Error::bad_request("limit must be between 1 and 100").into());
    }
    let repo_type = ctx
        .query
        .get("repo_type")
        .filter(|t| !t.is_empty())
        .map(RepoType::parse)
        .transpose()?;
    let rows = ctx
        .hub
        .db
        .call(move |c| {
            let totals = stats::recent_totals(c, days)?;
            let q = ListQuery {
                repo_type,
                author: None,
                search: vec![],
                sort: SortKey::Id,
                descending: false,
                offset: 0,
                limit: i64::MAX as u64,
            };
            let mut list: Vec<(repos::Repo, i64)> = repos::list_repos(c, caller.as_ref(), &q)?
                .into_iter()
                .filter_map(|r| {
                    totals
                        .get(&r.id)
                        .copied()
                        .filter(|n| *n > 0)
                        .map(|n| (r, n))
                })
                .collect();
            list.sort_by(|a, b| {
                b.1.cmp(&a.1)
                    .then(b.0.downloads.cmp(&a.0.downloads))
                    .then(a.0.id.cmp(&b.0.id))
            });
            list.truncate(limit as usize);
            Ok(list)
        })
        .await?;
    let today = chrono::Utc::now().date_naive();
    let items: Vec<Value> = rows
        .iter()
        .map(|(r, n)| json!({"id": r.full_id(), "type": r.repo_type.as_str(), "downloads": r.downloads, "likes": r.likes, "recent_downloads": n, "private": r.private}))
        .collect();
    let start = (today - chrono::Duration::days(days - 1))
        .format("%Y-%m-%d")
        .to_string();
    Ok(axum::Json(json!({"trending": items, "period": {"start": start, "end": today.format("%Y-%m-%d").to_string(), "days": days}})).into_response())
}
