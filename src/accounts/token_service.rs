//! Token actions as the HTTP API (a user's own tokens), the admin API and `kohaku token` (any
//! user's, for hub admins and the operator) perform them.

use serde::Serialize;

use super::{require_user, Caller, TokenInfo, TokenRole};
use crate::error::{Error, Result};
use crate::hub::Hub;
use crate::wire::Success;

/// Whose tokens an action is about: the caller's own when `None`; another user's only for hub
/// admins (the operator at the shell is one). An unknown user is `EntryNotFound`.
fn owner_id(conn: &crate::db::Conn, caller: &Caller, owner: Option<&str>) -> Result<i64> {
    match owner {
        None => Ok(caller.user.id),
        Some(name) => {
            let user = require_user(conn, name)?;
            if user.id != caller.user.id {
                crate::perms::require_hub_admin(caller, "manage other users' tokens")?;
            }
            Ok(user.id)
        }
    }
}

/// A token role as clients name it (`read` / `write`).
pub fn parse_role(s: &str) -> Result<TokenRole> {
    match s {
        "write" => Ok(TokenRole::Write),
        "read" => Ok(TokenRole::Read),
        other => Err(Error::bad_request(format!(
            "Invalid token role '{other}': read or write"
        ))),
    }
}

pub async fn list(hub: &Hub, caller: &Caller, owner: Option<&str>) -> Result<Vec<TokenInfo>> {
    let (caller, owner) = (caller.clone(), owner.map(str::to_string));
    hub.db
        .call(move |c| super::list_tokens(c, owner_id(c, &caller, owner.as_deref())?))
        .await
}

/// A new token: the secret is in this answer only.
#[derive(Debug, Serialize)]
pub struct TokenCreated {
    pub success: bool,
    pub token: String,
    pub name: String,
    pub role: TokenRole,
}

pub async fn create(
    hub: &Hub,
    caller: &Caller,
    owner: Option<&str>,
    name: &str,
    role: TokenRole,
) -> Result<TokenCreated> {
    if !caller.can_write() {
        return Err(Error::Forbidden(
            "A read-only token cannot create tokens".into(),
        ));
    }
    let (caller, owner, n) = (caller.clone(), owner.map(str::to_string), name.to_string());
    let token = hub
        .db
        .call(move |c| {
            let id = owner_id(c, &caller, owner.as_deref())?;
            super::create_token(c, id, &n, role)
        })
        .await?;
    Ok(TokenCreated {
        success: true,
        token,
        name: name.trim().to_string(),
        role,
    })
}

pub async fn revoke(hub: &Hub, caller: &Caller, owner: Option<&str>, id: i64) -> Result<Success> {
    if !caller.can_write() {
        return Err(Error::Forbidden(
            "A read-only token cannot revoke tokens".into(),
        ));
    }
    let (caller, owner) = (caller.clone(), owner.map(str::to_string));
    hub.db
        .call(move |c| super::revoke_token(c, owner_id(c, &caller, owner.as_deref())?, id))
        .await?;
    Ok(Success::new())
}
