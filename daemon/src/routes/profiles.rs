//! SSH keys, profile settings, avatars, and name checks.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kohaku::accounts::{user_by_name, Caller, User};
use kohaku::names::RepoType;
use kohaku::orgs::{self, Role};
use kohaku::profiles::{self, ProfileUpdate, MAX_AVATAR_BYTES};
use kohaku::{ssh_keys, Error, Hub};
use serde::Deserialize;
use serde_json::json;

use super::Ctx;
use crate::auth;
use crate::error::{header_safe, ApiResult};
use crate::request::{read_body_draining, read_json};

const SMALL: usize = 1 << 20;

fn writer(caller: &Caller) -> Result<(), Error> {
    if caller.can_write() {
        Ok(())
    } else {
        Err(Error::Forbidden("This token is read-only".into()))
    }
}

/// `GET /api/user/keys`
pub async fn list_keys(ctx: Ctx) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let id = caller.user.id;
    let keys = ctx.hub.db.call(move |c| ssh_keys::list(c, id)).await?;
    Ok(axum::Json(json!(keys)).into_response())
}

#[derive(Deserialize)]
struct KeyBody {
    title: Option<String>,
    key: String,
}

/// `POST /api/user/keys`
pub async fn add_key(ctx: Ctx) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    writer(&caller)?;
    let b: KeyBody = read_json(ctx.body, SMALL).await?;
    let id = caller.user.id;
    let key = ctx
        .hub
        .db
        .call(move |c| ssh_keys::add(c, id, b.title.as_deref(), &b.key))
        .await?;
    Ok(axum::Json(json!(key)).into_response())
}

fn key_id(s: &str) -> Result<i64, Error> {
    s.parse().map_err(|_| Error::bad_request("Invalid key id"))
}

/// `GET /api/user/keys/{id}`
pub async fn get_key(ctx: Ctx, id: &str) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let (uid, kid) = (caller.user.id, key_id(id)?);
    let key = ctx.hub.db.call(move |c| ssh_keys::get(c, uid, kid)).await?;
    Ok(axum::Json(json!(key)).into_response())
}

/// `DELETE /api/user/keys/{id}`
pub async fn delete_key(ctx: Ctx, id: &str) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    writer(&caller)?;
    let (uid, kid) = (caller.user.id, key_id(id)?);
    ctx.hub
        .db
        .call(move |c| ssh_keys::delete(c, uid, kid))
        .await?;
    Ok(axum::Json(json!({"success": true})).into_response())
}

/// The account named in the path, if the caller may edit it: themselves or a hub admin for
/// users; org admins or hub admins for organizations.
async fn editable(hub: &Hub, caller: &Caller, name: &str, org: bool) -> Result<User, Error> {
    writer(caller)?;
    let (n, c2) = (name.to_string(), caller.clone());
    hub.db
        .call(move |c| {
            let u = user_by_name(c, &n)?
                .filter(|u| u.is_org == org)
                .ok_or_else(|| {
                    Error::EntryNotFound(format!(
                        "{} '{n}' not found",
                        if org { "Organization" } else { "User" }
                    ))
                })?;
            let ok = c2.user.is_admin
                || if org {
                    orgs::role_in(c, &n, c2.user.id)?.is_some_and(|r| r >= Role::Admin)
                } else {
                    c2.user.id == u.id
                };
            if !ok {
                return Err(Error::Forbidden("You cannot change this account".into()));
            }
            Ok(u)
        })
        .await
}

#[derive(Deserialize)]
struct SettingsBody {
    email: Option<String>,
    #[serde(alias = "fullname", alias = "fullName")]
    full_name: Option<String>,
    #[serde(alias = "description")]
    bio: Option<String>,
    website: Option<String>,
}

/// `PUT /api/users/{u}/settings` and `PUT /api/organizations/{org}/settings`
pub async fn settings(ctx: Ctx, name: &str, org: bool) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let user = editable(&ctx.hub, &caller, name, org).await?;
    let b: SettingsBody = read_json(ctx.body, SMALL).await?;
    if org && b.email.is_some() {
        return Err(Error::bad_request("Organizations have no email address").into());
    }
    let upd = ProfileUpdate {
        email: b.email,
        full_name: b.full_name,
        bio: b.bio,
        website: b.website,
    };
    let id = user.id;
    ctx.hub
        .db
        .call(move |c| profiles::update_profile(c, id, &upd))
        .await?;
    Ok(axum::Json(json!({"success": true})).into_response())
}

/// The uploaded image: the `file` field of a multipart form, or the raw body.
async fn upload_bytes(ctx: Ctx) -> Result<Vec<u8>, Error> {
    let ct = ctx
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let raw = read_body_draining(ctx.body, MAX_AVATAR_BYTES + 64 * 1024, 64 << 20).await?;
    let Ok(boundary) = multer::parse_boundary(&ct) else {
        if raw.len() > MAX_AVATAR_BYTES {
            return Err(Error::PayloadTooLarge(
                "Avatars are limited to 10 MB".into(),
            ));
        }
        return Ok(raw.to_vec());
    };
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(raw) });
    let mut mp = multer::Multipart::new(stream, boundary);
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| Error::bad_request(format!("Malformed form data: {e}")))?
    {
        if field.name() == Some("file") || field.file_name().is_some() {
            let data = field
                .bytes()
                .await
                .map_err(|e| Error::bad_request(format!("Malformed form data: {e}")))?;
            if data.len() > MAX_AVATAR_BYTES {
                return Err(Error::PayloadTooLarge(
                    "Avatars are limited to 10 MB".into(),
                ));
            }
            return Ok(data.to_vec());
        }
    }
    Err(Error::bad_request("No 'file' field in the form"))
}

/// `POST /api/users/{u}/avatar` and `/api/organizations/{org}/avatar`
pub async fn upload_avatar(ctx: Ctx, name: &str, org: bool) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let hub = ctx.hub.clone();
    let user = editable(&hub, &caller, name, org).await?;
    let data = upload_bytes(ctx).await?;
    let jpeg = tokio::task::spawn_blocking(move || profiles::process_avatar(&data))
        .await
        .map_err(Error::internal)??;
    let size = jpeg.len();
    let key = profiles::avatar_key(&user);
    hub.storage.delete(&key).await?;
    hub.storage.put_bytes_if_absent(&key, &jpeg).await?;
    let id = user.id;
    hub.db
        .call(move |c| profiles::set_avatar_time(c, id, Some(&profiles::now())))
        .await?;
    Ok(axum::Json(
        json!({"success": true, "message": "Avatar uploaded successfully", "size_bytes": size}),
    )
    .into_response())
}

/// `GET /api/users/{u}/avatar` and `/api/organizations/{org}/avatar`
pub async fn get_avatar(ctx: Ctx, name: &str, org: bool) -> ApiResult<Response> {
    let n = name.to_string();
    let (user, when) = ctx
        .hub
        .db
        .call(move |c| {
            let u = user_by_name(c, &n)?
                .filter(|u| u.is_org == org)
                .ok_or_else(|| Error::EntryNotFound(format!("'{n}' not found")))?;
            let t = profiles::avatar_time(c, u.id)?;
            Ok((u, t))
        })
        .await?;
    let Some(when) = when else {
        return Err(Error::EntryNotFound("No avatar".into()).into());
    };
    let data = ctx
        .hub
        .storage
        .read_all(&profiles::avatar_key(&user))
        .await?
        .ok_or_else(|| Error::EntryNotFound("No avatar".into()))?;
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("image/jpeg"));
    h.insert(
        "cache-control",
        HeaderValue::from_static("public, max-age=86400"),
    );
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&when) {
        h.insert(
            "last-modified",
            header_safe(
                &t.with_timezone(&chrono::Utc)
                    .format("%a, %d %b %Y %H:%M:%S GMT")
                    .to_string(),
            ),
        );
    }
    Ok((StatusCode::OK, h, Body::from(data)).into_response())
}

/// `DELETE /api/users/{u}/avatar` and `/api/organizations/{org}/avatar`
pub async fn delete_avatar(ctx: Ctx, name: &str, org: bool) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let user = editable(&ctx.hub, &caller, name, org).await?;
    ctx.hub.storage.delete(&profiles::avatar_key(&user)).await?;
    let id = user.id;
    ctx.hub
        .db
        .call(move |c| profiles::set_avatar_time(c, id, None))
        .await?;
    Ok(axum::Json(json!({"success": true})).into_response())
}

#[derive(Deserialize)]
struct CheckBody {
    name: String,
    namespace: Option<String>,
    #[serde(rename = "type")]
    repo_type: Option<String>,
}

/// `POST /api/validate/check-name`
pub async fn check_name(ctx: Ctx) -> ApiResult<Response> {
    let b: CheckBody = read_json(ctx.body, SMALL).await?;
    let t = RepoType::parse(b.repo_type.as_deref().unwrap_or("model"))?;
    let r = ctx
        .hub
        .db
        .call(move |c| profiles::check_name(c, &b.name, b.namespace.as_deref(), t))
        .await?;
    Ok(axum::Json(json!(r)).into_response())
}
