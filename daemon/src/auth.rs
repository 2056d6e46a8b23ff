//! Who is calling: `Authorization: Bearer <token>`, or Basic with the token as password
//! (git and git-lfs send that), or else the login session's cookie, which only the hub's own
//! pages may use to change anything (see [`check_same_origin`]).

use axum::extract::Request;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use kohaku::accounts::{sessions, token_caller, Caller};
use kohaku::{Error, Hub, Result};

use crate::request;

tokio::task_local! {
    /// The method of the request being served, for [`caller`], which is handed only the
    /// headers.
    static METHOD: Method;
}

/// Middleware around every route: records the request's method for [`caller`].
pub async fn request_scope(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    METHOD.scope(method, next.run(req)).await
}

/// Whether the request being served may change state (anything but GET, HEAD, OPTIONS).
/// Outside a request scope it is assumed to, so the cookie check cannot be skipped.
fn changes_state() -> bool {
    METHOD
        .try_with(|m| !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS))
        .unwrap_or(true)
}

fn credential(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(v) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v.to_str().map_err(|_| invalid())?.trim();
    if let Some(t) = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
    {
        return Ok(Some(t.trim().to_string()));
    }
    if let Some(b) = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map_err(|_| invalid())?;
        let text = String::from_utf8(raw).map_err(|_| invalid())?;
        let (_, pass) = text.split_once(':').ok_or_else(invalid)?;
        return Ok(Some(pass.to_string()));
    }
    Err(invalid())
}

fn invalid() -> Error {
    Error::Unauthorized("Invalid credentials in Authorization header".into())
}

/// The value of the session cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == kohaku::accounts::sessions::COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The caller, `None` when anonymous; a credential that matches nothing is a 401. A stale
/// session cookie counts as anonymous (browsers keep them), so public reads still work.
///
/// This is the one place a cookie becomes a caller, so the cross-site check is made here and
/// no route can forget it: a state-changing request the cookie authenticates must pass
/// [`check_same_origin`]. Token-authenticated requests are not concerned (other sites
/// cannot make a browser send an `Authorization` header).
pub async fn caller(hub: &Hub, headers: &HeaderMap) -> Result<Option<Caller>> {
    let Some(token) = credential(headers)? else {
        let Some(sid) = session_cookie(headers) else {
            return Ok(None);
        };
        let s = sid.clone();
        let caller = hub
            .db
            .call(move |c| sessions::session_caller(c, &s))
            .await?;
        if caller.is_some() && changes_state() {
            check_same_origin(hub, headers, &sid)?;
        }
        return Ok(caller);
    };
    if token.is_empty() || token.len() > 512 {
        return Err(invalid());
    }
    match hub.db.call(move |c| token_caller(c, &token)).await? {
        Some(c) => Ok(Some(c)),
        None => Err(invalid()),
    }
}

/// The caller, required.
pub async fn required(hub: &Hub, headers: &HeaderMap) -> Result<Caller> {
    caller(hub, headers)
        .await?
        .ok_or_else(|| Error::Unauthorized("Authentication required".into()))
}

/// A browser attaches the session cookie to requests any other site makes it send (SameSite=Lax
/// stops only some), so a state-changing request authenticated by the cookie must show it
/// comes from the hub's own pages:
/// - `Origin`, when sent, is the hub's: that of `base_url`, or of the `Host` the browser
///   used (with `base_url`'s scheme); `Origin: null` (sandboxed or privacy-redirected
///   requests) is not;
/// - otherwise `Sec-Fetch-Site`, when sent, is `same-origin` or `none` (typed by the user);
/// - a body a cross-site HTML form can send without a CORS preflight (urlencoded,
///   multipart, text/plain) also carries the session's CSRF token in `X-CSRF-Token`
///   ([`sessions::csrf_token`]).
///
/// Requests with neither header come from clients other than browsers, or browsers too old
/// to send them; the token requirement still covers their form posts.
fn check_same_origin(hub: &Hub, headers: &HeaderMap, sid: &str) -> Result<()> {
    let cross_site = || {
        Error::Forbidden(
            "Request refused: cross-site requests cannot use the session cookie to change \
             anything (use the hub's own pages, or an access token)"
                .into(),
        )
    };
    if let Some(v) = headers.get(axum::http::header::ORIGIN) {
        let sent = v.to_str().ok().and_then(request::origin);
        let own = request::origin(&hub.config.base_url);
        let via_host = own.as_deref().and_then(|base| {
            let scheme = base.split("://").next()?;
            let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
            request::origin(&format!("{scheme}://{host}"))
        });
        match sent {
            Some(o) if Some(&o) == own.as_ref() || Some(&o) == via_host.as_ref() => {}
            _ => return Err(cross_site()),
        }
    } else if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return Err(cross_site());
        }
    }
    if request::form_type_body(headers) {
        let token = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !sessions::csrf_token_valid(&hub.signing_key, sid, token) {
            return Err(Error::Forbidden(
                "CSRF token missing or invalid: a form-type body sent with the session cookie \
                 needs the session's token in the X-CSRF-Token header (from the login answer or \
                 GET /api/whoami-v2)"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// The CSRF token to hand the front end, when the session cookie (not a token) is what
/// authenticated `caller`.
pub fn csrf_token_for(hub: &Hub, headers: &HeaderMap, caller: &Caller) -> Result<Option<String>> {
    if caller.token.is_some() || headers.contains_key(axum::http::header::AUTHORIZATION) {
        return Ok(None);
    }
    session_cookie(headers)
        .map(|sid| sessions::csrf_token(&hub.signing_key, &sid))
        .transpose()
}
