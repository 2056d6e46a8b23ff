//! Organizations: KohakuHub's `/org/...` paths and huggingface.co's `/api/organizations/...`.
//! Parse, call `kohaku::orgs::service`, render.

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kohaku::orgs::{service, Role};
use kohaku::Error;
use serde::Deserialize;

use super::Ctx;
use crate::auth;
use crate::error::ApiResult;
use crate::request::read_json;

/// `POST /org/create`
pub async fn create(ctx: Ctx) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let mut req: service::CreateOrg = read_json(ctx.body, 1 << 20).await?;
    // The owner is the caller on this path; hub admins name others through the admin API.
    req.owner = None;
    Ok(Json(service::create(&ctx.hub, &caller, req).await?).into_response())
}

/// `GET /org/{org}`
pub async fn get(ctx: Ctx, name: &str) -> ApiResult<Response> {
    Ok(Json(service::info(&ctx.hub, name).await?).into_response())
}

/// `GET /org/{org}/members`
pub async fn members(ctx: Ctx, name: &str) -> ApiResult<Response> {
    Ok(Json(service::members(&ctx.hub, name).await?).into_response())
}

#[derive(Deserialize)]
struct MemberBody {
    username: Option<String>,
    role: String,
}

/// `POST /org/{org}/members` and `PUT /org/{org}/members/{user}`
pub async fn set_member(ctx: Ctx, org: &str, user: Option<&str>) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let b: MemberBody = read_json(ctx.body, 1 << 20).await?;
    let username = match (user, b.username) {
        (Some(u), _) => u.to_string(),
        (None, Some(u)) => u,
        (None, None) => return Err(Error::bad_request("username is required").into()),
    };
    let role = Role::parse(&b.role)?;
    let done = service::set_member(&ctx.hub, &caller, org, &username, role).await?;
    Ok(Json(done).into_response())
}

/// `DELETE /org/{org}/members/{user}`
pub async fn remove_member(ctx: Ctx, org: &str, user: &str) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    Ok(Json(service::remove_member(&ctx.hub, &caller, org, user).await?).into_response())
}

/// `GET /org/users/{username}/orgs`
pub async fn user_orgs(ctx: Ctx, username: &str) -> ApiResult<Response> {
    Ok(Json(service::memberships_of(&ctx.hub, username).await?).into_response())
}

/// `GET /api/organizations/{org}/overview` (huggingface_hub's `get_organization_overview`).
pub async fn overview(ctx: Ctx, name: &str) -> ApiResult<Response> {
    let caller = auth::caller(&ctx.hub, &ctx.headers).await?;
    Ok(Json(service::overview(&ctx.hub, caller.as_ref(), name).await?).into_response())
}

/// `GET /api/organizations/{org}/members`: a (single-page) list of users.
pub async fn hf_members(ctx: Ctx, name: &str) -> ApiResult<Response> {
    let mut resp = Json(service::hf_members(&ctx.hub, name).await?).into_response();
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `GET /api/users/{username}/overview` (huggingface_hub's `get_user_overview`).
pub async fn user_overview(ctx: Ctx, name: &str) -> ApiResult<Response> {
    let caller = auth::caller(&ctx.hub, &ctx.headers).await?;
    Ok(Json(service::user_overview(&ctx.hub, caller.as_ref(), name).await?).into_response())
}
