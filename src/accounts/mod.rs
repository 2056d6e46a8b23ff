//! Users and API tokens. Passwords are argon2 hashes; tokens are stored as sha256 digests only.

mod password;
pub mod sessions;
pub mod token_service;
mod tokens;
pub mod user_service;

pub use password::{hash_password, verify_password};
pub use tokens::{create_token, list_tokens, revoke_token, token_caller, TokenInfo, TokenRole};

use crate::db::{Conn, OptionalExtension, Row};
use crate::params;
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

/// A `User` from the first seven columns of a row (id, username, email, is_admin, is_org,
/// full_name, created_at).
pub fn user_from_row(r: &Row<'_>) -> crate::db::DbResult<User> {
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
    /// The operator at the shell (`kohaku repo delete` and friends): acts as a hub admin.
    pub fn system() -> Caller {
        Caller {
            user: User {
                id: 0,
                username: "system".into(),
                email: None,
                is_admin: true,
                is_org: false,
                full_name: None,
                created_at: String::new(),
            },
            token: None,
        }
    }

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
    conn: &Conn,
    username: &str,
    email: &str,
    password: &str,
    admin: bool,
) -> Result<User> {
    names::validate_new_namespace(username)?;
    validate_email(email)?;
    check_password_strength(password, username)?;
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

pub fn user_by_name(conn: &Conn, username: &str) -> Result<Option<User>> {
    Ok(conn
        .query_row(
            &format!("SELECT {USER_COLS} FROM users WHERE username = ?1"),
            [username],
            user_from_row,
        )
        .optional()?)
}

/// The profile text of a user or organization.
pub fn user_bio(conn: &Conn, id: i64) -> Result<Option<String>> {
    Ok(conn.query_row("SELECT bio FROM users WHERE id = ?1", [id], |r| r.get(0))?)
}

/// A (non-organization) user by name, or `EntryNotFound`.
pub fn require_user(conn: &Conn, username: &str) -> Result<User> {
    user_by_name(conn, username)?
        .filter(|u| !u.is_org)
        .ok_or_else(|| Error::EntryNotFound(format!("User '{username}' not found")))
}

pub fn user_by_id(conn: &Conn, id: i64) -> Result<Option<User>> {
    Ok(conn
        .query_row(
            &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
            [id],
            user_from_row,
        )
        .optional()?)
}

pub fn list_users(conn: &Conn) -> Result<Vec<User>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {USER_COLS} FROM users WHERE is_org = 0 ORDER BY username"
    ))?;
    let rows = stmt.query_map(crate::params![], user_from_row)?;
    Ok(rows.collect::<crate::db::DbResult<Vec<_>>>()?)
}

/// Why a login was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginError {
    BadCredentials,
    EmailNotVerified,
}

/// Check a password (by user name or email). Unknown users and wrong passwords look the same.
pub fn login(
    conn: &Conn,
    username: &str,
    password: &str,
) -> Result<std::result::Result<User, LoginError>> {
    let row: Option<(i64, Option<String>, bool, bool)> = conn
        .query_row(
            "SELECT id, password_hash, email_verified, is_active FROM users WHERE (username = ?1 OR email = ?1) AND is_org = 0",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    // Hash even for unknown users so timing does not tell which names exist.
    let Some((id, Some(hash), verified, active)) = row else {
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let dummy = DUMMY.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default());
        let _ = verify_password(password, dummy);
        return Ok(Err(LoginError::BadCredentials));
    };
    if !verify_password(password, &hash) || !active {
        return Ok(Err(LoginError::BadCredentials));
    }
    if !verified {
        return Ok(Err(LoginError::EmailNotVerified));
    }
    Ok(user_by_id(conn, id)?.ok_or(LoginError::BadCredentials))
}

/// Fewest characters a password may have (NIST SP 800-63B's floor, with the list check).
pub const PASSWORD_MIN_CHARS: usize = 8;

/// The password rule, stated in every refusal so that the user knows what to pick.
pub const PASSWORD_RULE: &str = "a password needs at least 8 characters (at most 1024) and \
    must not be the user name, one character repeated, or one of the 20,000 most common passwords";

/// Validate a new password against [`PASSWORD_RULE`]: length, then what an attacker tries
/// first (the user name, one repeated character, the common-password list).
pub fn check_password_strength(password: &str, username: &str) -> Result<()> {
    let refuse = |why: &str| {
        Err(Error::bad_request(format!(
            "Password {why}: {PASSWORD_RULE}"
        )))
    };
    if password.chars().count() < PASSWORD_MIN_CHARS {
        return refuse("is too short");
    }
    if password.len() > 1024 {
        return refuse("is too long");
    }
    let lower = password.to_lowercase();
    if lower == username.to_lowercase() {
        return refuse("is too weak (it is the user name)");
    }
    let mut chars = lower.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return refuse("is too weak (one character repeated)");
    }
    if password::is_common_password(password) {
        return refuse("is too weak (one of the most common passwords)");
    }
    Ok(())
}

/// Change a user's password; all their sessions end.
pub fn set_password(conn: &Conn, user_id: i64, username: &str, password: &str) -> Result<()> {
    check_password_strength(password, username)?;
    conn.execute(
        "UPDATE users SET password_hash = ?1 WHERE id = ?2",
        params![hash_password(password)?, user_id],
    )?;
    conn.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
    Ok(())
}

/// Grant or take hub-admin rights.
pub fn set_admin(conn: &Conn, username: &str, admin: bool) -> Result<()> {
    let n = conn.execute(
        "UPDATE users SET is_admin = ?1 WHERE username = ?2 AND is_org = 0",
        params![admin, username],
    )?;
    if n == 0 {
        return Err(Error::EntryNotFound(format!("User '{username}' not found")));
    }
    Ok(())
}

/// Delete a user. Refused while they own repositories or are an organization's last super-admin.
pub fn delete_user(conn: &mut Conn, username: &str) -> Result<()> {
    let user = user_by_name(conn, username)?
        .filter(|u| !u.is_org)
        .ok_or_else(|| Error::EntryNotFound(format!("User '{username}' not found")))?;
    let repos: i64 = conn.query_row(
        "SELECT COUNT(*) FROM repos WHERE namespace = ?1",
        [username],
        |r| r.get(0),
    )?;
    if repos > 0 {
        return Err(Error::bad_request(format!(
            "'{username}' still has {repos} repositories: delete or move them first"
        )));
    }
    let last_owner: i64 = conn.query_row(
        "SELECT COUNT(*) FROM org_members m WHERE m.user_id = ?1 AND m.role = 'super-admin' AND \
         (SELECT COUNT(*) FROM org_members x WHERE x.org_id = m.org_id AND x.role = 'super-admin') = 1",
        [user.id],
        |r| r.get(0),
    )?;
    if last_owner > 0 {
        return Err(Error::bad_request(format!(
            "'{username}' is the last super-admin of an organization: hand it over first"
        )));
    }
    conn.execute("DELETE FROM users WHERE id = ?1", [user.id])?;
    Ok(())
}

/// Register over HTTP under the hub's policy. With `verified = false` the user cannot log in
/// until the emailed link is followed.
pub fn register(
    conn: &mut Conn,
    policy: crate::config::Registration,
    username: &str,
    email: &str,
    password: &str,
    invitation: Option<&str>,
    verified: bool,
) -> Result<User> {
    use crate::config::Registration;
    match (policy, invitation) {
        (Registration::Closed, _) => {
            return Err(Error::Forbidden(
                "Registration is closed on this hub".into(),
            ))
        }
        (Registration::InvitationOnly, None) => {
            return Err(Error::Forbidden(
                "Registration on this hub needs an invitation".into(),
            ))
        }
        _ => {}
    }
    let tx = crate::db::write_tx(conn)?;
    let user = create_user(&tx, username, email, password, false)?;
    if !verified {
        tx.execute(
            "UPDATE users SET email_verified = 0 WHERE id = ?1",
            [user.id],
        )?;
    }
    if let Some(token) = invitation {
        crate::invitations::use_for_registration(&tx, token, user.id)?;
    }
    tx.commit()?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn mem_db() -> Conn {
        let mut c = Conn::open_in_memory().unwrap();
        crate::db::migrate(&mut c).unwrap();
        c
    }

    #[test]
    fn users_and_tokens() {
        let c = mem_db();
        let u = create_user(&c, "alice", "a@example.com", "a-good-password", false).unwrap();
        assert!(matches!(
            create_user(&c, "Alice_", "b@example.com", "a-good-password", false),
            Err(Error::Conflict { .. })
        ));
        assert!(create_user(&c, "bob", "not-an-email", "a-good-password", false).is_err());
        assert!(login(&c, "alice", "a-good-password").unwrap().is_ok());
        assert!(login(&c, "a@example.com", "a-good-password")
            .unwrap()
            .is_ok());
        assert_eq!(
            login(&c, "alice", "wrong-pass").unwrap().err(),
            Some(LoginError::BadCredentials)
        );
        assert_eq!(
            login(&c, "nobody", "wrong-pass").unwrap().err(),
            Some(LoginError::BadCredentials)
        );
        assert!(create_user(&c, "weak", "w@example.com", "aaaaaaaa", false).is_err());
        assert!(create_user(&c, "weak", "w@example.com", "Password123", false).is_err());
        let tok = create_token(&c, u.id, "ci", TokenRole::Read).unwrap();
        let caller = token_caller(&c, &tok).unwrap().unwrap();
        assert_eq!(caller.user.username, "alice");
        assert!(!caller.can_write());
        let stored: String = c
            .query_row("SELECT token_hash FROM tokens", crate::params![], |r| {
                r.get(0)
            })
            .unwrap();
        assert_ne!(stored, tok, "token stored hashed");
        let id = list_tokens(&c, u.id).unwrap()[0].id;
        revoke_token(&c, u.id, id).unwrap();
        assert!(token_caller(&c, &tok).unwrap().is_none());
    }

    #[test]
    fn password_rule() {
        let msg = |p: &str| {
            check_password_strength(p, "alice")
                .map(|_| String::new())
                .unwrap_or_else(|e| e.to_string())
        };
        for weak in [
            "short",
            "aaaaaaaaaa",
            "password123",
            "PassWord123",
            " password123 ",
            "iloveyou2",
            "Alice",
            "ALICE-is-ok-but-too-long".repeat(50).as_str(),
        ] {
            let m = msg(weak);
            assert!(
                m.contains(PASSWORD_RULE),
                "{weak:?} accepted or rule missing: {m}"
            );
        }
        assert!(msg("password123").contains("most common"));
        assert!(msg("aaaaaaaaaa").contains("repeated"));
        assert!(msg("alicealice").is_empty());
        let same = check_password_strength("Bartholomew", "bartholomew").unwrap_err();
        assert!(same.to_string().contains("user name"), "{same}");
        for fine in ["correct horse battery", "a-good-password", "alice-password"] {
            assert_eq!(msg(fine), "", "{fine}");
        }
        // The embedded list is whole (~20,000 entries, short ones too: the length rule is
        // separate and applies first).
        assert!(password::is_common_password("qwertyuiop"));
        assert!(password::is_common_password("trustno1"));
        assert!(password::is_common_password("123456"));
        assert!(!password::is_common_password("correct horse battery"));
    }
}
