//! Small endpoints: health, version, root, whoami, README metadata validation.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kohaku::Hub;
use serde::Deserialize;
use serde_json::json;

use crate::auth;
use crate::error::ApiResult;
use crate::request::{read_json, ReqHub};

pub async fn health(State(hub): State<Hub>) -> ApiResult<Response> {
    hub.db
        .call(|c| Ok(c.query_row("SELECT 1", kohaku::params![], |r| r.get::<_, i64>(0))?))
        .await?;
    Ok(axum::Json(json!({"status": "ok"})).into_response())
}

pub async fn version() -> Response {
    axum::Json(json!({
        "api": "kohaku",
        "version": env!("CARGO_PKG_VERSION"),
        "compatible_with": "huggingface_hub",
    }))
    .into_response()
}

pub async fn root(ReqHub(hub): ReqHub) -> Response {
    axum::Json(json!({
        "name": "kohaku",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Self-hosted model and dataset hub compatible with huggingface_hub",
        "endpoint": hub.base_url(),
        "usage": format!("export HF_ENDPOINT={}", hub.base_url()),
    }))
    .into_response()
}

pub async fn whoami(ReqHub(hub): ReqHub, headers: HeaderMap) -> ApiResult<Response> {
    let caller = auth::required(&hub, &headers).await?;
    let u = &caller.user;
    let mut auth_info = json!({"type": "access_token"});
    if let Some(t) = &caller.token {
        auth_info["accessToken"] =
            json!({"displayName": t.name, "role": t.role.as_str(), "createdAt": t.created_at});
    }
    // The hub's front end (cookie-authenticated) needs its session's CSRF token for writes.
    if let Some(csrf) = auth::csrf_token_for(&hub, &headers, &caller)? {
        auth_info["csrfToken"] = json!(csrf);
    }
    Ok(axum::Json(json!({
        "type": "user",
        "id": format!("{:024x}", u.id),
        "name": u.username,
        "fullname": u.full_name.clone().unwrap_or_else(|| u.username.clone()),
        "email": u.email,
        "emailVerified": true,
        "isPro": false,
        "canPay": false,
        "isAdmin": u.is_admin,
        "avatarUrl": hub.url(&format!("/api/users/{}/avatar", u.username)),
        "orgs": kohaku::orgs::service::badges(&hub, u.id).await?,
        "auth": auth_info,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidateYaml {
    content: String,
    repo_type: Option<String>,
}

pub async fn validate_yaml(body: Body) -> ApiResult<Response> {
    let req: ValidateYaml = read_json(body, 10 << 20).await?;
    // The same rules for every kind of card; the type must still be one the hub knows.
    kohaku::names::RepoType::parse(req.repo_type.as_deref().unwrap_or("model"))?;
    let v = tokio::task::spawn_blocking(move || kohaku::card::validate(&req.content))
        .await
        .map_err(kohaku::Error::internal)?;
    let status = if v.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let msgs = |xs: &[String]| xs.iter().map(|m| json!({"message": m})).collect::<Vec<_>>();
    Ok((
        status,
        axum::Json(json!({"errors": msgs(&v.errors), "warnings": msgs(&v.warnings)})),
    )
        .into_response())
}
