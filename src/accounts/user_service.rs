//! User administration as the admin API and `kohaku user` perform it (hub admins and the
//! operator at the shell only). Self-service (registration, login) is in `accounts` itself.

use serde::Deserialize;

use super::{Caller, User};
use crate::error::Result;
use crate::hub::Hub;
use crate::perms::require_hub_admin;
use crate::wire::Success;

const WHAT: &str = "manage users";

/// `POST /api/admin/users`, `kohaku user create`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub admin: bool,
}

pub async fn list(hub: &Hub, caller: &Caller) -> Result<Vec<User>> {
    require_hub_admin(caller, WHAT)?;
    hub.db.call(|c| super::list_users(c)).await
}

pub async fn create(hub: &Hub, caller: &Caller, req: NewUser) -> Result<User> {
    require_hub_admin(caller, WHAT)?;
    // Password hashing is deliberately slow: off the async runtime.
    hub.db
        .call(move |c| super::create_user(c, &req.username, &req.email, &req.password, req.admin))
        .await
}

pub async fn delete(hub: &Hub, caller: &Caller, username: &str) -> Result<Success> {
    require_hub_admin(caller, WHAT)?;
    let n = username.to_string();
    hub.db.call(move |c| super::delete_user(c, &n)).await?;
    Ok(Success::new())
}

pub async fn set_admin(hub: &Hub, caller: &Caller, username: &str, admin: bool) -> Result<Success> {
    require_hub_admin(caller, WHAT)?;
    let n = username.to_string();
    hub.db.call(move |c| super::set_admin(c, &n, admin)).await?;
    Ok(Success::new())
}

pub async fn set_password(
    hub: &Hub,
    caller: &Caller,
    username: &str,
    password: &str,
) -> Result<Success> {
    require_hub_admin(caller, WHAT)?;
    let (n, p) = (username.to_string(), password.to_string());
    hub.db
        .call(move |c| {
            let u = super::require_user(c, &n)?;
            super::set_password(c, u.id, &u.username, &p)
        })
        .await?;
    Ok(Success::new())
}
