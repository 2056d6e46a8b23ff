//! Accounts over HTTP: register, email verification, login sessions, tokens, invitations.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use kohaku::accounts::sessions::{self, COOKIE};
use kohaku::accounts::token_service;
use kohaku::accounts::{self, LoginError};
use kohaku::invitations::{self, NewInvitation};
use kohaku::orgs::Role;
use kohaku::{Error, Hub};
use serde::Deserialize;
use serde_json::{json, Value};

use super::Ctx;
use crate::auth;
use crate::error::{header_safe, ApiResult};
use crate::request::read_json;

const SMALL: usize = 1 << 20;

#[derive(Deserialize)]
struct RegisterBody {
    username: String,
    email: String,
    password: String,
    #[serde(alias = "invitation")]
    invitation_token: Option<String>,
}

async fn send_or_log(hub: &Hub, to: &str, subject: &str, body: String) {
    if let Some(smtp) = &hub.config.smtp {
        if let Err(e) = kohaku::mail::send(smtp, to, subject, &body).await {
            tracing::error!(error = %e, "could not send mail");
        }
    }
}

/// `POST /api/auth/register`
/// Login and registration take JSON only: a cross-site page can post a form (text/plain,
/// urlencoded) without asking, but not JSON, so nobody can log a visitor into another account.
fn require_json(headers: &axum::http::HeaderMap) -> Result<(), Error> {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if json {
        Ok(())
    } else {
        Err(Error::bad_request(
            "Send a JSON body (Content-Type: application/json)",
        ))
    }
}

pub async fn register(ctx: Ctx) -> ApiResult<Response> {
    require_json(&ctx.headers)?;
    let b: RegisterBody = read_json(ctx.body, SMALL).await?;
    let hub = ctx.hub.clone();
    let verify = hub.config.require_email_verification;
    let policy = hub.config.registration;
    let (user, token) = hub
        .db
        .call(move |c| {
            let u = accounts::register(
                c,
                policy,
                &b.username,
                &b.email,
                &b.password,
                b.invitation_token.as_deref(),
                !verify,
            )?;
            let t = if verify {
                Some(sessions::create_email_verification(c, u.id)?)
            } else {
                None
            };
            Ok((u, t))
        })
        .await?;
    if let (Some(token), Some(email)) = (token, &user.email) {
        // Mail links never follow a request's Host (which a client chooses).
        let link = hub.configured_url(&format!("/api/auth/verify-email?token={token}"));
        let body = format!(
            "Hello {},\n\nconfirm your email address for the hub at {} by opening this link:\n\n{link}\n\nThe link is valid for 48 hours.\n",
            user.username, hub.config.base_url
        );
        send_or_log(&hub, email, "Verify your email address", body).await;
    }
    Ok(axum::Json(json!({
        "success": true,
        "username": user.username,
        "email_verification_required": verify,
        "message": if verify { "Account created: check your email to verify it" } else { "Account created" },
    }))
    .into_response())
}

/// `GET /api/auth/verify-email?token=...`
pub async fn verify_email(ctx: Ctx) -> ApiResult<Response> {
    let token = ctx.query.get("token").unwrap_or("").to_string();
    if token.is_empty() || token.len() > 128 {
        return Err(Error::bad_request("Missing or malformed token").into());
    }
    let user = ctx
        .hub
        .db
        .call(move |c| match sessions::verify_email(c, &token)? {
            Some(id) => accounts::user_by_id(c, id),
            None => Ok(None),
        })
        .await?
        .ok_or_else(|| Error::bad_request("Invalid or expired verification link"))?;
    Ok(axum::Json(json!({"success": true, "username": user.username, "message": "Email verified: you can log in"})).into_response())
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

fn cookie(hub: &Hub, value: &str, max_age: i64) -> HeaderValue {
    let secure = if hub.config.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    header_safe(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
}

/// `POST /api/auth/login`: sets the session cookie.
pub async fn login(ctx: Ctx) -> ApiResult<Response> {
    require_json(&ctx.headers)?;
    let b: LoginBody = read_json(ctx.body, SMALL).await?;
    let hub = ctx.hub.clone();
    let hours = hub.config.session_expire_hours;
    let out = hub
        .db
        .call(
            move |c| match accounts::login(c, &b.username, &b.password)? {
                Ok(u) => {
                    let (sid, exp) = sessions::create_session(c, u.id, hours)?;
                    Ok(Ok((u, sid, exp)))
                }
                Err(e) => Ok(Err(e)),
            },
        )
        .await?;
    let (user, sid, expires) = match out {
        Ok(v) => v,
        Err(LoginError::BadCredentials) => {
            return Err(Error::Unauthorized("Invalid username or password".into()).into())
        }
        Err(LoginError::EmailNotVerified) => {
            return Err(
                Error::Forbidden("Verify your email address before logging in".into()).into(),
            )
        }
    };
    let csrf = sessions::csrf_token(&hub.signing_key, &sid)?;
    let mut h = HeaderMap::new();
    h.insert("set-cookie", cookie(&hub, &sid, hours as i64 * 3600));
    Ok((
        h,
        axum::Json(json!({
            "success": true,
            "username": user.username,
            "expires_at": expires,
            // For the front end's writes with the cookie (`X-CSRF-Token`).
            "csrf_token": csrf,
        })),
    )
        .into_response())
}

/// `POST /api/auth/logout`: ends the session and clears the cookie.
pub async fn logout(ctx: Ctx) -> ApiResult<Response> {
    auth::required(&ctx.hub, &ctx.headers).await?;
    if let Some(sid) = auth::session_cookie(&ctx.headers) {
        ctx.hub
            .db
            .call(move |c| sessions::delete_session(c, &sid))
            .await?;
    }
    let mut h = HeaderMap::new();
    h.insert("set-cookie", cookie(&ctx.hub, "", 0));
    Ok((h, axum::Json(json!({"success": true}))).into_response())
}

/// `GET /api/auth/me`
pub async fn me(ctx: Ctx) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let u = caller.user;
    Ok(axum::Json(json!({
        "id": u.id,
        "username": u.username,
        "email": u.email,
        "full_name": u.full_name,
        "is_admin": u.is_admin,
        "created_at": u.created_at,
        "orgs": kohaku::orgs::service::badges(&ctx.hub, u.id).await?,
    }))
    .into_response())
}

/// `GET /api/auth/tokens`
pub async fn list_tokens(ctx: Ctx) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let tokens = token_service::list(&ctx.hub, &caller, None).await?;
    Ok(axum::Json(json!({"tokens": tokens})).into_response())
}

#[derive(Deserialize)]
struct TokenBody {
    name: String,
    role: Option<String>,
}

/// `POST /api/auth/tokens/create`: the secret is in this response only.
pub async fn create_token(ctx: Ctx) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    if !caller.can_write() {
        return Err(Error::Forbidden("A read-only token cannot create tokens".into()).into());
    }
    let b: TokenBody = read_json(ctx.body, SMALL).await?;
    let role = token_service::parse_role(b.role.as_deref().unwrap_or("write"))?;
    let created = token_service::create(&ctx.hub, &caller, None, &b.name, role).await?;
    Ok(axum::Json(created).into_response())
}

/// `DELETE /api/auth/tokens/{id}`
pub async fn revoke_token(ctx: Ctx, token_id: &str) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    if !caller.can_write() {
        return Err(Error::Forbidden("A read-only token cannot revoke tokens".into()).into());
    }
    let tid: i64 = token_id
        .parse()
        .map_err(|_| Error::bad_request("Invalid token id"))?;
    Ok(axum::Json(token_service::revoke(&ctx.hub, &caller, None, tid).await?).into_response())
}

#[derive(Deserialize)]
struct InviteBody {
    email: Option<String>,
    role: Option<String>,
    max_usage: Option<i64>,
    expires_days: Option<i64>,
}

fn invitation_json(hub: &Hub, inv: &invitations::Invitation, token: Option<&str>) -> Value {
    let mut v = serde_json::to_value(inv).unwrap_or(Value::Null);
    v["is_reusable"] = json!(inv.max_usage.is_some());
    v["is_usable"] = json!(inv.is_usable());
    if let Some(t) = token {
        v["token"] = json!(t);
        v["invitation_link"] = json!(hub.url(&format!("/invite/{t}")));
    }
    v
}

/// `POST /api/invitations/org/{org}/create` (and `/api/invitations/create` for hub admins:
/// registration invitations).
pub async fn create_invitation(ctx: Ctx, org: Option<&str>) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let b: InviteBody = read_json(ctx.body, SMALL).await?;
    let new = NewInvitation {
        org: org.map(str::to_string),
        role: Role::parse(b.role.as_deref().unwrap_or("member"))?,
        email: b.email.clone(),
        max_usage: b.max_usage,
        expires_days: b.expires_days.unwrap_or(7),
    };
    let (token, inv) = ctx
        .hub
        .db
        .call(move |c| invitations::create(c, &caller, &new))
        .await?;
    if let Some(email) = &inv.email {
        let link = ctx.hub.configured_url(&format!("/api/invitations/{token}"));
        let what = inv
            .org
            .as_ref()
            .map(|o| format!("join the organization '{o}'"))
            .unwrap_or_else(|| "register".into());
        send_or_log(
            &ctx.hub,
            email,
            "You are invited",
            format!(
                "You are invited to {what} on {}.\n\nInvitation: {link}\nExpires: {}\n",
                ctx.hub.config.base_url, inv.expires_at
            ),
        )
        .await;
    }
    let mut v = invitation_json(&ctx.hub, &inv, Some(&token));
    v["success"] = json!(true);
    Ok(axum::Json(v).into_response())
}

/// `GET /api/invitations/{token}`
pub async fn get_invitation(ctx: Ctx, token: &str) -> ApiResult<Response> {
    let t = token.to_string();
    let inv = ctx.hub.db.call(move |c| invitations::get(c, &t)).await?;
    Ok(axum::Json(invitation_json(&ctx.hub, &inv, None)).into_response())
}

/// `POST /api/invitations/{token}/accept`
pub async fn accept_invitation(ctx: Ctx, token: &str) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    if !caller.can_write() {
        return Err(Error::Forbidden("This token is read-only".into()).into());
    }
    let t = token.to_string();
    let user = caller.user.clone();
    let inv = ctx
        .hub
        .db
        .call(move |c| invitations::accept(c, &t, &user))
        .await?;
    Ok(axum::Json(json!({"success": true, "org": inv.org, "role": inv.role})).into_response())
}

/// `DELETE /api/invitations/{token}`
pub async fn delete_invitation(ctx: Ctx, token: &str) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let t = token.to_string();
    ctx.hub
        .db
        .call(move |c| invitations::delete(c, &caller, &t))
        .await?;
    Ok(axum::Json(json!({"success": true})).into_response())
}

/// `GET /api/invitations/org/{org}/list`
pub async fn list_invitations(ctx: Ctx, org: &str) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let o = org.to_string();
    let list = ctx
        .hub
        .db
        .call(move |c| invitations::list_for_org(c, &caller, &o))
        .await?;
    let v: Vec<Value> = list
        .iter()
        .map(|i| invitation_json(&ctx.hub, i, None))
        .collect();
    Ok(axum::Json(json!({"invitations": v})).into_response())
}
