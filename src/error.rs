//! The one error type of the core. The daemon maps it to HTTP exactly once.

use std::fmt;

/// Everything a core operation can refuse or fail with.
///
/// Variants are domain outcomes carrying the message the user sees; the daemon derives the HTTP
/// status and the HF error code (`X-Error-Code`) from the variant, in one place.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    RepoNotFound(String),
    #[error("{0}")]
    RevisionNotFound(String),
    #[error("{0}")]
    EntryNotFound(String),
    /// A path no route answers: a plain 404 without an HF error code, so clients do not
    /// mistake it for a missing file ("Entry not found") or repository.
    #[error("{0}")]
    NoRoute(String),
    #[error("{0}")]
    BadRequest(String),
    /// Input that parses but is semantically wrong (HF answers 422 for bad paths).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    Conflict {
        message: String,
        /// For repo creation conflicts the client still reads `url` from the body.
        url: Option<String>,
    },
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{message}")]
    RangeNotSatisfiable { message: String, size: u64 },
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    NotImplemented(String),
    #[error("database error: {0}")]
    Database(crate::db::DbError),
    #[error("storage error: {0}")]
    Io(std::io::Error),
    #[error("internal error: {0}")]
    Internal(String),
    /// A service the hub depends on (the database) cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    /// Too busy to finish this in time (a branch under heavy concurrent writes); the client
    /// should retry shortly.
    #[error("{0}")]
    Busy(String),
    /// The disk (data directory, staging area, database) is full: nothing was written, and the
    /// same request succeeds once space is freed. Carries the underlying failure for the log.
    #[error("out of storage space: {0}")]
    InsufficientStorage(String),
}

/// Out-of-space failures are recognised here, where low-level errors become core ones, so
/// every path that writes (storage, staging files, the database) answers the same 507.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if is_out_of_space(&e) {
            Error::InsufficientStorage(e.to_string())
        } else {
            Error::Io(e)
        }
    }
}

impl From<crate::db::DbError> for Error {
    fn from(e: crate::db::DbError) -> Self {
        if crate::db::is_out_of_space(&e) {
            Error::InsufficientStorage(e.to_string())
        } else {
            Error::Database(e)
        }
    }
}

/// ENOSPC (`StorageFull`) or EDQUOT (`QuotaExceeded`).
pub fn is_out_of_space(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

impl Error {
    pub fn bad_request(msg: impl fmt::Display) -> Self {
        Error::BadRequest(msg.to_string())
    }
    pub fn internal(msg: impl fmt::Display) -> Self {
        Error::Internal(msg.to_string())
    }
    pub fn repo_not_found() -> Self {
        Error::RepoNotFound("Repository not found".into())
    }
    pub fn revision_not_found(rev: &str) -> Self {
        Error::RevisionNotFound(format!("Invalid rev id: {rev}"))
    }
    pub fn no_route() -> Self {
        Error::NoRoute("No such route on this hub".into())
    }
    pub fn entry_not_found(path: &str) -> Self {
        Error::EntryNotFound(format!("Entry not found: {path}"))
    }

    /// Message safe to show to a client: internal details stay in the logs.
    pub fn public_message(&self) -> String {
        match self {
            Error::Database(_) | Error::Io(_) | Error::Internal(_) => {
                "Internal server error".into()
            }
            Error::Unavailable(_) => "Service temporarily unavailable".into(),
            Error::InsufficientStorage(_) => {
                "The hub is out of storage space; try again later or contact its administrator"
                    .into()
            }
            other => other.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
