//! Organizations: KohakuHub's `/org/...` paths and huggingface.co's `/api/organizations/...`.

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use kohaku::accounts::{user_by_name, User};
use kohaku::orgs::{self, Role};
use kohaku::{Error, Hub};
use serde::Deserialize;
use serde_json::{json, Value};

use super::Ctx;
use crate::auth;
use crate::error::ApiResult;
use crate::request::read_json;

pub fn avatar_url(hub: &Hub, u: &User) -> String {
    if u.is_org {
        hub.url(&format!("/api/organizations/{}/avatar", u.username))
    } else {
        hub.url(&format!("/api/users/{}/avatar", u.username))
    }
}

/// The orgs of a user as whoami and overviews show them.
pub async fn orgs_json(hub: &Hub, user_id: i64) -> kohaku::Result<Vec<Value>> {
    let rows = hub.db.call(move |c| orgs::user_orgs(c, user_id)).await?;
    Ok(rows
        .iter()
        .map(|(o, role)| {
            json!({
                "type": "org",
                "name": o.username,
                "fullname": o.full_name.clone().unwrap_or_else(|| o.username.clone()),
                "avatarUrl": avatar_url(hub, o),
                "roleInOrg": role.as_str(),
            })
        })
        .collect())
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    #[serde(alias = "fullname", alias = "full_name")]
    display_name: Option<String>,
    description: Option<String>,
}

/// `POST /org/create`
pub async fn create(ctx: Ctx) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    if !caller.can_write() {
        return Err(Error::Forbidden("This token is read-only".into()).into());
    }
    let b: CreateBody = read_json(ctx.body, 1 << 20).await?;
    let user = caller.user.clone();
    let org = ctx
        .hub
        .db
        .call(move |c| {
            orgs::create_org(
                c,
                &user,
                &b.name,
                b.display_name.as_deref(),
                b.description.as_deref(),
            )
        })
        .await?;
    Ok(axum::Json(json!({"success": true, "name": org.username, "id": org.id})).into_response())
}

/// `GET /org/{org}`
pub async fn get(ctx: Ctx, name: &str) -> ApiResult<Response> {
    let n = name.to_string();
    let (org, count) = ctx
        .hub
        .db
        .call(move |c| orgs::org_with_member_count(c, &n))
        .await?;
    Ok(axum::Json(json!({
        "id": org.id,
        "name": org.username,
        "fullname": org.full_name,
        "description": bio_of(&ctx.hub, org.id).await?,
        "created_at": org.created_at,
        "member_count": count,
    }))
    .into_response())
}

async fn bio_of(hub: &Hub, id: i64) -> kohaku::Result<Option<String>> {
    hub.db
        .call(move |c| Ok(c.query_row("SELECT bio FROM users WHERE id = ?1", [id], |r| r.get(0))?))
        .await
}

/// `GET /org/{org}/members`
pub async fn members(ctx: Ctx, name: &str) -> ApiResult<Response> {
    let n = name.to_string();
    let rows = ctx
        .hub
        .db
        .call(move |c| orgs::list_members(c, orgs::require_org(c, &n)?.id))
        .await?;
    let members: Vec<Value> = rows
        .iter()
        .map(|(u, r)| json!({"user": u.username, "username": u.username, "role": r.as_str()}))
        .collect();
    Ok(axum::Json(json!({"members": members})).into_response())
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
    let org = org.to_string();
    ctx.hub
        .db
        .call(move |c| orgs::set_member(c, &caller, &org, &username, role))
        .await?;
    Ok(axum::Json(json!({"success": true})).into_response())
}

/// `DELETE /org/{org}/members/{user}`
pub async fn remove_member(ctx: Ctx, org: &str, user: &str) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let (org, user) = (org.to_string(), user.to_string());
    ctx.hub
        .db
        .call(move |c| orgs::remove_member(c, &caller, &org, &user))
        .await?;
    Ok(axum::Json(json!({"success": true})).into_response())
}

/// `GET /org/users/{username}/orgs`
pub async fn user_orgs(ctx: Ctx, username: &str) -> ApiResult<Response> {
    let n = username.to_string();
    let rows = ctx
        .hub
        .db
        .call(move |c| {
            let u = user_by_name(c, &n)?
                .filter(|u| !u.is_org)
                .ok_or_else(|| Error::EntryNotFound(format!("User '{n}' not found")))?;
            orgs::user_orgs(c, u.id)
        })
        .await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|(o, r)| json!({"name": o.username, "fullname": o.full_name, "role": r.as_str()}))
        .collect();
    Ok(axum::Json(json!({"organizations": list})).into_response())
}

async fn counts(
    hub: &Hub,
    ns: &str,
    caller: Option<&kohaku::accounts::Caller>,
) -> kohaku::Result<(i64, i64, i64)> {
    let (ns, cond) = (ns.to_string(), kohaku::perms::readable_repos_sql(caller));
    hub.db
        .call(move |c| {
            let q = |t: &str| -> kohaku::Result<i64> {
                Ok(c.query_row(&format!("SELECT COUNT(*) FROM repos r WHERE r.namespace = ?1 AND r.repo_type = ?2 AND {cond}"), [ns.as_str(), t], |r| r.get(0))?)
            };
            Ok((q("model")?, q("dataset")?, q("space")?))
        })
        .await
}

/// `GET /api/organizations/{org}/overview` (huggingface_hub's `get_organization_overview`).
pub async fn overview(ctx: Ctx, name: &str) -> ApiResult<Response> {
    let caller = auth::caller(&ctx.hub, &ctx.headers).await?;
    let n = name.to_string();
    let (org, members) = ctx
        .hub
        .db
        .call(move |c| orgs::org_with_member_count(c, &n))
        .await?;
    let (m, d, s) = counts(&ctx.hub, &org.username, caller.as_ref()).await?;
    Ok(axum::Json(json!({
        "name": org.username,
        "fullname": org.full_name.clone().unwrap_or_else(|| org.username.clone()),
        "avatarUrl": avatar_url(&ctx.hub, &org),
        "details": bio_of(&ctx.hub, org.id).await?,
        "isVerified": false,
        "numUsers": members,
        "numModels": m,
        "numDatasets": d,
        "numSpaces": s,
    }))
    .into_response())
}

/// `GET /api/organizations/{org}/members`: a (single-page) list of users.
pub async fn hf_members(ctx: Ctx, name: &str) -> ApiResult<Response> {
    let n = name.to_string();
    let rows = ctx
        .hub
        .db
        .call(move |c| orgs::list_members(c, orgs::require_org(c, &n)?.id))
        .await?;
    let hub = &ctx.hub;
    let list: Vec<Value> = rows
        .iter()
        .map(|(u, r)| {
            json!({
                "user": u.username,
                "fullname": u.full_name.clone().unwrap_or_else(|| u.username.clone()),
                "avatarUrl": avatar_url(hub, u),
                "type": "user",
                "role": r.as_str(),
            })
        })
        .collect();
    let mut resp = axum::Json(Value::Array(list)).into_response();
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `GET /api/users/{username}/overview` (huggingface_hub's `get_user_overview`).
pub async fn user_overview(ctx: Ctx, name: &str) -> ApiResult<Response> {
    let caller = auth::caller(&ctx.hub, &ctx.headers).await?;
    let n = name.to_string();
    let user = ctx
        .hub
        .db
        .call(move |c| {
            user_by_name(c, &n)?
                .filter(|u| !u.is_org)
                .ok_or_else(|| Error::EntryNotFound(format!("User '{n}' not found")))
        })
        .await?;
    let (m, d, s) = counts(&ctx.hub, &user.username, caller.as_ref()).await?;
    Ok(axum::Json(json!({
        "user": user.username,
        "fullname": user.full_name.clone().unwrap_or_else(|| user.username.clone()),
        "avatarUrl": avatar_url(&ctx.hub, &user),
        "details": bio_of(&ctx.hub, user.id).await?,
        "type": "user",
        "isPro": false,
        "createdAt": user.created_at,
        "numModels": m,
        "numDatasets": d,
        "numSpaces": s,
        "orgs": orgs_json(&ctx.hub, user.id).await?,
    }))
    .into_response())
}
