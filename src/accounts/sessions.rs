//! Login sessions: a random id in an HttpOnly cookie, stored as a sha256 digest with an expiry.

use crate::db::{Conn, OptionalExtension};
use crate::params;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{user_by_id, Caller};
use crate::db::now_str;
use crate::error::{Error, Result};

/// Name of the session cookie.
pub const COOKIE: &str = "session_id";

fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Random url-safe secret of 32 bytes.
pub fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

fn expiry(hours: u64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(hours as i64))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Open a session; returns the cookie value and its expiry.
pub fn create_session(conn: &Conn, user_id: i64, hours: u64) -> Result<(String, String)> {
    let sid = random_secret();
    let expires = expiry(hours);
    conn.execute(
        "INSERT INTO sessions (session_hash, user_id, expires_at, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![digest(&sid), user_id, expires, now_str()],
    )?;
    Ok((sid, expires))
}

/// The caller behind a session cookie; `None` when unknown or expired (and expired ones go).
pub fn session_caller(conn: &Conn, sid: &str) -> Result<Option<Caller>> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT user_id, expires_at FROM sessions WHERE session_hash = ?1",
            [digest(sid)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((user_id, expires)) = row else {
        return Ok(None);
    };
    if expires <= now_str() {
        conn.execute(
            "DELETE FROM sessions WHERE session_hash = ?1",
            [digest(sid)],
        )?;
        return Ok(None);
    }
    let active: bool = conn
        .query_row(
            "SELECT is_active FROM users WHERE id = ?1",
            [user_id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false);
    if !active {
        return Ok(None);
    }
    Ok(user_by_id(conn, user_id)?.map(|user| Caller { user, token: None }))
}

pub fn delete_session(conn: &Conn, sid: &str) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE session_hash = ?1",
        [digest(sid)],
    )? > 0)
}

/// Domain label of CSRF tokens: no other HMAC under the same key (URL signatures, Xet
/// tokens) can equal one.
const CSRF_LABEL: &[u8] = b"kohaku-csrf-v1\n";

fn csrf_mac(key: &[u8], sid: &str) -> Result<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(Error::internal)?;
    mac.update(CSRF_LABEL);
    mac.update(digest(sid).as_bytes());
    Ok(mac)
}

/// The CSRF token of the session whose cookie value is `sid`: HMAC-SHA256, under the hub's
/// signing key (`Hub::signing_key`), of the session's stored digest, in hex.
///
/// A cross-site page can make the browser send the cookie but cannot read the token, so a
/// request carrying it comes from the hub's own front end. Derived, not stored: no table,
/// every hub process checks it, it lives and dies with the session, and a new login gets a
/// new one. The front end reads it from the login answer (`csrf_token`) or from
/// `GET /api/whoami-v2` (`auth.csrfToken`) and sends it as `X-CSRF-Token` (the only place the
/// daemon reads it today); pages the hub will render can embed it in their forms and check it
/// with [`csrf_token_valid`].
pub fn csrf_token(key: &[u8], sid: &str) -> Result<String> {
    Ok(hex::encode(csrf_mac(key, sid)?.finalize().into_bytes()))
}

/// Whether `token` is the CSRF token of the session `sid` (compared in constant time).
pub fn csrf_token_valid(key: &[u8], sid: &str, token: &str) -> bool {
    let Ok(raw) = hex::decode(token.trim()) else {
        return false;
    };
    csrf_mac(key, sid).is_ok_and(|m| m.verify_slice(&raw).is_ok())
}

/// Store an email verification token for the user; returns the token.
pub fn create_email_verification(conn: &Conn, user_id: i64) -> Result<String> {
    let token = random_secret();
    conn.execute(
        "INSERT INTO email_verifications (token_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
        params![digest(&token), user_id, expiry(48)],
    )?;
    Ok(token)
}

/// Mark the token's user verified; `None` when the token is unknown or expired.
pub fn verify_email(conn: &Conn, token: &str) -> Result<Option<i64>> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT user_id, expires_at FROM email_verifications WHERE token_hash = ?1",
            [digest(token)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((user_id, expires)) = row else {
        return Ok(None);
    };
    conn.execute(
        "DELETE FROM email_verifications WHERE token_hash = ?1",
        [digest(token)],
    )?;
    if expires <= now_str() {
        return Ok(None);
    }
    conn.execute(
        "UPDATE users SET email_verified = 1 WHERE id = ?1",
        [user_id],
    )?;
    Ok(Some(user_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound_to_the_session_and_the_key() {
        let t = csrf_token(b"key", "session-a").unwrap();
        assert_eq!(t.len(), 64);
        assert_eq!(t, csrf_token(b"key", "session-a").unwrap());
        assert!(csrf_token_valid(b"key", "session-a", &t));
        assert!(!csrf_token_valid(b"key", "session-b", &t));
        assert!(!csrf_token_valid(b"other-key", "session-a", &t));
        assert!(!csrf_token_valid(b"key", "session-a", ""));
        assert!(!csrf_token_valid(b"key", "session-a", "not hex"));
        assert!(!csrf_token_valid(b"key", "session-a", &t[..32]));
    }
}
