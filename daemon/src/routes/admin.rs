//! The hub administrator's HTTP API: the same actions as `kohaku user|org|token`.
//! Allowed to hub admins (token or session) and to holders of the configured `admin_token`
//! (header `X-Admin-Token`).

use axum::response::{IntoResponse, Response};
use kohaku::accounts::Caller;
use kohaku::accounts::{token_service, user_service, TokenRole};
use kohaku::orgs::{service, Role};
use kohaku::{Error, Hub};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::Ctx;
use crate::auth;
use crate::error::ApiResult;
use crate::request::read_json;

const SMALL: usize = 1 << 20;

async fn require_admin(hub: &Hub, headers: &axum::http::HeaderMap) -> Result<(), Error> {
    if let (Some(expected), Some(given)) = (
        &hub.config.admin_token,
        headers.get("x-admin-token").and_then(|v| v.to_str().ok()),
    ) {
        if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            return Ok(());
        }
        return Err(Error::Unauthorized("Invalid admin token".into()));
    }
    let caller = auth::required(hub, headers).await?;
    if caller.user.is_admin && caller.can_write() {
        Ok(())
    } else {
        Err(Error::Forbidden("Hub administrators only".into()))
    }
}

#[derive(Deserialize)]
struct Flag {
    admin: bool,
}

#[derive(Deserialize)]
struct Password {
    password: String,
}

#[derive(Deserialize)]
struct NewOrg {
    name: String,
    owner: String,
    description: Option<String>,
}

#[derive(Deserialize)]
struct Member {
    username: String,
    role: Option<String>,
}

#[derive(Deserialize)]
struct NewToken {
    name: Option<String>,
    #[serde(default)]
    read_only: bool,
}

/// `/api/admin/...`
pub async fn route(ctx: Ctx, rest: &[&str]) -> ApiResult<Response> {
    require_admin(&ctx.hub, &ctx.headers).await?;
    let hub = ctx.hub.clone();
    // Checked above: from here on the caller acts with the hub's full rights.
    let system = Caller::system();
    let m = ctx.method.clone();
    let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
    let r: Vec<&str> = rest.iter().map(String::as_str).collect();
    use axum::http::Method;
    let v = match (r.as_slice(), m) {
        (["users"], Method::GET) => json!(user_service::list(&hub, &system).await?),
        (["users"], Method::POST) => {
            let b: user_service::NewUser = read_json(ctx.body, SMALL).await?;
            json!(user_service::create(&hub, &system, b).await?)
        }
        (["users", name], Method::DELETE) => {
            json!(user_service::delete(&hub, &system, name).await?)
        }
        (["users", name, "admin"], Method::PUT) => {
            let b: Flag = read_json(ctx.body, SMALL).await?;
            json!(user_service::set_admin(&hub, &system, name, b.admin).await?)
        }
        (["users", name, "password"], Method::PUT) => {
            let b: Password = read_json(ctx.body, SMALL).await?;
            json!(user_service::set_password(&hub, &system, name, &b.password).await?)
        }
        (["users", name, "tokens"], Method::GET) => {
            json!(token_service::list(&hub, &system, Some(name)).await?)
        }
        (["users", name, "tokens"], Method::POST) => {
            let b: NewToken = read_json(ctx.body, SMALL).await?;
            let role = if b.read_only {
                TokenRole::Read
            } else {
                TokenRole::Write
            };
            let name_of_token = b.name.as_deref().unwrap_or("admin");
            let created =
                token_service::create(&hub, &system, Some(name), name_of_token, role).await?;
            json!(created)
        }
        (["users", name, "tokens", id], Method::DELETE) => {
            let id: i64 = id
                .parse()
                .map_err(|_| Error::bad_request("Invalid token id"))?;
            json!(token_service::revoke(&hub, &system, Some(name), id).await?)
        }
        (["orgs"], Method::GET) => json!(service::list(&hub).await?),
        (["orgs"], Method::POST) => {
            let b: NewOrg = read_json(ctx.body, SMALL).await?;
            let req = service::CreateOrg {
                name: b.name,
                display_name: None,
                description: b.description,
                owner: Some(b.owner),
            };
            json!(service::create(&hub, &system, req).await?)
        }
        (["orgs", org, "members"], Method::POST) => {
            let b: Member = read_json(ctx.body, SMALL).await?;
            let role = Role::parse(b.role.as_deref().unwrap_or("member"))?;
            json!(service::set_member(&hub, &system, org, &b.username, role).await?)
        }
        (["orgs", org, "members", user], Method::DELETE) => {
            json!(service::remove_member(&hub, &system, org, user).await?)
        }
        _ => return Err(Error::no_route().into()),
    };
    Ok(axum::Json(v).into_response())
}
