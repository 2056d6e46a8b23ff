//! In-process tests of the router (tier 1): temp SQLite, temp storage, requests via `oneshot`.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;

#[tokio::test]
async fn errors_carry_hf_headers_and_request_id() {
    let app = TestApp::new();
    let r = app.get("/api/models/alice/nope", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.headers["x-error-code"], "RepoNotFound");
    assert!(r.headers.contains_key("x-error-message"));
    assert!(r.headers.contains_key("x-request-id"));
    assert!(r.json()["error"].is_string());
    // The client's trace id is reused as the request id.
    let req = Request::get("/health")
        .header("x-amzn-trace-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.headers["x-request-id"], "abc-123");
}

#[tokio::test]
async fn create_commit_resolve_roundtrip() {
    let app = TestApp::new();
    let token = app.alice.token.clone();
    let create = r#"{"name":"m","organization":"alice"}"#;
    let r = app.post("/api/repos/create", Some(&token), create).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app.post("/api/repos/create", Some(&token), create).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.json()["url"],
        format!("{}/alice/m", app.hub.config.base_url)
    );

    let ndjson = "{\"key\":\"header\",\"value\":{\"summary\":\"add\"}}\n{\"key\":\"file\",\"value\":{\"path\":\"dir/a b.txt\",\"content\":\"aGVsbG8=\",\"encoding\":\"base64\"}}\n";
    let r = app
        .post("/api/models/alice/m/commit/main", Some(&token), ndjson)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let oid = r.json()["commitOid"].as_str().unwrap().to_string();

    let r = app.get("/alice/m/resolve/main/dir/a%20b.txt", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, b"hello");
    assert_eq!(r.headers["x-repo-commit"], oid.as_str());
    // git hash-object of "hello"
    assert_eq!(
        r.headers["etag"],
        "\"b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0\""
    );

    // Encoded slashes stay inside their segment.
    let r = app
        .get("/api/models/alice/m/tree/refs%2Fheads%2Fmain/dir", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()[0]["path"], "dir/a b.txt");
}
