//! Repo creation, deletion, move and settings.

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use kohaku::names::RepoType;
use kohaku::perms::Access;
use kohaku::repos::{self, CreateRepo, SettingsUpdate};
use kohaku::Error;
use serde::Deserialize;
use serde_json::{json, Value};

use super::shapes::load_repo;
use super::{Ctx, RepoRef};
use crate::auth;
use crate::error::ApiResult;
use crate::request::{read_json, ReqHub};

const SMALL_JSON: usize = 1 << 20;

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    organization: Option<String>,
    #[serde(rename = "type")]
    repo_type: Option<String>,
    private: Option<bool>,
    visibility: Option<String>,
    sdk: Option<String>,
}

fn parse_visibility(
    private: Option<bool>,
    visibility: Option<&str>,
) -> Result<Option<bool>, Error> {
    match visibility {
        Some("private") | Some("protected") => Ok(Some(true)),
        Some("public") => Ok(Some(false)),
        Some(other) => Err(Error::bad_request(format!("Invalid visibility '{other}'"))),
        None => Ok(private),
    }
}

pub async fn create(ReqHub(hub): ReqHub, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let caller = auth::required(&hub, &headers).await?;
    let b: CreateBody = read_json(body, SMALL_JSON).await?;
    let repo_type = RepoType::parse(b.repo_type.as_deref().unwrap_or("model"))?;
    // The client may send `name` as a full id when organization is null.
    let (namespace, name) = match (b.organization, b.name.split_once('/')) {
        (Some(org), _) => (org, b.name.clone()),
        (None, Some((ns, n))) => (ns.to_string(), n.to_string()),
        (None, None) => (caller.user.username.clone(), b.name.clone()),
    };
    let private = parse_visibility(b.private, b.visibility.as_deref())?.unwrap_or(false);
    let repo = repos::create_repo(
        &hub,
        Some(&caller),
        CreateRepo {
            repo_type,
            namespace,
            name,
            private,
            sdk: b.sdk,
        },
    )
    .await?;
    let url = hub.url(&repo.web_path());
    Ok(axum::Json(json!({"url": url, "name": repo.full_id(), "id": repo.full_id(), "repo_id": repo.full_id()})).into_response())
}

#[derive(Deserialize)]
struct DeleteBody {
    name: String,
    organization: Option<String>,
    #[serde(rename = "type")]
    repo_type: Option<String>,
}

pub async fn delete(ReqHub(hub): ReqHub, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let caller = auth::required(&hub, &headers).await?;
    let b: DeleteBody = read_json(body, SMALL_JSON).await?;
    let t = RepoType::parse(b.repo_type.as_deref().unwrap_or("model"))?;
    let (ns, name) = match (b.organization, b.name.split_once('/')) {
        (Some(org), _) => (org, b.name.clone()),
        (None, Some((ns, n))) => (ns.to_string(), n.to_string()),
        (None, None) => (caller.user.username.clone(), b.name.clone()),
    };
    repos::delete_repo(&hub, Some(&caller), t, &ns, &name).await?;
    Ok(axum::Json(json!({"success": true})).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoveBody {
    from_repo: String,
    to_repo: String,
    #[serde(rename = "type")]
    repo_type: Option<String>,
}

pub async fn move_repo(ReqHub(hub): ReqHub, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let caller = auth::required(&hub, &headers).await?;
    let b: MoveBody = read_json(body, SMALL_JSON).await?;
    let t = RepoType::parse(b.repo_type.as_deref().unwrap_or("model"))?;
    let repo = repos::move_repo(&hub, Some(&caller), t, &b.from_repo, &b.to_repo).await?;
    Ok(axum::Json(json!({"success": true, "url": hub.url(&repo.web_path())})).into_response())
}

pub async fn settings(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    let (repo, _) = load_repo(&ctx.hub, Some(&caller), &id, Access::Admin).await?;
    let b: Value = read_json(ctx.body, SMALL_JSON).await?;
    let Value::Object(map) = b else {
        return Err(Error::bad_request("Settings body must be a JSON object").into());
    };
    let mut upd = SettingsUpdate::default();
    let private = map
        .get("private")
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| Error::bad_request("private must be a boolean"))
        })
        .transpose()?;
    let visibility = map
        .get("visibility")
        .map(|v| {
            v.as_str()
                .ok_or_else(|| Error::bad_request("visibility must be a string"))
        })
        .transpose()?;
    upd.private = parse_visibility(private, visibility)?;
    if let Some(g) = map.get("gated") {
        upd.gated = Some(match g {
            Value::Bool(false) | Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => {
                return Err(
                    Error::bad_request("gated must be \"auto\", \"manual\" or false").into(),
                )
            }
        });
    }
    let mut lfs = kohaku::lfs::settings::Update::default();
    let num = |k: &str| -> Result<Option<Option<u64>>, Error> {
        match map.get(k) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(v) => v.as_u64().map(|n| Some(Some(n))).ok_or_else(|| {
                Error::bad_request(format!("{k} must be a non-negative integer or null"))
            }),
        }
    };
    lfs.threshold_bytes = num("lfs_threshold_bytes")?;
    lfs.keep_versions = num("lfs_keep_versions")?;
    if let Some(v) = map.get("lfs_suffix_rules") {
        lfs.suffix_rules = Some(match v {
            Value::Null => None,
            Value::Array(a) => Some(
                a.iter()
                    .map(|x| {
                        x.as_str().map(str::to_string).ok_or_else(|| {
                            Error::bad_request("lfs_suffix_rules must be a list of strings")
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            _ => {
                return Err(Error::bad_request("lfs_suffix_rules must be a list of strings").into())
            }
        });
    }
    let known = [
        "private",
        "visibility",
        "gated",
        "lfs_threshold_bytes",
        "lfs_keep_versions",
        "lfs_suffix_rules",
        "discussionsDisabled",
    ];
    if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Error::bad_request(format!("Unknown setting '{k}'")).into());
    }
    // Validate everything before changing anything.
    if lfs
        .threshold_bytes
        .flatten()
        .is_some_and(|t| t < kohaku::lfs::settings::MIN_THRESHOLD)
    {
        return Err(Error::bad_request(format!(
            "lfs_threshold_bytes must be at least {}",
            kohaku::lfs::settings::MIN_THRESHOLD
        ))
        .into());
    }
    repos::update_settings(&ctx.hub, Some(&caller), &repo, upd).await?;
    let rid = repo.id;
    ctx.hub
        .db
        .call(move |c| kohaku::lfs::settings::update(c, rid, &lfs))
        .await?;
    Ok(axum::Json(json!({"success": true})).into_response())
}

/// `GET /api/{type}s/{id}/lfs/settings`: effective values and where they come from.
pub async fn lfs_settings(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let caller = auth::caller(&ctx.hub, &ctx.headers).await?;
    let (repo, _) = load_repo(&ctx.hub, caller.as_ref(), &id, Access::Read).await?;
    let rid = repo.id;
    let own = ctx
        .hub
        .db
        .call(move |c| kohaku::lfs::settings::load(c, rid))
        .await?;
    let eff = kohaku::lfs::settings::effective(&ctx.hub.config, &own);
    Ok(axum::Json(json!({
        "lfs_threshold_bytes": own.threshold_bytes,
        "lfs_threshold_bytes_effective": eff.threshold_bytes,
        "lfs_threshold_bytes_source": eff.threshold_source,
        "lfs_keep_versions": own.keep_versions,
        "lfs_keep_versions_effective": eff.keep_versions,
        "lfs_keep_versions_source": eff.keep_versions_source,
        "lfs_suffix_rules": own.suffix_rules,
        "lfs_suffix_rules_effective": eff.suffix_rules,
        "server_defaults": {
            "lfs_threshold_bytes": ctx.hub.config.lfs_threshold_bytes,
            "lfs_keep_versions": ctx.hub.config.lfs_keep_versions,
            "lfs_suffix_rules": ctx.hub.config.lfs_suffix_rules,
        },
    }))
    .into_response())
}

#[derive(Deserialize)]
struct DuplicateBody {
    repository: String,
    private: Option<bool>,
    visibility: Option<String>,
}

/// `POST /api/{type}s/{id}/duplicate` `{"repository": "ns/name", "visibility"?}`: a copy of a
/// repo the caller can read, in a namespace it may create in (`duplicate_repo`).
pub async fn duplicate(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let caller = auth::required(&hub, &ctx.headers).await?;
    let (source, _) = load_repo(&hub, Some(&caller), &id, Access::Read).await?;
    let b: DuplicateBody = read_json(ctx.body, SMALL_JSON).await?;
    let private = parse_visibility(b.private, b.visibility.as_deref())?;
    let repo = repos::duplicate_repo(&hub, &caller, &source, &b.repository, private).await?;
    Ok(axum::Json(json!({
        "url": hub.url(&repo.web_path()),
        "id": repo.full_id(),
        "filesCopyPending": false,
    }))
    .into_response())
}
