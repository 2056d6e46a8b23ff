//! Self-authorising URLs: an HMAC over the purpose, the object and an expiry.
//! The HF client sends no Authorization header on LFS PUTs, so the URL must carry it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks transfer URLs with the hub's key.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

/// The query parameters of a signed URL.
#[derive(Debug, Clone)]
pub struct SignedUrl {
    pub exp: i64,
    pub sig: String,
}

impl Signer {
    pub fn new(key: &[u8]) -> Signer {
        Signer { key: key.to_vec() }
    }

    fn mac(&self, purpose: &str, fields: &[&str], exp: i64) -> Result<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(&self.key).map_err(Error::internal)?;
        mac.update(b"kohaku-v1\n");
        mac.update(purpose.as_bytes());
        for f in fields {
            mac.update(b"\n");
            mac.update(f.as_bytes());
        }
        mac.update(format!("\n{exp}").as_bytes());
        Ok(mac)
    }

    /// Sign `fields` for `purpose`, valid for `ttl_secs`.
    pub fn sign(&self, purpose: &str, fields: &[&str], ttl_secs: u64) -> Result<SignedUrl> {
        let exp = chrono::Utc::now().timestamp() + ttl_secs as i64;
        let sig = hex::encode(self.mac(purpose, fields, exp)?.finalize().into_bytes());
        Ok(SignedUrl { exp, sig })
    }

    /// Check a signature (constant time) and its expiry.
    pub fn verify(&self, purpose: &str, fields: &[&str], exp: i64, sig: &str) -> Result<()> {
        let raw = hex::decode(sig).map_err(|_| Error::Forbidden("Invalid URL signature".into()))?;
        self.mac(purpose, fields, exp)?
            .verify_slice(&raw)
            .map_err(|_| Error::Forbidden("Invalid URL signature".into()))?;
        if chrono::Utc::now().timestamp() > exp {
            return Err(Error::Forbidden("This URL has expired".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let s = Signer::new(b"k");
        let u = s.sign("upload", &["a", "1"], 60).unwrap();
        assert!(s.verify("upload", &["a", "1"], u.exp, &u.sig).is_ok());
        assert!(s.verify("upload", &["a", "2"], u.exp, &u.sig).is_err());
        assert!(s.verify("download", &["a", "1"], u.exp, &u.sig).is_err());
        assert!(s.verify("upload", &["a", "1"], u.exp + 1, &u.sig).is_err());
        let old = s.sign("upload", &["a"], 0).unwrap();
        let expired = SignedUrl {
            exp: old.exp - 10,
            ..old
        };
        assert!(s
            .verify("upload", &["a"], expired.exp, &expired.sig)
            .is_err());
    }
}
