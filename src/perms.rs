//! The one permission model: who may read, write or administer a repository or namespace.
//! Every path (HF API, resolve, LFS) asks here.

use crate::db::Conn;

use crate::accounts::Caller;
use crate::error::{Error, Result};
use crate::orgs::Role;
use crate::repos::Repo;

/// Level of access to a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    None,
    Read,
    Write,
    Admin,
}

/// The caller's access to `repo`. Read-only tokens cap it at `Read`.
pub fn repo_access(conn: &Conn, repo: &Repo, caller: Option<&Caller>) -> Result<Access> {
    let base = match caller {
        Some(c) if c.user.is_admin => Access::Admin,
        Some(c) if c.user.username == repo.namespace => Access::Admin,
        Some(c) => match crate::orgs::role_in(conn, &repo.namespace, c.user.id)? {
            Some(Role::Admin | Role::SuperAdmin) => Access::Admin,
            Some(Role::Member) => Access::Write,
            Some(Role::Visitor) => Access::Read,
            None if !repo.private => Access::Read,
            None => Access::None,
        },
        None if !repo.private => Access::Read,
        None => Access::None,
    };
    Ok(match caller {
        Some(c) if !c.can_write() && base > Access::Read => Access::Read,
        _ => base,
    })
}

/// Require read access; missing access is indistinguishable from a missing repo.
pub fn require_read(conn: &Conn, repo: &Repo, caller: Option<&Caller>) -> Result<Access> {
    let a = repo_access(conn, repo, caller)?;
    if a == Access::None {
        return Err(Error::repo_not_found());
    }
    Ok(a)
}

/// Require write access. Callers who cannot even read get 404, the others 403/401.
pub fn require_write(conn: &Conn, repo: &Repo, caller: Option<&Caller>) -> Result<()> {
    let a = require_read(conn, repo, caller)?;
    if a >= Access::Write {
        return Ok(());
    }
    match caller {
        None => Err(Error::Unauthorized(
            "Authentication required to modify this repository".into(),
        )),
        Some(c) if !c.can_write() => Err(Error::Forbidden("This token is read-only".into())),
        Some(_) => Err(Error::Forbidden(
            "You do not have write access to this repository".into(),
        )),
    }
}

/// Require admin access (settings, delete, move).
pub fn require_admin(conn: &Conn, repo: &Repo, caller: Option<&Caller>) -> Result<()> {
    require_write(conn, repo, caller)?;
    if repo_access(conn, repo, caller)? >= Access::Admin {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "You need admin rights on this repository".into(),
        ))
    }
}

/// May the caller create repositories in `namespace`? Its owner, org members and above,
/// hub admins.
pub fn require_create_in(conn: &Conn, namespace: &str, caller: Option<&Caller>) -> Result<()> {
    let Some(c) = caller else {
        return Err(Error::Unauthorized("Authentication required".into()));
    };
    if !c.can_write() {
        return Err(Error::Forbidden("This token is read-only".into()));
    }
    if c.user.is_admin || c.user.username == namespace {
        return Ok(());
    }
    if crate::orgs::role_in(conn, namespace, c.user.id)?.is_some_and(|r| r >= Role::Member) {
        return Ok(());
    }
    Err(Error::Forbidden(format!(
        "You cannot create repositories in the namespace '{namespace}'"
    )))
}

/// May the caller see (with `min` = `Visitor`) or manage (`Admin`) the quota and usage of a
/// namespace? Its owner, org members with at least
/// `min`, hub admins.
pub fn require_quota_access(
    conn: &Conn,
    caller: &Caller,
    namespace: &str,
    min: Role,
) -> Result<()> {
    if caller.user.is_admin || caller.user.username == namespace {
        return Ok(());
    }
    match crate::orgs::role_in(conn, namespace, caller.user.id)? {
        Some(r) if r >= min => Ok(()),
        _ => Err(Error::Forbidden(format!(
            "You cannot see or manage the quota and usage of '{namespace}'"
        ))),
    }
}

/// Hub administrators only (with a token that may write); `what` says what is refused.
pub fn require_hub_admin(caller: &Caller, what: &str) -> Result<()> {
    if caller.user.is_admin && caller.can_write() {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("Only hub administrators {what}")))
    }
}

/// SQL condition (over a `repos` alias `r`) selecting repos the caller may read; the user id
/// is inlined as an integer, nothing else.
pub fn readable_repos_sql(caller: Option<&Caller>) -> String {
    match caller {
        Some(c) if c.user.is_admin => "1=1".to_string(),
        Some(c) => format!(
            "(r.private = 0 OR r.namespace = (SELECT username FROM users WHERE id = {id}) OR r.namespace IN \
             (SELECT o.username FROM org_members m JOIN users o ON o.id = m.org_id WHERE m.user_id = {id}))",
            id = c.user.id
        ),
        None => "r.private = 0".to_string(),
    }
}
