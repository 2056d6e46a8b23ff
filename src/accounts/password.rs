//! Argon2id password hashing.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use crate::error::{Error, Result};

pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
}

/// Constant-time verification (argon2's own comparison).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The ~20,000 most common passwords (Royce Williams' list as Django ships it: lowercased,
/// deduplicated, one per line, gzip; BSD-3-Clause, see `common-passwords.NOTICE`).
const COMMON_PASSWORDS_GZ: &[u8] = include_bytes!("common-passwords.txt.gz");

/// Whether `password` is one of the common passwords (case-insensitive, surrounding spaces
/// ignored), as an attacker's first guesses would be.
pub fn is_common_password(password: &str) -> bool {
    static LIST: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    let list = LIST.get_or_init(|| {
        let mut text = String::new();
        if let Err(e) = std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(COMMON_PASSWORDS_GZ),
            &mut text,
        ) {
            tracing::error!("the embedded common-password list is unreadable: {e}");
        }
        text.lines().map(str::to_string).collect()
    });
    list.contains(&password.trim().to_lowercase())
}
