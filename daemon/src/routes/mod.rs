//! Routing on the raw path. The HF client percent-encodes revisions and tree paths
//! (`refs%2Fpr%2F1`), so repo-scoped routes are matched segment by segment here rather than
//! by a router that decodes first.

mod accounts;
mod admin;
mod commit;
mod files;
mod git_http;
mod lfs;
mod lfs_files;
mod misc;
mod orgs;
mod profiles;
mod quota;
mod refs;
mod repo_admin;
mod repo_info;
mod resolve;
pub mod shapes;
mod social;
mod xet;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kohaku::names::RepoType;
use kohaku::perms::Access;
use kohaku::{Error, Hub};

use crate::error::{ApiError, ApiResult};
use crate::request::{segments, Query, ReqHub};

/// What every handler gets.
pub struct Ctx {
    pub hub: Hub,
    pub method: Method,
    pub headers: HeaderMap,
    pub query: Query,
    pub body: Body,
    /// Raw path, for redirects and `Link` URLs.
    pub path: String,
    /// Raw query string, for redirects.
    pub raw_query: Option<String>,
    /// The client's address, when the server knows it.
    pub peer: Option<std::net::SocketAddr>,
}

/// All routes of the hub.
pub fn router(hub: Hub) -> Router {
    Router::new()
        .route("/health", get(misc::health))
        .route("/api/version", get(misc::version))
        .route("/", get(misc::root))
        .route("/api/whoami-v2", get(misc::whoami))
        .route("/api/validate-yaml", post(misc::validate_yaml))
        .route("/api/repos/create", post(repo_admin::create))
        .route(
            "/api/repos/delete",
            axum::routing::delete(repo_admin::delete),
        )
        .route("/api/repos/move", post(repo_admin::move_repo))
        .fallback(dispatch)
        .with_state(hub)
}

async fn dispatch(ReqHub(hub): ReqHub, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let ctx = Ctx {
        hub,
        method: parts.method,
        headers: parts.headers,
        query: Query::parse(parts.uri.query()),
        body,
        path: parts.uri.path().to_string(),
        raw_query: parts.uri.query().map(str::to_string),
        peer: parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0),
    };
    match route(ctx).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// A path no route answers (no HF error code: it is neither a missing file nor a repo).
fn not_found() -> ApiError {
    ApiError(Error::no_route())
}

/// A repo-scoped path that matched no route: `RepoNotFound` unless `ns/name` is a repo the
/// caller can read (then the route is what does not exist). So `/api/models/no-such-repo/...`
/// (an id without namespace) and unknown repos answer what `repo_exists()` expects, and a
/// private repo's existence shows through no path.
async fn unmatched(ctx: Ctx, t: RepoType, ns: &str, name: &str) -> ApiError {
    let caller = match crate::auth::caller(&ctx.hub, &ctx.headers).await {
        Ok(c) => c,
        Err(e) => return ApiError(e),
    };
    let id = (t, ns.to_string(), name.to_string());
    match shapes::load_repo(&ctx.hub, caller.as_ref(), &id, Access::Read).await {
        Ok(_) => not_found(),
        Err(e) => ApiError(e),
    }
}

fn method_not_allowed() -> ApiError {
    ApiError(Error::BadRequest("Method not allowed on this path".into()))
}

async fn route(ctx: Ctx) -> ApiResult<Response> {
    let segs = segments(&ctx.path)?;
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["api", "lfs", rest @ ..] => lfs::signed(ctx, rest).await,
        ["api", "xet", rest @ ..] => xet::cas(ctx, rest).await,
        ["api", "users", user, "repos"] => repo_info::user_repos(ctx, user).await,
        ["api", "admin", rest @ ..] => admin::route(ctx, rest).await,
        ["api", "quota", rest @ ..] => quota::route(ctx, rest).await,
        ["api", "user", "keys"] => match ctx.method {
            Method::GET => profiles::list_keys(ctx).await,
            Method::POST => profiles::add_key(ctx).await,
            _ => Err(method_not_allowed()),
        },
        ["api", "user", "keys", id] => match ctx.method {
            Method::GET => profiles::get_key(ctx, id).await,
            Method::DELETE => profiles::delete_key(ctx, id).await,
            _ => Err(method_not_allowed()),
        },
        ["api", "validate", "check-name"] if ctx.method == Method::POST => {
            profiles::check_name(ctx).await
        }
        ["api", kind @ ("users" | "organizations"), name, "settings"]
            if ctx.method == Method::PUT =>
        {
            profiles::settings(ctx, name, *kind == "organizations").await
        }
        ["api", kind @ ("users" | "organizations"), name, "avatar"] => {
            let org = *kind == "organizations";
            match ctx.method {
                Method::GET | Method::HEAD => profiles::get_avatar(ctx, name, org).await,
                Method::POST | Method::PUT => profiles::upload_avatar(ctx, name, org).await,
                Method::DELETE => profiles::delete_avatar(ctx, name, org).await,
                _ => Err(method_not_allowed()),
            }
        }
        ["api", "settings", "repositories"] if ctx.method == Method::GET => {
            repo_info::storage_list(ctx, None).await
        }
        ["api", "organizations", org, "settings", "repositories"] if ctx.method == Method::GET => {
            repo_info::storage_list(ctx, Some(org)).await
        }
        ["api", "users", user, "likes"] if ctx.method == Method::GET => {
            social::user_likes(ctx, user).await
        }
        ["api", "trending"] if ctx.method == Method::GET => social::trending(ctx).await,
        ["api", "users", user, "overview"] if ctx.method == Method::GET => {
            orgs::user_overview(ctx, user).await
        }
        ["api", "organizations", org, "overview"] if ctx.method == Method::GET => {
            orgs::overview(ctx, org).await
        }
        ["api", "organizations", org, "members"] if ctx.method == Method::GET => {
            orgs::hf_members(ctx, org).await
        }
        ["api", "auth", rest @ ..] => match (rest, ctx.method.clone()) {
            (["register"], Method::POST) => accounts::register(ctx).await,
            (["login"], Method::POST) => accounts::login(ctx).await,
            (["logout"], Method::POST) => accounts::logout(ctx).await,
            (["me"], Method::GET) => accounts::me(ctx).await,
            (["verify-email"], Method::GET) => accounts::verify_email(ctx).await,
            (["tokens"], Method::GET) => accounts::list_tokens(ctx).await,
            (["tokens", "create"], Method::POST) => accounts::create_token(ctx).await,
            (["tokens", id], Method::DELETE) => accounts::revoke_token(ctx, id).await,
            _ => Err(not_found()),
        },
        ["api", "invitations", rest @ ..] => match (rest, ctx.method.clone()) {
            (["create"], Method::POST) => accounts::create_invitation(ctx, None).await,
            (["org", org, "create"], Method::POST) => {
                accounts::create_invitation(ctx, Some(org)).await
            }
            (["org", org, "list"], Method::GET) => accounts::list_invitations(ctx, org).await,
            ([token], Method::GET) => accounts::get_invitation(ctx, token).await,
            ([token], Method::DELETE) => accounts::delete_invitation(ctx, token).await,
            ([token, "accept"], Method::POST) => accounts::accept_invitation(ctx, token).await,
            _ => Err(not_found()),
        },
        // hf_xet reports transfer statistics to the hub's root; nothing is kept.
        ["v1", "telemetry"] if ctx.method == Method::POST => {
            Ok(axum::http::StatusCode::OK.into_response())
        }
        ["org", "create"] if ctx.method == Method::POST => orgs::create(ctx).await,
        ["org", "users", user, "orgs"] if ctx.method == Method::GET => {
            orgs::user_orgs(ctx, user).await
        }
        ["org", org] if ctx.method == Method::GET => orgs::get(ctx, org).await,
        ["org", org, "members"] => match ctx.method {
            Method::GET => orgs::members(ctx, org).await,
            Method::POST => orgs::set_member(ctx, org, None).await,
            _ => Err(method_not_allowed()),
        },
        ["org", org, "members", user] => match ctx.method {
            Method::PUT => orgs::set_member(ctx, org, Some(user)).await,
            Method::DELETE => orgs::remove_member(ctx, org, user).await,
            _ => Err(method_not_allowed()),
        },
        ["org", ..] => Err(not_found()),
        ["api", plural] => match RepoType::from_plural(plural) {
            Some(t) if ctx.method == Method::GET => repo_info::list(ctx, t).await,
            _ => Err(not_found()),
        },
        // An id without namespace (`/api/models/gpt2`): no such repository on this hub.
        ["api", plural, _] if RepoType::from_plural(plural).is_some() => {
            Err(ApiError(Error::repo_not_found()))
        }
        ["api", plural, ns, name, rest @ ..] => match RepoType::from_plural(plural) {
            Some(t) => repo_api(ctx, t, ns, name, rest).await,
            None => Err(not_found()),
        },
        ["api", ..] => Err(not_found()),
        // `/datasets/ns/name/...`, `/spaces/...`, and KohakuHub's `/models/...`: the plural
        // names are reserved, so they can never be a namespace.
        [first, ns, name, tail @ ..] if RepoType::from_plural(first).is_some() => {
            let t = RepoType::from_plural(first).unwrap_or(RepoType::Model);
            web(ctx, t, ns, name, tail).await
        }
        [ns, name, tail @ ..] => web(ctx, RepoType::Model, ns, name, tail).await,
        [_] => Err(not_found()),
        [] => Err(not_found()),
    }
}

/// `/api/{type}s/{ns}/{name}/...`
async fn repo_api(
    ctx: Ctx,
    t: RepoType,
    ns: &str,
    name: &str,
    rest: &[&str],
) -> ApiResult<Response> {
    let m = ctx.method.clone();
    let id = (t, ns.to_string(), name.to_string());
    match (rest, m) {
        ([], Method::GET) => repo_info::info(ctx, id, None).await,
        (["revision", rev @ ..], Method::GET) if !rev.is_empty() => {
            repo_info::info(ctx, id, Some(rev.join("/"))).await
        }
        (["tree", rev, path @ ..], Method::GET) => files::tree(ctx, id, rev, &path.join("/")).await,
        (["paths-info", rev @ ..], Method::POST) if !rev.is_empty() => {
            files::paths_info(ctx, id, &rev.join("/")).await
        }
        (["preupload", rev @ ..], Method::POST) if !rev.is_empty() => {
            files::preupload(ctx, id, &rev.join("/")).await
        }
        (["commit", rev @ ..], Method::POST) if !rev.is_empty() => {
            commit::commit(ctx, id, &rev.join("/")).await
        }
        (["commits", rev @ ..], Method::GET) if !rev.is_empty() => {
            refs::commits(ctx, id, &rev.join("/")).await
        }
        (["refs"], Method::GET) => refs::list(ctx, id).await,
        (["branch", b @ ..], Method::POST) if !b.is_empty() => {
            refs::create_branch(ctx, id, &b.join("/")).await
        }
        (["branch", b @ ..], Method::DELETE) if !b.is_empty() => {
            refs::delete_branch(ctx, id, &b.join("/")).await
        }
        (["tag", r @ ..], Method::POST) if !r.is_empty() => {
            refs::create_tag(ctx, id, &r.join("/")).await
        }
        (["tag", r @ ..], Method::DELETE) if !r.is_empty() => {
            refs::delete_tag(ctx, id, &r.join("/")).await
        }
        (["super-squash", b @ ..], Method::POST) if !b.is_empty() => {
            refs::super_squash(ctx, id, &b.join("/")).await
        }
        (["xet-read-token", _rev @ ..], Method::GET) => {
            xet::token(ctx, id, kohaku::xet::token::Scope::Read).await
        }
        (["xet-write-token", _rev @ ..], Method::GET) => {
            xet::token(ctx, id, kohaku::xet::token::Scope::Write).await
        }
        (["lfs-files"], Method::GET) => lfs_files::list(ctx, id).await,
        (["lfs-files", "batch"], Method::POST) => lfs_files::delete_batch(ctx, id).await,
        (["lfs-files", "duplicate"], Method::POST) => lfs_files::duplicate(ctx, id).await,
        (["lfs-files", sha], Method::DELETE) => lfs_files::delete_one(ctx, id, sha).await,
        (["auth-check"], Method::GET) => repo_info::auth_check(ctx, id, Access::Read).await,
        (["auth-check", "write"], Method::GET) => {
            repo_info::auth_check(ctx, id, Access::Write).await
        }
        (["duplicate"], Method::POST) => repo_admin::duplicate(ctx, id).await,
        (["settings"], Method::PUT) => repo_admin::settings(ctx, id).await,
        (["lfs", "settings"], Method::GET) => repo_admin::lfs_settings(ctx, id).await,
        (["like"], Method::GET | Method::POST | Method::DELETE) => social::like(ctx, id).await,
        (["likers"], Method::GET) => social::likers(ctx, id).await,
        (["stats"], Method::GET) => social::repo_stats(ctx, id).await,
        (["stats", "recent"], Method::GET) => social::repo_stats_recent(ctx, id).await,
        (["tree"] | ["paths-info"] | ["preupload"] | ["commit"] | ["commits"], _) => Err(ApiError(
            Error::bad_request("A revision is required in this path"),
        )),
        _ => Err(unmatched(ctx, t, ns, name).await),
    }
}

/// Web paths: `/{prefix}{ns}/{name}/resolve/...` and `.../raw/...`, LFS, settings.
async fn web(ctx: Ctx, t: RepoType, ns: &str, name: &str, rest: &[&str]) -> ApiResult<Response> {
    let (name, dot_git) = match name.strip_suffix(".git") {
        Some(n) => (n, true),
        None => (name, false),
    };
    let id = (t, ns.to_string(), name.to_string());
    let m = ctx.method.clone();
    match (rest, m) {
        (["resolve", rev, path @ ..], Method::GET | Method::HEAD)
            if !dot_git && !path.is_empty() =>
        {
            resolve::resolve(ctx, id, rev, &path.join("/")).await
        }
        (["raw", rev, path @ ..], Method::GET | Method::HEAD) if !dot_git && !path.is_empty() => {
            resolve::raw(ctx, id, rev, &path.join("/")).await
        }
        (["info", "refs"], Method::GET) => git_http::info_refs(ctx, id).await,
        (["git-upload-pack"], Method::POST) => git_http::upload_pack(ctx, id).await,
        (["git-receive-pack"], Method::POST) => git_http::receive_pack(ctx, id).await,
        (["HEAD"], Method::GET) => git_http::head(ctx, id).await,
        (["info", "lfs", "objects", "batch"], Method::POST) => lfs::batch(ctx, id).await,
        (["info", "lfs", "locks", "verify"], Method::POST) => lfs::locks_verify(ctx, id).await,
        (["info", "lfs", ..], _) => Err(not_found()),
        (["settings"], Method::PUT) if !dot_git => repo_admin::settings(ctx, id).await,
        (["resolve" | "raw", ..], _) => Err(method_not_allowed()),
        _ => Err(unmatched(ctx, t, ns, name).await),
    }
}

/// `(type, namespace, name)` as the URL named it.
pub type RepoRef = (RepoType, String, String);

/// Convenience for handlers: JSON response.
pub fn json(v: serde_json::Value) -> Response {
    axum::Json(v).into_response()
}

/// One page of an offset-paginated list as a JSON array, with `Link` to the next page when this
/// one is full (the client stops at the first page without one).
pub fn cursor_page(
    hub: &Hub,
    ctx_path: &str,
    query: &Query,
    items: Vec<serde_json::Value>,
    offset: u64,
    limit: u64,
) -> Response {
    let full = items.len() as u64 == limit;
    let mut resp = axum::Json(serde_json::Value::Array(items)).into_response();
    if full {
        set_next_link(&mut resp, hub, ctx_path, query, "cursor", offset + limit);
    }
    resp
}

/// Add `Link: <next page>; rel="next"`: the request's absolute URL with `key=value` set and
/// every other query parameter kept (the HF client re-sends none of them).
pub fn set_next_link(
    resp: &mut Response,
    hub: &Hub,
    ctx_path: &str,
    query: &Query,
    key: &str,
    value: u64,
) {
    let next = format!(
        "{}{}?{}",
        hub.base_url(),
        ctx_path,
        query.with(key, &value.to_string())
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
        resp.headers_mut().insert("link", v);
    }
}
