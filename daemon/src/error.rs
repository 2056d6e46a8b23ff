//! The one mapping from core errors to HTTP: status, `X-Error-Code`, `X-Error-Message`, and a
//! JSON body `{"error": ...}` (plus `url` on repo conflicts, which the HF client reads).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kohaku::Error;

/// A core error on its way out as an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Header values must be visible ASCII; keep messages readable but safe.
pub fn header_safe(s: &str) -> HeaderValue {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(1000)
        .collect();
    HeaderValue::from_str(&cleaned).unwrap_or_else(|_| HeaderValue::from_static("error"))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = status_of(&e);
        if let Error::InsufficientStorage(_) = &e {
            log_out_of_space(&e);
        } else if status.is_server_error() {
            tracing::error!(error = %e, "request failed");
        } else {
            tracing::debug!(error = %e, status = status.as_u16(), "request refused");
        }
        let message = e.public_message();
        let mut body = serde_json::json!({ "error": message });
        if let Error::Conflict { url: Some(u), .. } = &e {
            body["url"] = serde_json::Value::String(u.clone());
        }
        let mut headers = HeaderMap::new();
        if let Some(code) = hf_code(&e) {
            headers.insert("x-error-code", HeaderValue::from_static(code));
        }
        headers.insert("x-error-message", header_safe(&message));
        if let Error::RangeNotSatisfiable { size, .. } = &e {
            headers.insert("content-range", header_safe(&format!("bytes */{size}")));
        }
        if let Error::Unavailable(_) | Error::Busy(_) = &e {
            headers.insert("retry-after", HeaderValue::from_static("1"));
        }
        if let Error::Unauthorized(_) = &e {
            headers.insert(
                "www-authenticate",
                HeaderValue::from_static("Basic realm=\"kohaku\""),
            );
        }
        (status, headers, axum::Json(body)).into_response()
    }
}

/// The HTTP status of a core error.
pub fn status_of(e: &Error) -> StatusCode {
    let code = match e {
        Error::RepoNotFound(_)
        | Error::RevisionNotFound(_)
        | Error::EntryNotFound(_)
        | Error::NoRoute(_) => 404,
        Error::BadRequest(_) => 400,
        Error::Unprocessable(_) => 422,
        Error::Unauthorized(_) => 401,
        Error::Forbidden(_) => 403,
        Error::Conflict { .. } => 409,
        Error::PreconditionFailed(_) => 412,
        Error::PayloadTooLarge(_) => 413,
        Error::RangeNotSatisfiable { .. } => 416,
        Error::Gone(_) => 410,
        Error::NotImplemented(_) => 501,
        Error::Unavailable(_) | Error::Busy(_) => 503,
        Error::InsufficientStorage(_) => 507,
        Error::Database(_) | Error::Io(_) | Error::Internal(_) => 500,
    };
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The `X-Error-Code` value; the HF client keys its exception classes on it. `None` for an
/// unknown route, which carries no HF code at all.
pub fn hf_code(e: &Error) -> Option<&'static str> {
    Some(match e {
        Error::NoRoute(_) => return None,
        Error::RepoNotFound(_) => "RepoNotFound",
        Error::RevisionNotFound(_) => "RevisionNotFound",
        Error::EntryNotFound(_) => "EntryNotFound",
        Error::BadRequest(_) | Error::Unprocessable(_) => "BadRequest",
        Error::Unauthorized(_) => "Unauthorized",
        Error::Forbidden(_) => "Forbidden",
        Error::Conflict { url: Some(_), .. } => "RepoExists",
        Error::Conflict { url: None, .. } => "Conflict",
        Error::PreconditionFailed(_) => "PreconditionFailed",
        Error::PayloadTooLarge(_) => "PayloadTooLarge",
        Error::RangeNotSatisfiable { .. } => "RangeNotSatisfiable",
        Error::Gone(_) => "Gone",
        Error::NotImplemented(_) => "NotImplemented",
        Error::Unavailable(_) | Error::Busy(_) => "ServiceUnavailable",
        Error::InsufficientStorage(_) => "InsufficientStorage",
        Error::Database(_) | Error::Io(_) | Error::Internal(_) => "ServerError",
    })
}

/// A full disk fails every write until an operator frees space: one line a minute says so
/// (with how many more failed since the last line) instead of one line per request.
fn log_out_of_space(e: &Error) {
    static THROTTLE: Mutex<LogThrottle> = Mutex::new(LogThrottle::new(Duration::from_secs(60)));
    let due = match THROTTLE.lock() {
        Ok(mut t) => t.hit(Instant::now()),
        Err(poisoned) => poisoned.into_inner().hit(Instant::now()),
    };
    if let Some(suppressed) = due {
        tracing::error!(
            error = %e,
            suppressed,
            "the hub is out of storage space: writes fail with 507 until space is freed \
             (one line a minute at most; suppressed = how many more have failed since the last one)"
        );
    } else {
        tracing::debug!(error = %e, "request refused: out of storage space");
    }
}

/// At most one event per `every`; counts the ones in between.
struct LogThrottle {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl LogThrottle {
    const fn new(every: Duration) -> LogThrottle {
        LogThrottle {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(n)` when an event at `now` is to be logged, `n` being how many were suppressed
    /// since the previous logged one; `None` when it is to be counted only.
    fn hit(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_logs_once_per_period_and_counts_the_rest() {
        let mut t = LogThrottle::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(t.hit(t0), Some(0));
        assert_eq!(t.hit(t0 + Duration::from_secs(1)), None);
        assert_eq!(t.hit(t0 + Duration::from_secs(59)), None);
        assert_eq!(t.hit(t0 + Duration::from_secs(60)), Some(2));
        assert_eq!(t.hit(t0 + Duration::from_secs(61)), None);
        assert_eq!(t.hit(t0 + Duration::from_secs(200)), Some(1));
        assert_eq!(t.hit(t0 + Duration::from_secs(400)), Some(0));
    }

    #[test]
    fn out_of_space_is_507_with_a_clear_message() {
        let full: Error = std::io::Error::from(std::io::ErrorKind::StorageFull).into();
        assert_eq!(status_of(&full).as_u16(), 507);
        assert_eq!(hf_code(&full), Some("InsufficientStorage"));
        assert!(full.public_message().contains("out of storage space"));
        let quota: Error = std::io::Error::from(std::io::ErrorKind::QuotaExceeded).into();
        assert_eq!(status_of(&quota).as_u16(), 507);
        let other: Error = std::io::Error::from(std::io::ErrorKind::PermissionDenied).into();
        assert_eq!(status_of(&other).as_u16(), 500);
    }
}
