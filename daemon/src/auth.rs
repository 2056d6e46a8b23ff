//! Who is calling: `Authorization: Bearer <token>`, or Basic with the token as password
//! (git and git-lfs send that).

use axum::http::HeaderMap;
use base64::Engine;
use kohaku::accounts::{token_caller, Caller};
use kohaku::{Error, Hub, Result};

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
pub async fn caller(hub: &Hub, headers: &HeaderMap) -> Result<Option<Caller>> {
    let Some(token) = credential(headers)? else {
        let Some(sid) = session_cookie(headers) else {
            return Ok(None);
        };
        return hub
            .db
            .call(move |c| kohaku::accounts::sessions::session_caller(c, &sid))
            .await;
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
