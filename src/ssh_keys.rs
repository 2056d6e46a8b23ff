//! SSH public keys of users: parsed for real (the wire format inside the base64), fingerprinted
//! as OpenSSH does (`SHA256:` + unpadded base64 of the key blob), one owner per fingerprint.

use crate::db::{Conn, OptionalExtension};
use crate::params;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{is_unique_violation, now_str};
use crate::error::{Error, Result};

/// Key types accepted.
pub const KEY_TYPES: &[&str] = &[
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-ed25519",
];

/// A parsed public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    pub key_type: String,
    /// `type base64` (comment dropped).
    pub canonical: String,
    pub fingerprint: String,
    pub comment: Option<String>,
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn string(&mut self) -> Result<&'a [u8]> {
        let bad = || Error::bad_request("Malformed SSH key: truncated data");
        if self.buf.len() < 4 {
            return Err(bad());
        }
        let n = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        let rest = &self.buf[4..];
        if rest.len() < n {
            return Err(bad());
        }
        let (s, tail) = rest.split_at(n);
        self.buf = tail;
        Ok(s)
    }
    /// A positive mpint; returns its bit length.
    fn mpint_bits(&mut self) -> Result<usize> {
        let s = self.string()?;
        if s.first().is_some_and(|b| b & 0x80 != 0) {
            return Err(Error::bad_request("Malformed SSH key: negative integer"));
        }
        let s = match s.iter().position(|b| *b != 0) {
            Some(i) => &s[i..],
            None => return Err(Error::bad_request("Malformed SSH key: zero integer")),
        };
        Ok(s.len() * 8 - s[0].leading_zeros() as usize)
    }
}

/// Parse `type base64 [comment]`.
pub fn parse(text: &str) -> Result<ParsedKey> {
    let text = text.trim();
    if text.len() > 16 * 1024 {
        return Err(Error::bad_request("SSH key too long"));
    }
    let mut parts = text.splitn(3, char::is_whitespace);
    let key_type = parts.next().unwrap_or("");
    if !KEY_TYPES.contains(&key_type) {
        return Err(Error::bad_request(format!(
            "Unsupported SSH key type '{key_type}': use one of {}",
            KEY_TYPES.join(", ")
        )));
    }
    let b64 = parts.next().unwrap_or("").trim();
    let comment = parts
        .next()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    let blob = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| Error::bad_request("Malformed SSH key: the key data is not base64"))?;
    let mut r = Reader { buf: &blob };
    if r.string()? != key_type.as_bytes() {
        return Err(Error::bad_request(
            "Malformed SSH key: the key data does not match its type",
        ));
    }
    match key_type {
        "ssh-rsa" => {
            let e = r.mpint_bits()?;
            let n = r.mpint_bits()?;
            if e < 2 || n < 2048 {
                return Err(Error::bad_request(format!(
                    "RSA keys must be at least 2048 bits (this one has {n})"
                )));
            }
        }
        "ssh-dss" => {
            for _ in 0..4 {
                r.mpint_bits()?;
            }
        }
        "ssh-ed25519" => {
            if r.string()?.len() != 32 {
                return Err(Error::bad_request(
                    "Malformed SSH key: ed25519 keys are 32 bytes",
                ));
            }
        }
        _ => {
            let curve = key_type.trim_start_matches("ecdsa-sha2-");
            if r.string()? != curve.as_bytes() {
                return Err(Error::bad_request(
                    "Malformed SSH key: curve does not match the key type",
                ));
            }
            let point = r.string()?;
            let want = match curve {
                "nistp256" => 65,
                "nistp384" => 97,
                _ => 133,
            };
            if point.len() != want || point[0] != 4 {
                return Err(Error::bad_request("Malformed SSH key: invalid curve point"));
            }
        }
    }
    if !r.buf.is_empty() {
        return Err(Error::bad_request("Malformed SSH key: trailing data"));
    }
    let fp = base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(&blob));
    Ok(ParsedKey {
        key_type: key_type.to_string(),
        canonical: format!(
            "{key_type} {}",
            base64::engine::general_purpose::STANDARD.encode(&blob)
        ),
        fingerprint: format!("SHA256:{fp}"),
        comment,
    })
}

/// A stored key.
#[derive(Debug, Clone, Serialize)]
pub struct SshKey {
    pub id: i64,
    pub title: String,
    pub key_type: String,
    pub public_key: String,
    pub fingerprint: String,
    pub created_at: String,
    pub last_used: Option<String>,
}

const COLS: &str = "id, title, key_type, public_key, fingerprint, created_at, last_used";

fn from_row(r: &crate::db::Row<'_>) -> crate::db::DbResult<SshKey> {
    Ok(SshKey {
        id: r.get(0)?,
        title: r.get(1)?,
        key_type: r.get(2)?,
        public_key: r.get(3)?,
        fingerprint: r.get(4)?,
        created_at: r.get(5)?,
        last_used: r.get(6)?,
    })
}

pub fn add(conn: &Conn, user_id: i64, title: Option<&str>, key: &str) -> Result<SshKey> {
    let parsed = parse(key)?;
    let title = title
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .or(parsed.comment.clone())
        .unwrap_or_else(|| parsed.key_type.clone());
    if title.len() > 200 {
        return Err(Error::bad_request("Title too long"));
    }
    let res = conn.query_row(
        "INSERT INTO ssh_keys (user_id, key_type, public_key, fingerprint, title, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![user_id, parsed.key_type, parsed.canonical, parsed.fingerprint, title, now_str()],
        |r| r.get::<_, i64>(0),
    );
    let id = match res {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Conflict {
                message: format!("This key ({}) is already registered", parsed.fingerprint),
                url: None,
            })
        }
        Err(e) => return Err(e.into()),
    };
    get(conn, user_id, id)
}

pub fn list(conn: &Conn, user_id: i64) -> Result<Vec<SshKey>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLS} FROM ssh_keys WHERE user_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([user_id], from_row)?;
    Ok(rows.collect::<crate::db::DbResult<Vec<_>>>()?)
}

pub fn get(conn: &Conn, user_id: i64, id: i64) -> Result<SshKey> {
    conn.query_row(
        &format!("SELECT {COLS} FROM ssh_keys WHERE user_id = ?1 AND id = ?2"),
        params![user_id, id],
        from_row,
    )
    .optional()?
    .ok_or_else(|| Error::EntryNotFound(format!("SSH key {id} not found")))
}

pub fn delete(conn: &Conn, user_id: i64, id: i64) -> Result<()> {
    if conn.execute(
        "DELETE FROM ssh_keys WHERE user_id = ?1 AND id = ?2",
        params![user_id, id],
    )? == 0
    {
        return Err(Error::EntryNotFound(format!("SSH key {id} not found")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_fingerprint_and_errors() {
        // The ed25519 key of the OpenSSH test suite (regress/ed25519-1.pub).
        let blob = {
            let mut b = Vec::new();
            b.extend_from_slice(&11u32.to_be_bytes());
            b.extend_from_slice(b"ssh-ed25519");
            b.extend_from_slice(&32u32.to_be_bytes());
            b.extend_from_slice(&[7u8; 32]);
            b
        };
        let text = format!(
            "ssh-ed25519 {} me@host",
            base64::engine::general_purpose::STANDARD.encode(&blob)
        );
        let k = parse(&text).unwrap();
        assert_eq!(k.comment.as_deref(), Some("me@host"));
        assert!(k.fingerprint.starts_with("SHA256:") && !k.fingerprint.ends_with('='));
        assert!(parse("ssh-ed25519 !!!").is_err());
        assert!(parse("ssh-foo AAAA").is_err());
        assert!(parse(&text.replace("ssh-ed25519 ", "ssh-rsa ")).is_err());
        let mut short = blob.clone();
        short.truncate(30);
        assert!(parse(&format!(
            "ssh-ed25519 {}",
            base64::engine::general_purpose::STANDARD.encode(&short)
        ))
        .is_err());
    }
}
