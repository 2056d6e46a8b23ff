//! Organizations: a namespace (a `users` row with `is_org`) whose members have roles.
//! visitor < member < admin < super-admin; the creator is super-admin.

pub mod service;

use crate::db::{Conn, OptionalExtension};
use crate::params;
use serde::Serialize;

use crate::accounts::{user_by_name, Caller, User};
use crate::db::{is_unique_violation, now_str};
use crate::error::{Error, Result};
use crate::names;

/// A member's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Role {
    #[serde(rename = "visitor")]
    Visitor,
    #[serde(rename = "member")]
    Member,
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "super-admin")]
    SuperAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Visitor => "visitor",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::SuperAdmin => "super-admin",
        }
    }
    pub fn parse(s: &str) -> Result<Role> {
        match s {
            "visitor" | "read" => Ok(Role::Visitor),
            "member" | "write" | "contributor" => Ok(Role::Member),
            "admin" => Ok(Role::Admin),
            "super-admin" | "superadmin" | "owner" => Ok(Role::SuperAdmin),
            other => Err(Error::bad_request(format!(
                "Invalid role '{other}': use visitor, member, admin or super-admin"
            ))),
        }
    }
}

/// Find an organization by name.
pub fn get_org(conn: &Conn, name: &str) -> Result<Option<User>> {
    Ok(user_by_name(conn, name)?.filter(|u| u.is_org))
}

pub fn require_org(conn: &Conn, name: &str) -> Result<User> {
    get_org(conn, name)?
        .ok_or_else(|| Error::EntryNotFound(format!("Organization '{name}' not found")))
}

/// `user_id`'s role in the organization named `org`, if a member.
pub fn role_in(conn: &Conn, org: &str, user_id: i64) -> Result<Option<Role>> {
    let r: Option<String> = conn
        .prepare(
            "SELECT m.role FROM org_members m JOIN users o ON o.id = m.org_id \
             WHERE o.username = ?1 AND o.is_org = 1 AND m.user_id = ?2",
        )?
        .query_row(params![org, user_id], |r| r.get(0))
        .optional()?;
    r.map(|s| Role::parse(&s)).transpose()
}

/// Create an organization; the creator becomes its super-admin.
pub fn create_org(
    conn: &mut Conn,
    creator: &User,
    name: &str,
    full_name: Option<&str>,
    bio: Option<&str>,
) -> Result<User> {
    names::validate_new_namespace(name)?;
    let tx = crate::db::write_tx(conn)?;
    let now = now_str();
    let res = tx.query_row(
        "INSERT INTO users (username, normalized_name, is_org, full_name, bio, created_at) VALUES (?1, ?2, 1, ?3, ?4, ?5) RETURNING id",
        params![name, names::normalize(name), full_name, bio, now],
        |r| r.get::<_, i64>(0),
    );
    let org_id = match res {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Conflict {
                message: format!("The name '{name}' is already taken"),
                url: None,
            })
        }
        Err(e) => return Err(e.into()),
    };
    tx.execute(
        "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES (?1, ?2, 'super-admin', ?3)",
        params![org_id, creator.id, now],
    )?;
    tx.commit()?;
    require_org(conn, name)
}

/// Memberships joined with the user (or org) on the `side` of the relation.
fn memberships(conn: &Conn, side: &str, filter: &str, id: i64) -> Result<Vec<(User, Role)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT x.id, x.username, x.email, x.is_admin, x.is_org, x.full_name, x.created_at, m.role \
         FROM org_members m JOIN users x ON x.id = m.{side} WHERE m.{filter} = ?1 ORDER BY x.username"
    ))?;
    let rows = stmt.query_map([id], |r| {
        Ok((crate::accounts::user_from_row(r)?, r.get::<_, String>(7)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (u, role) = row?;
        out.push((u, Role::parse(&role)?));
    }
    Ok(out)
}

/// Members with their roles, by name.
pub fn list_members(conn: &Conn, org_id: i64) -> Result<Vec<(User, Role)>> {
    memberships(conn, "user_id", "org_id", org_id)
}

/// Organizations a user belongs to, with the role in each.
pub fn user_orgs(conn: &Conn, user_id: i64) -> Result<Vec<(User, Role)>> {
    memberships(conn, "org_id", "user_id", user_id)
}

/// What the actor may do in the org: hub admins act as super-admins.
fn actor_role(conn: &Conn, org: &User, actor: &Caller) -> Result<Option<Role>> {
    if !actor.can_write() {
        return Err(Error::Forbidden("This token is read-only".into()));
    }
    if actor.user.is_admin {
        return Ok(Some(Role::SuperAdmin));
    }
    role_in(conn, &org.username, actor.user.id)
}

fn count_super_admins(conn: &Conn, org_id: i64) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM org_members WHERE org_id = ?1 AND role = 'super-admin'",
        [org_id],
        |r| r.get(0),
    )?)
}

/// Check that `actor` may give or take `role` (and touch a member currently at `current`).
fn check_manage(actor: Option<Role>, role: Role, current: Option<Role>) -> Result<()> {
    let Some(actor) = actor.filter(|r| *r >= Role::Admin) else {
        return Err(Error::Forbidden(
            "Only organization admins can manage members".into(),
        ));
    };
    let high = role >= Role::Admin || current.is_some_and(|c| c >= Role::Admin);
    if high && actor < Role::SuperAdmin {
        return Err(Error::Forbidden(
            "Only a super-admin can grant or change admin roles".into(),
        ));
    }
    Ok(())
}

/// Add a member (or change an existing member's role).
pub fn set_member(
    conn: &Conn,
    actor: &Caller,
    org_name: &str,
    username: &str,
    role: Role,
) -> Result<()> {
    let org = require_org(conn, org_name)?;
    let user = user_by_name(conn, username)?
        .filter(|u| !u.is_org)
        .ok_or_else(|| Error::EntryNotFound(format!("User '{username}' not found")))?;
    let current = role_in(conn, org_name, user.id)?;
    check_manage(actor_role(conn, &org, actor)?, role, current)?;
    if current == Some(Role::SuperAdmin)
        && role != Role::SuperAdmin
        && count_super_admins(conn, org.id)? <= 1
    {
        return Err(Error::bad_request(
            "An organization needs at least one super-admin",
        ));
    }
    add_member_unchecked(conn, org.id, user.id, role)
}

/// Insert or update a membership without permission checks (invitations, admin CLI).
pub fn add_member_unchecked(conn: &Conn, org_id: i64, user_id: i64, role: Role) -> Result<()> {
    conn.execute(
        "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
        params![org_id, user_id, role.as_str(), now_str()],
    )?;
    Ok(())
}

/// Remove a member; members may always leave themselves (but not as the last super-admin).
pub fn remove_member(conn: &Conn, actor: &Caller, org_name: &str, username: &str) -> Result<()> {
    remove(conn, Some(actor), org_name, username)
}

/// Remove a membership without permission checks (admin CLI); keeps one super-admin.
pub fn remove_member_unchecked(conn: &Conn, org_name: &str, username: &str) -> Result<()> {
    remove(conn, None, org_name, username)
}

/// The one removal path: `actor` is checked when given.
fn remove(conn: &Conn, actor: Option<&Caller>, org_name: &str, username: &str) -> Result<()> {
    let org = require_org(conn, org_name)?;
    let user = user_by_name(conn, username)?
        .ok_or_else(|| Error::EntryNotFound(format!("User '{username}' not found")))?;
    let current = role_in(conn, org_name, user.id)?.ok_or_else(|| {
        Error::EntryNotFound(format!("'{username}' is not a member of '{org_name}'"))
    })?;
    if let Some(actor) = actor {
        if actor.user.id != user.id || !actor.can_write() {
            check_manage(actor_role(conn, &org, actor)?, Role::Visitor, Some(current))?;
        }
    }
    if current == Role::SuperAdmin && count_super_admins(conn, org.id)? <= 1 {
        return Err(Error::bad_request(
            "Cannot remove the last super-admin of an organization",
        ));
    }
    conn.execute(
        "DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2",
        params![org.id, user.id],
    )?;
    Ok(())
}

/// All organizations, by name (admin listing).
pub fn list_orgs(conn: &Conn) -> Result<Vec<User>> {
    let mut stmt = conn.prepare(
        "SELECT id, username, email, is_admin, is_org, full_name, created_at FROM users WHERE is_org = 1 ORDER BY username",
    )?;
    let rows = stmt.query_map(crate::params![], crate::accounts::user_from_row)?;
    Ok(rows.collect::<crate::db::DbResult<Vec<_>>>()?)
}

/// Number of members (without loading them).
pub fn member_count(conn: &Conn, org_id: i64) -> Result<usize> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM org_members WHERE org_id = ?1",
        [org_id],
        |r| r.get(0),
    )?;
    Ok(n as usize)
}

/// An organization with its member count.
pub fn org_with_member_count(conn: &Conn, name: &str) -> Result<(User, usize)> {
    let org = require_org(conn, name)?;
    let n = member_count(conn, org.id)?;
    Ok((org, n))
}
