//! `/api/quota/...`: quotas and usage of namespaces and repositories.

use axum::response::{IntoResponse, Response};
use kohaku::accounts::Caller;
use kohaku::names::RepoType;
use kohaku::orgs::Role;
use kohaku::perms::Access;
use kohaku::quota::{self, NamespaceQuota};
use kohaku::repos::{self, ListQuery, SortKey};
use kohaku::{Error, Hub};
use serde_json::{json, Value};

use super::shapes::load_repo;
use super::Ctx;
use crate::auth;
use crate::error::ApiResult;
use crate::request::read_json;

fn summary(q: &NamespaceQuota) -> Value {
    let quota = match (q.private_quota_bytes, q.public_quota_bytes) {
        (Some(a), Some(b)) => Some(a + b),
        _ => None,
    };
    let used = q.private_used_bytes + q.public_used_bytes;
    json!({
        "namespace": q.namespace,
        "is_organization": q.is_organization,
        "private_quota_bytes": q.private_quota_bytes,
        "public_quota_bytes": q.public_quota_bytes,
        "private_used_bytes": q.private_used_bytes,
        "public_used_bytes": q.public_used_bytes,
        "private_available_bytes": q.private_quota_bytes.map(|x| x.saturating_sub(q.private_used_bytes)),
        "public_available_bytes": q.public_quota_bytes.map(|x| x.saturating_sub(q.public_used_bytes)),
        "quota_bytes": quota,
        "used_bytes": used,
        "available_bytes": quota.map(|x| x.saturating_sub(used)),
        "percentage_used": quota.filter(|x| *x > 0).map(|x| (used as f64 / x as f64 * 1000.0).round() / 10.0),
    })
}

async fn may_view(hub: &Hub, caller: &Caller, ns: &str, min: Role) -> Result<(), Error> {
    let (n, c) = (ns.to_string(), caller.clone());
    hub.db
        .call(move |conn| kohaku::perms::require_quota_access(conn, &c, &n, min))
        .await
}

fn admin_only(caller: &Caller) -> Result<(), Error> {
    kohaku::perms::require_hub_admin(caller, "set quotas")
}

fn size_field(v: &Value, key: &str) -> Result<Option<Option<u64>>, Error> {
    match v.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|x| Some(Some(x)))
            .ok_or_else(|| Error::bad_request(format!("{key} must be a non-negative integer"))),
        Some(Value::String(s)) => Ok(Some(quota::parse_size(s)?)),
        _ => Err(Error::bad_request(format!("{key} must be a size or null"))),
    }
}

pub async fn route(ctx: Ctx, rest: &[&str]) -> ApiResult<Response> {
    use axum::http::Method;
    let hub = ctx.hub.clone();
    let caller = auth::caller(&hub, &ctx.headers).await?;
    let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
    let r: Vec<&str> = rest.iter().map(String::as_str).collect();
    let need = || {
        caller
            .clone()
            .ok_or_else(|| Error::Unauthorized("Authentication required".into()))
    };
    let m = ctx.method.clone();
    let v = match (r.as_slice(), m) {
        (["repo", t, ns, name], Method::GET) => {
            let id = (RepoType::parse(t)?, ns.to_string(), name.to_string());
            let (repo, _) = load_repo(&hub, caller.as_ref(), &id, Access::Read).await?;
            let (rid, rns) = (repo.id, repo.namespace.clone());
            let ((q, used), nq) = hub
                .db
                .call(move |c| Ok((quota::repo_quota(c, rid)?, quota::namespace_quota(c, &rns)?)))
                .await?;
            let ns_quota = if repo.private {
                nq.private_quota_bytes
            } else {
                nq.public_quota_bytes
            };
            let ns_used = if repo.private {
                nq.private_used_bytes
            } else {
                nq.public_used_bytes
            };
            let effective = q.or(ns_quota);
            json!({
                "repo_id": repo.full_id(), "repo_type": repo.repo_type.as_str(), "namespace": repo.namespace,
                "quota_bytes": q, "used_bytes": used,
                "available_bytes": q.map(|x| x.saturating_sub(used)),
                "percentage_used": q.filter(|x| *x > 0).map(|x| (used as f64 / x as f64 * 1000.0).round() / 10.0),
                "effective_quota_bytes": effective,
                "namespace_quota_bytes": ns_quota, "namespace_used_bytes": ns_used,
                "namespace_available_bytes": ns_quota.map(|x| x.saturating_sub(ns_used)),
                "is_inheriting": q.is_none(),
            })
        }
        (["repo", t, ns, name], Method::PUT) => {
            let c = need()?;
            admin_only(&c)?;
            let id = (RepoType::parse(t)?, ns.to_string(), name.to_string());
            let (repo, _) = load_repo(&hub, Some(&c), &id, Access::Admin).await?;
            let body: Value = read_json(ctx.body, 1 << 16).await?;
            let q = size_field(&body, "quota_bytes")?
                .ok_or_else(|| Error::bad_request("quota_bytes is required (null for none)"))?;
            let rid = repo.id;
            hub.db
                .call(move |c| quota::set_repo_quota(c, rid, q))
                .await?;
            json!({"success": true, "quota_bytes": q})
        }
        (["repo", t, ns, name, "recalculate"], Method::POST) => {
            let c = need()?;
            let id = (RepoType::parse(t)?, ns.to_string(), name.to_string());
            let (repo, _) = load_repo(&hub, Some(&c), &id, Access::Admin).await?;
            let used = quota::recalc_repo(&hub, repo.id).await?;
            json!({"success": true, "used_bytes": used})
        }
        ([ns], Method::GET) => {
            let c = need()?;
            may_view(&hub, &c, ns, Role::Visitor).await?;
            let n = ns.to_string();
            summary(&hub.db.call(move |c| quota::namespace_quota(c, &n)).await?)
        }
        ([ns], Method::PUT) => {
            let c = need()?;
            admin_only(&c)?;
            let body: Value = read_json(ctx.body, 1 << 16).await?;
            let private = size_field(&body, "private_quota_bytes")?;
            let public = size_field(&body, "public_quota_bytes")?;
            // The seed's single `quota_bytes` sets both.
            let both = size_field(&body, "quota_bytes")?;
            let (private, public) = (private.or(both), public.or(both));
            let n = ns.to_string();
            summary(
                &hub.db
                    .call(move |c| quota::set_namespace_quota(c, &n, private, public))
                    .await?,
            )
        }
        ([ns, "recalculate"], Method::POST) => {
            let c = need()?;
            may_view(&hub, &c, ns, Role::Admin).await?;
            let n = ns.to_string();
            let ids = hub
                .db
                .call(move |c| quota::namespace_repo_ids(c, &n))
                .await?;
            for id in ids {
                quota::recalc_repo(&hub, id).await?;
            }
            let n = ns.to_string();
            summary(&hub.db.call(move |c| quota::namespace_quota(c, &n)).await?)
        }
        ([ns, "public"], Method::GET) => {
            let n = ns.to_string();
            let q = hub.db.call(move |c| quota::namespace_quota(c, &n)).await?;
            json!({"namespace": q.namespace, "is_organization": q.is_organization, "public_quota_bytes": q.public_quota_bytes, "public_used_bytes": q.public_used_bytes})
        }
        ([ns, "repos"], Method::GET) => {
            let c = need()?;
            may_view(&hub, &c, ns, Role::Visitor).await?;
            let n = ns.to_string();
            let cc = c.clone();
            let (is_org, list) = hub
                .db
                .call(move |conn| {
                    let q = quota::namespace_quota(conn, &n)?;
                    let lq = ListQuery {
                        repo_type: None,
                        author: Some(n.clone()),
                        search: vec![],
                        sort: SortKey::Id,
                        descending: false,
                        offset: 0,
                        limit: i64::MAX as u64,
                    };
                    let mut out = Vec::new();
                    for r in repos::list_repos(conn, Some(&cc), &lq)? {
                        let (qb, used) = quota::repo_quota(conn, r.id)?;
                        out.push((r, qb, used));
                    }
                    Ok((q.is_organization, out))
                })
                .await?;
            let repos_json: Vec<Value> = list
                .iter()
                .map(|(r, q, used)| {
                    json!({
                        "repo_id": r.full_id(), "repo_type": r.repo_type.as_str(), "name": r.name, "private": r.private,
                        "quota_bytes": q, "used_bytes": used,
                        "percentage_used": q.filter(|x| *x > 0).map(|x| (*used as f64 / x as f64 * 1000.0).round() / 10.0),
                        "is_inheriting": q.is_none(), "created_at": r.created_at,
                    })
                })
                .collect();
            json!({"namespace": ns, "is_organization": is_org, "total_repos": repos_json.len(), "repositories": repos_json})
        }
        _ => return Err(Error::no_route().into()),
    };
    Ok(axum::Json(v).into_response())
}
