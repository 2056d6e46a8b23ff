//! CAS access tokens: `xet1.{repo}.{user}.{r|w}.{exp}.{hmac}`.
//!
//! The hub hands one out from `xet-read-token` / `xet-write-token`; `hf_xet` sends it as a
//! bearer token to the CAS routes, which need no database lookup to check it. The HMAC key is
//! the hub's URL-signing key (shared by every process through the database) with a purpose
//! label of its own, so a CAS token is never valid as anything else.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// What a token allows on its repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "r",
            Scope::Write => "w",
        }
    }

    /// A write token also reads (the uploader checks what is already stored).
    pub fn allows(self, wanted: Scope) -> bool {
        self == Scope::Write || wanted == Scope::Read
    }
}

/// The claims of a CAS token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasToken {
    pub repo_id: i64,
    pub user_id: Option<i64>,
    pub scope: Scope,
    /// Unix seconds after which the token is refused.
    pub exp: i64,
}

fn mac(key: &[u8], body: &str) -> Result<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).map_err(Error::internal)?;
    m.update(b"kohaku-xet-cas-v1\n");
    m.update(body.as_bytes());
    Ok(m)
}

/// Sign `claims` into a token string.
pub fn mint(key: &[u8], claims: &CasToken) -> Result<String> {
    let body = format!(
        "xet1.{}.{}.{}.{}",
        claims.repo_id,
        claims.user_id.map(|u| u.to_string()).unwrap_or_default(),
        claims.scope.as_str(),
        claims.exp
    );
    let sig = hex::encode(mac(key, &body)?.finalize().into_bytes());
    Ok(format!("{body}.{sig}"))
}

/// How long a CAS token lives; clients ask for a new one through the refresh route before it
/// ends.
pub const TOKEN_TTL_SECS: i64 = 900;

/// A CAS token handed to a client, with where to use it.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    /// Unix seconds.
    pub exp: i64,
    /// The CAS the token is for: `{base_url}/api/xet`.
    pub cas_url: String,
}

/// A fresh CAS token for `user_id` on `repo_id`. Callers check first that the user may read
/// (or write, for [`Scope::Write`]) the repository: the token-issuing route and, for clients
/// that negotiate Xet there, the LFS batch.
pub fn issue(
    hub: &crate::hub::Hub,
    repo_id: i64,
    user_id: Option<i64>,
    scope: Scope,
) -> Result<Issued> {
    let exp = chrono::Utc::now().timestamp() + TOKEN_TTL_SECS;
    let access_token = mint(
        &hub.signing_key,
        &CasToken {
            repo_id,
            user_id,
            scope,
            exp,
        },
    )?;
    Ok(Issued {
        access_token,
        exp,
        cas_url: hub.url("/api/xet"),
    })
}

/// Check a token's signature and expiry (`now` in unix seconds); 401 when it fails either.
pub fn verify(key: &[u8], token: &str, now: i64) -> Result<CasToken> {
    let bad = || Error::Unauthorized("Invalid or expired Xet token".into());
    let (body, sig) = token.rsplit_once('.').ok_or_else(bad)?;
    let sig = hex::decode(sig).map_err(|_| bad())?;
    mac(key, body)?.verify_slice(&sig).map_err(|_| bad())?;
    let parts: Vec<&str> = body.split('.').collect();
    let [version, repo, user, scope, exp] = parts.as_slice() else {
        return Err(bad());
    };
    if *version != "xet1" {
        return Err(bad());
    }
    let claims = CasToken {
        repo_id: repo.parse().map_err(|_| bad())?,
        user_id: if user.is_empty() {
            None
        } else {
            Some(user.parse().map_err(|_| bad())?)
        },
        scope: match *scope {
            "r" => Scope::Read,
            "w" => Scope::Write,
            _ => return Err(bad()),
        },
        exp: exp.parse().map_err(|_| bad())?,
    };
    if claims.exp <= now {
        return Err(bad());
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_scope_expiry_and_forgery() {
        let key = b"0123456789abcdef0123456789abcdef";
        let claims = CasToken {
            repo_id: 7,
            user_id: Some(3),
            scope: Scope::Write,
            exp: 1_000,
        };
        let t = mint(key, &claims).unwrap();
        assert_eq!(verify(key, &t, 999).unwrap(), claims);
        assert!(verify(key, &t, 1_000).is_err(), "expired");
        assert!(verify(b"another key", &t, 999).is_err());
        // Changing any claim breaks the signature.
        let forged = t.replacen("xet1.7.", "xet1.8.", 1);
        assert!(verify(key, &forged, 999).is_err());
        let upgraded = mint(
            key,
            &CasToken {
                scope: Scope::Read,
                ..claims.clone()
            },
        )
        .unwrap()
        .replacen(".r.", ".w.", 1);
        assert!(verify(key, &upgraded, 999).is_err());
        assert!(verify(key, "garbage", 0).is_err());
        assert!(verify(key, "", 0).is_err());
        let anon = CasToken {
            user_id: None,
            scope: Scope::Read,
            ..claims
        };
        assert_eq!(verify(key, &mint(key, &anon).unwrap(), 0).unwrap(), anon);
        assert!(Scope::Write.allows(Scope::Read) && !Scope::Read.allows(Scope::Write));
    }
}
