//! The one mapping from core errors to HTTP: status, `X-Error-Code`, `X-Error-Message`, and a
//! JSON body `{"error": ...}` (plus `url` on repo conflicts, which the HF client reads).

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
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
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
        headers.insert("x-error-code", HeaderValue::from_static(e.code()));
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
