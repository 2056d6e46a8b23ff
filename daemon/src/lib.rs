//! HTTP adapter of the kohaku hub: routing, authentication, and the HTTP side of core types.

pub mod auth;
pub mod error;
pub mod request;
pub mod routes;

use std::future::Future;
use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use kohaku::Hub;
use tracing::Instrument;

/// The whole application: routes plus request ids and request logging.
pub fn app(hub: Hub) -> Router {
    routes::router(hub)
        .layer(middleware::from_fn(auth::request_scope))
        .layer(middleware::from_fn(request_context))
}

fn request_id(req: &Request) -> String {
    // Reuse the client's trace id when it is a sane token, so both sides log the same id.
    req.headers()
        .get("x-request-id")
        .or_else(|| req.headers().get("x-amzn-trace-id"))
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.=;:".contains(c))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Every request gets an id (span field and `X-Request-Id`); the path is logged without its
/// query, which may carry URL signatures.
async fn request_context(req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let req = buffer_small_body(req).await;
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let start = Instant::now();
    async move {
        let mut resp = next.run(req).await;
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        tracing::info!(
            status = resp.status().as_u16(),
            elapsed_ms = start.elapsed().as_millis() as u64,
            "served"
        );
        resp
    }
    .instrument(span)
    .await
}

/// Small bodies (JSON, pkt-line negotiations) are read before routing. A handler that answers
/// early (401, 403) would otherwise leave them unread, and hyper would then drop the
/// keep-alive connection under a client that is already reusing it.
async fn buffer_small_body(req: Request) -> Request {
    const SMALL: u64 = 1 << 20;
    let len = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match len {
        Some(n) if n > 0 && n <= SMALL => {
            let (parts, body) = req.into_parts();
            match axum::body::to_bytes(body, SMALL as usize).await {
                Ok(bytes) => Request::from_parts(parts, axum::body::Body::from(bytes)),
                // The client went away mid-body: let the handler see an empty, failing body.
                Err(e) => Request::from_parts(
                    parts,
                    axum::body::Body::from_stream(futures_util::stream::once(async move {
                        Err::<bytes::Bytes, _>(e)
                    })),
                ),
            }
        }
        _ => req,
    }
}

/// Serve on `listener` until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    hub: Hub,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(hub))
        .with_graceful_shutdown(shutdown)
        .await
}
