//! In-process tests of the router (tier 1): temp SQLite, temp storage, requests via `oneshot`.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kohaku::config::{Config, Overrides};
use kohaku::Hub;
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    hub: Hub,
    token: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ov = Overrides {
        config_file: None,
        values: vec![("data_dir", dir.path().display().to_string())],
    };
    let cfg = Config::load_from(&ov, |_| None).unwrap();
    let hub = Hub::open(cfg).unwrap();
    let token = hub
        .db
        .call_sync(|c| {
            let u = kohaku::accounts::create_user(
                c,
                "alice",
                "a@example.com",
                "a-good-password",
                false,
            )?;
            kohaku::accounts::create_token(c, u.id, "t", kohaku::accounts::TokenRole::Write)
        })
        .unwrap();
    Fixture {
        _dir: dir,
        hub,
        token,
    }
}

async fn send(f: &Fixture, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = kohaku_daemon::app(f.hub.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn authed(f: &Fixture, method: &str, uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {}", f.token))
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn errors_carry_hf_headers_and_request_id() {
    let f = fixture();
    let (status, h, body) = send(
        &f,
        Request::get("/api/models/alice/nope")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(h["x-error-code"], "RepoNotFound");
    assert!(h.contains_key("x-error-message"));
    assert!(h.contains_key("x-request-id"));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(v["error"].is_string());
    // The client's trace id is reused as the request id.
    let req = Request::get("/health")
        .header("x-amzn-trace-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let (_, h, _) = send(&f, req).await;
    assert_eq!(h["x-request-id"], "abc-123");
}

#[tokio::test]
async fn create_commit_resolve_roundtrip() {
    let f = fixture();
    let (s, _, body) = send(
        &f,
        authed(
            &f,
            "POST",
            "/api/repos/create",
            r#"{"name":"m","organization":"alice"}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (s, _, body) = send(
        &f,
        authed(
            &f,
            "POST",
            "/api/repos/create",
            r#"{"name":"m","organization":"alice"}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["url"], format!("{}/alice/m", f.hub.config.base_url));

    let ndjson = "{\"key\":\"header\",\"value\":{\"summary\":\"add\"}}\n{\"key\":\"file\",\"value\":{\"path\":\"dir/a b.txt\",\"content\":\"aGVsbG8=\",\"encoding\":\"base64\"}}\n";
    let (s, _, body) = send(
        &f,
        authed(&f, "POST", "/api/models/alice/m/commit/main", ndjson),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let oid = v["commitOid"].as_str().unwrap().to_string();

    let (s, h, body) = send(
        &f,
        Request::get("/alice/m/resolve/main/dir/a%20b.txt")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, b"hello");
    assert_eq!(h["x-repo-commit"], oid.as_str());
    // git hash-object of "hello"
    assert_eq!(h["etag"], "\"b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0\"");

    // Encoded slashes stay inside their segment.
    let (s, _, body) = send(
        &f,
        Request::get("/api/models/alice/m/tree/refs%2Fheads%2Fmain/dir")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v[0]["path"], "dir/a b.txt");
}
