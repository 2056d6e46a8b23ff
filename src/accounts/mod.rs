//! Users and API tokens. Passwords are argon2 hashes; tokens are stored as sha256 digests only.

mod password;
mod tokens;

pub use password::{hash_password, verify_password};
pub use tokens::{create_token, list_tokens, revoke_token, token_caller, TokenInfo, TokenRole};

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use crate::db::{is_unique_violation, now_str};
use crate::error::{Error, Result};
use crate::names;

/// A user or organisation row.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub is_org: bool,
    pub full_name: Option<String>,
    pub created_at: String,
}

const USER_COLS: &str = "id, username, email, is_admin, is_org, full_name, created_at";

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        email: r.get(2)?,
        is_admin: r.get(3)?,
        is_org: r.get(4)?,
        full_name: r.get(5)?,
        created_at: r.get(6)?,
    })
}

/// Who is making a request: a user, and the token it came with (if any).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub token: Option<TokenInfo>,
}

impl Caller {
    /// Read-only tokens may read but never write, whatever the user may do.
    pub fn can_write(&self) -> bool {
        self.token
            .as_ref()
            .map(|t| t.role == TokenRole::Write)
            .unwrap_or(true)
    }
}

fn validate_email(email: &str) -> Result<()> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "Invalid email address '{email}'"
        )))
    }
}

/// Create a user; the name must be free among users and organisations (normalised).
pub fn create_user(
    conn: &Connection,
    username: &str,
    email: &str,
    password: &str,
    admin: bool,
) -> Result<User> {
    names::validate_new_namespace(username)?;
    validate_email(email)?;
    if password.len() < 8 {
        return Err(Error::bad_request("Password must be at least 8 characters"));
    }
    let hash = hash_password(password)?;
    let res = conn.execute(
        "INSERT INTO users (username, normalized_name, is_org, email, password_hash, is_admin, created_at) \
         VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6)",
        params![username, names::normalize(username), email, hash, admin, now_str()],
    );
    match res {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Conflict {
                message: format!("The name '{username}' or the email '{email}' is already taken"),
                url: None,
            })
        }
        Err(e) => return Err(e.into()),
    }
    user_by_name(conn, username)?.ok_or_else(|| Error::internal("user vanished after insert"))
}

pub fn user_by_name(conn: &Connection, username: &str) -> Result<Option<User>> {
    Ok(conn
        .query_row(
            &format!("SELECT {USER_COLS} FROM users WHERE username = ?1"),
            [username],
            user_from_row,
        )
        .optional()?)
}

pub fn user_by_id(conn: &Connection, id: i64) -> Result<Option<User>> {
    Ok(conn
        .query_row(
            &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
            [id],
            user_from_row,
        )
        .optional()?)
}

pub fn list_users(conn: &Connection) -> Result<Vec<User>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {USER_COLS} FROM users WHERE is_org = 0 ORDER BY username"
    ))?;
    let rows = stmt.query_map([], user_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Check a password; `None` when the user is unknown or the password wrong.
pub fn login(conn: &Connection, username: &str, password: &str) -> Result<Option<User>> {
    let row: Option<(i64, Option<String>)> = conn
        .query_row(
            "SELECT id, password_hash FROM users WHERE username = ?1 AND is_org = 0",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        Some((id, Some(hash))) if verify_password(password, &hash) => user_by_id(conn, id),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn mem_db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut c).unwrap();
        c
    }

    #[test]
    fn users_and_tokens() {
        let c = mem_db();
        let u = create_user(&c, "alice", "a@example.com", "password1", false).unwrap();
        assert!(matches!(
            create_user(&c, "Alice_", "b@example.com", "password1", false),
            Err(Error::Conflict { .. })
        ));
        assert!(create_user(&c, "bob", "not-an-email", "password1", false).is_err());
        assert!(login(&c, "alice", "password1").unwrap().is_some());
        assert!(login(&c, "alice", "wrong-pass").unwrap().is_none());
        let tok = create_token(&c, u.id, "ci", TokenRole::Read).unwrap();
        let caller = token_caller(&c, &tok).unwrap().unwrap();
        assert_eq!(caller.user.username, "alice");
        assert!(!caller.can_write());
        let stored: String = c
            .query_row("SELECT token_hash FROM tokens", [], |r| r.get(0))
            .unwrap();
        assert_ne!(stored, tok, "token stored hashed");
        let id = list_tokens(&c, u.id).unwrap()[0].id;
        revoke_token(&c, u.id, id).unwrap();
        assert!(token_caller(&c, &tok).unwrap().is_none());
    }
}
