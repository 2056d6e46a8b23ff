//! API tokens: random, shown once, stored as sha256 digests (lookup by digest).

use crate::db::{Conn, OptionalExtension};
use crate::params;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{user_from_row, Caller};
use crate::db::now_str;
use crate::error::{Error, Result};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenRole {
    Read,
    Write,
}

impl TokenRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRole::Read => "read",
            TokenRole::Write => "write",
        }
    }
    fn parse(s: &str) -> TokenRole {
        if s == "write" {
            TokenRole::Write
        } else {
            TokenRole::Read
        }
    }
}

/// A token's metadata (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub role: TokenRole,
    pub last_used_at: Option<String>,
    pub created_at: String,
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Create a token and return its secret, the only time it is visible.
pub fn create_token(conn: &Conn, user_id: i64, name: &str, role: TokenRole) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(Error::bad_request("Token name must be 1 to 100 characters"));
    }
    let secret: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(37)
        .map(char::from)
        .collect();
    let token = format!("hf_{secret}");
    conn.execute(
        "INSERT INTO tokens (user_id, token_hash, name, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user_id, digest(&token), name, role.as_str(), now_str()],
    )?;
    Ok(token)
}

/// Resolve a bearer token to its caller; `None` for an unknown or revoked token.
pub fn token_caller(conn: &Conn, token: &str) -> Result<Option<Caller>> {
    // One round trip: the token, its user, and whether the user may act at all.
    let row = conn
        .query_row(
            "SELECT u.id, u.username, u.email, u.is_admin, u.is_org, u.full_name, u.created_at, \
             t.id, t.name, t.role, t.last_used_at, t.created_at \
             FROM tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = ?1 AND u.is_active = 1",
            [digest(token)],
            |r| {
                Ok((
                    r.get::<_, i64>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, Option<String>>(10)?,
                    r.get::<_, String>(11)?,
                    user_from_row(r)?,
                ))
            },
        )
        .optional()?;
    let Some((id, name, role, last_used_at, created_at, user)) = row else {
        return Ok(None);
    };
    // Coarse last-use stamp: at most one write per minute per token.
    let now = now_str();
    if last_used_at
        .as_deref()
        .map(|t| t.get(..16) != now.get(..16))
        .unwrap_or(true)
    {
        conn.execute(
            "UPDATE tokens SET last_used_at = ?1 WHERE id = ?2",
            params![now, id],
        )?;
    }
    Ok(Some(Caller {
        user,
        token: Some(TokenInfo {
            id,
            name,
            role: TokenRole::parse(&role),
            last_used_at,
            created_at,
        }),
    }))
}

pub fn list_tokens(conn: &Conn, user_id: i64) -> Result<Vec<TokenInfo>> {
    let mut stmt = conn.prepare(
        "SELECT id, name, role, last_used_at, created_at FROM tokens WHERE user_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(TokenInfo {
            id: r.get(0)?,
            name: r.get(1)?,
            role: TokenRole::parse(&r.get::<_, String>(2)?),
            last_used_at: r.get(3)?,
            created_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<crate::db::DbResult<Vec<_>>>()?)
}

pub fn revoke_token(conn: &Conn, user_id: i64, token_id: i64) -> Result<()> {
    let n = conn.execute(
        "DELETE FROM tokens WHERE id = ?1 AND user_id = ?2",
        params![token_id, user_id],
    )?;
    if n == 0 {
        return Err(Error::EntryNotFound(format!("Token {token_id} not found")));
    }
    Ok(())
}
