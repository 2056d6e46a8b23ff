//! Invitations: to join an organization with a role, or (without an organization) to register
//! on an invitation-only hub. Single use, N uses or unlimited; they expire.

use crate::db::{Conn, OptionalExtension};
use crate::params;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::accounts::sessions::random_secret;
use crate::accounts::{Caller, User};
use crate::db::now_str;
use crate::error::{Error, Result};
use crate::orgs::{self, Role};

fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// An invitation as shown to people who hold its token or manage its organization.
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    pub id: i64,
    pub org: Option<String>,
    pub role: Option<String>,
    pub email: Option<String>,
    pub created_by: Option<String>,
    /// `None`: single use; `-1`: unlimited; `N`: N uses.
    pub max_usage: Option<i64>,
    pub usage_count: i64,
    pub expires_at: String,
    pub created_at: String,
    pub is_expired: bool,
    pub is_exhausted: bool,
}

impl Invitation {
    pub fn is_usable(&self) -> bool {
        !self.is_expired && !self.is_exhausted
    }
}

/// What to create.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub org: Option<String>,
    pub role: Role,
    pub email: Option<String>,
    pub max_usage: Option<i64>,
    pub expires_days: i64,
}

const COLS: &str = "i.id, o.username, i.role, i.email, c.username, i.max_usage, i.usage_count, i.expires_at, i.created_at";

fn from_row(r: &crate::db::Row<'_>) -> crate::db::DbResult<Invitation> {
    let max_usage: Option<i64> = r.get(5)?;
    let usage_count: i64 = r.get(6)?;
    let expires_at: String = r.get(7)?;
    let limit = match max_usage {
        None => Some(1),
        Some(-1) => None,
        Some(n) => Some(n),
    };
    Ok(Invitation {
        id: r.get(0)?,
        org: r.get(1)?,
        role: r.get(2)?,
        email: r.get(3)?,
        created_by: r.get(4)?,
        max_usage,
        usage_count,
        is_expired: expires_at <= now_str(),
        is_exhausted: limit.is_some_and(|l| usage_count >= l),
        expires_at,
        created_at: r.get(8)?,
    })
}

fn select(where_: &str) -> String {
    format!("SELECT {COLS} FROM invitations i LEFT JOIN users o ON o.id = i.org_id LEFT JOIN users c ON c.id = i.created_by WHERE {where_}")
}

/// Create an invitation; returns its token (shown once) and the row.
pub fn create(conn: &Conn, actor: &Caller, new: &NewInvitation) -> Result<(String, Invitation)> {
    if !actor.can_write() {
        return Err(Error::Forbidden("This token is read-only".into()));
    }
    if !(1..=365).contains(&new.expires_days) {
        return Err(Error::bad_request("expires_days must be between 1 and 365"));
    }
    match new.max_usage {
        None | Some(-1) => {}
        Some(n) if n >= 1 => {}
        Some(n) => {
            return Err(Error::bad_request(format!(
                "max_usage must be null, -1 or a positive number, not {n}"
            )))
        }
    }
    if let Some(e) = &new.email {
        if !e.contains('@') {
            return Err(Error::bad_request(format!("Invalid email address '{e}'")));
        }
    }
    let org_id = match &new.org {
        Some(name) => {
            let org = orgs::require_org(conn, name)?;
            let role = if actor.user.is_admin {
                Some(Role::SuperAdmin)
            } else {
                orgs::role_in(conn, name, actor.user.id)?
            };
            match role {
                Some(r) if r >= Role::Admin => {
                    if new.role >= Role::Admin && r < Role::SuperAdmin {
                        return Err(Error::Forbidden(
                            "Only a super-admin can invite admins".into(),
                        ));
                    }
                }
                Some(_) => {
                    return Err(Error::Forbidden(
                        "Only organization admins can invite".into(),
                    ))
                }
                None => {
                    return Err(Error::EntryNotFound(format!(
                        "Organization '{name}' not found"
                    )))
                }
            }
            Some(org.id)
        }
        None => {
            if !actor.user.is_admin {
                return Err(Error::Forbidden(
                    "Only hub admins can create registration invitations".into(),
                ));
            }
            None
        }
    };
    let token = random_secret();
    let expires = (chrono::Utc::now() + chrono::Duration::days(new.expires_days))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let id: i64 = conn.query_row(
        "INSERT INTO invitations (token_hash, org_id, role, email, created_by, max_usage, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        params![digest(&token), org_id, new.org.as_ref().map(|_| new.role.as_str()), new.email, actor.user.id, new.max_usage, expires, now_str()],
        |r| r.get(0),
    )?;
    let inv = conn.query_row(&select("i.id = ?1"), [id], from_row)?;
    Ok((token, inv))
}

/// Look an invitation up by its token.
pub fn get(conn: &Conn, token: &str) -> Result<Invitation> {
    conn.query_row(&select("i.token_hash = ?1"), [digest(token)], from_row)
        .optional()?
        .ok_or_else(|| Error::EntryNotFound("Invitation not found".into()))
}

fn usable(inv: &Invitation) -> Result<()> {
    if inv.is_expired {
        return Err(Error::Gone("This invitation has expired".into()));
    }
    if inv.is_exhausted {
        return Err(Error::Gone("This invitation has already been used".into()));
    }
    Ok(())
}

/// Count one use of the invitation, atomically against concurrent uses.
fn consume(conn: &Conn, inv: &Invitation) -> Result<()> {
    let n = conn.execute(
        "UPDATE invitations SET usage_count = usage_count + 1 WHERE id = ?1 AND expires_at > ?2 AND \
         (max_usage = -1 OR usage_count < COALESCE(max_usage, 1))",
        params![inv.id, now_str()],
    )?;
    if n == 0 {
        return Err(Error::Gone("This invitation is no longer valid".into()));
    }
    Ok(())
}

/// Accept: join the organization with the invitation's role.
pub fn accept(conn: &mut Conn, token: &str, user: &User) -> Result<Invitation> {
    let inv = get(conn, token)?;
    usable(&inv)?;
    let Some(org) = &inv.org else {
        return Err(Error::bad_request(
            "This is a registration invitation: use it when registering",
        ));
    };
    if orgs::role_in(conn, org, user.id)?.is_some() {
        return Err(Error::Conflict {
            message: format!("You are already a member of '{org}'"),
            url: None,
        });
    }
    let role = Role::parse(inv.role.as_deref().unwrap_or("member"))?;
    let org_id = orgs::require_org(conn, org)?.id;
    let tx = crate::db::write_tx(conn)?;
    consume(&tx, &inv)?;
    orgs::add_member_unchecked(&tx, org_id, user.id, role)?;
    tx.commit()?;
    Ok(inv)
}

/// Use an invitation while registering `user_id` (inside the registration transaction).
pub fn use_for_registration(conn: &Conn, token: &str, user_id: i64) -> Result<()> {
    let inv = get(conn, token)?;
    usable(&inv)?;
    consume(conn, &inv)?;
    if let Some(org) = &inv.org {
        let role = Role::parse(inv.role.as_deref().unwrap_or("member"))?;
        orgs::add_member_unchecked(conn, orgs::require_org(conn, org)?.id, user_id, role)?;
    }
    Ok(())
}

fn require_manager(conn: &Conn, actor: &Caller, inv: &Invitation) -> Result<()> {
    if actor.user.is_admin || inv.created_by.as_deref() == Some(actor.user.username.as_str()) {
        return Ok(());
    }
    match &inv.org {
        Some(org) if orgs::role_in(conn, org, actor.user.id)?.is_some_and(|r| r >= Role::Admin) => {
            Ok(())
        }
        _ => Err(Error::Forbidden("You cannot manage this invitation".into())),
    }
}

/// Delete an invitation (its creator, the organization's admins, hub admins).
pub fn delete(conn: &Conn, actor: &Caller, token: &str) -> Result<()> {
    let inv = get(conn, token)?;
    require_manager(conn, actor, &inv)?;
    conn.execute("DELETE FROM invitations WHERE id = ?1", [inv.id])?;
    Ok(())
}

/// The invitations of an organization (admins only).
pub fn list_for_org(conn: &Conn, actor: &Caller, org: &str) -> Result<Vec<Invitation>> {
    let o = orgs::require_org(conn, org)?;
    if !actor.user.is_admin
        && orgs::role_in(conn, org, actor.user.id)?.is_none_or(|r| r < Role::Admin)
    {
        return Err(Error::Forbidden(
            "Only organization admins can list invitations".into(),
        ));
    }
    let mut stmt = conn.prepare(&select("i.org_id = ?1 ORDER BY i.id"))?;
    let rows = stmt.query_map([o.id], from_row)?;
    Ok(rows.collect::<crate::db::DbResult<Vec<_>>>()?)
}
