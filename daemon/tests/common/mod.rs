//! In-process `TestApp` for HTTP-level tests without Python: the daemon's router over a hub in
//! a temporary directory (SQLite, local storage), with two ready users and their tokens.
//! Requests go through `tower::ServiceExt::oneshot`, so the whole middleware stack (request ids,
//! auth scope, error mapping) runs as in `kohaku serve`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use kohaku::accounts::{self, TokenRole, User};
use kohaku::config::{Config, Overrides};
use kohaku::Hub;
use tower::ServiceExt;

/// A ready user: its row, a write token and a read-only token.
pub struct Account {
    pub user: User,
    pub token: String,
    pub read_token: String,
}

/// The hub, its router, and two ordinary users `alice` and `bob` (no hub admin: permission
/// tests must not pass because someone may do everything).
pub struct TestApp {
    pub hub: Hub,
    pub dir: tempfile::TempDir,
    pub alice: Account,
    pub bob: Account,
}

/// What came back.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// A header as a string ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// Assert the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        self
    }
}

fn account(hub: &Hub, name: &str, admin: bool) -> Account {
    let email = format!("{name}@example.com");
    hub.db
        .call_sync(|c| {
            let user = accounts::create_user(c, name, &email, "correct-horse-battery", admin)?;
            let token = accounts::create_token(c, user.id, "write", TokenRole::Write)?;
            let read_token = accounts::create_token(c, user.id, "read", TokenRole::Read)?;
            Ok(Account {
                user,
                token,
                read_token,
            })
        })
        .expect("create test account")
}

impl TestApp {
    pub fn new() -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let ov = Overrides {
            config_file: None,
            values: vec![("data_dir", dir.path().display().to_string())],
        };
        // No process environment: a developer's KOHAKU_HUB_* must not leak into tests.
        let cfg = Config::load_from(&ov, |_| None).expect("config");
        let hub = Hub::open(cfg).expect("open hub");
        let alice = account(&hub, "alice", false);
        let bob = account(&hub, "bob", false);
        TestApp {
            hub,
            dir,
            alice,
            bob,
        }
    }

    /// Send any request through the whole application.
    pub async fn send(&self, req: Request<Body>) -> Resp {
        let resp = kohaku_daemon::app(self.hub.clone())
            .oneshot(req)
            .await
            .expect("infallible service");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    /// A request builder with the token as bearer (`None`: anonymous).
    pub fn request(method: &str, uri: &str, token: Option<&str>) -> axum::http::request::Builder {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        b
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> Resp {
        self.send(
            Self::request("GET", uri, token)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    pub async fn post(&self, uri: &str, token: Option<&str>, body: impl Into<Body>) -> Resp {
        self.send(Self::request("POST", uri, token).body(body.into()).unwrap())
            .await
    }

    pub async fn json(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        v: serde_json::Value,
    ) -> Resp {
        self.send(
            Self::request(method, uri, token)
                .header("content-type", "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
        )
        .await
    }

    /// Create a model repo `name` under the token's user (or `organization`).
    pub async fn create_repo(&self, token: &str, ns: &str, name: &str, private: bool) -> Resp {
        self.json(
            "POST",
            "/api/repos/create",
            Some(token),
            serde_json::json!({"name": name, "organization": ns, "private": private}),
        )
        .await
    }

    /// Commit NDJSON lines (after a header with `summary`) to a model repo's `rev`.
    pub async fn commit(
        &self,
        token: &str,
        repo: &str,
        rev: &str,
        summary: &str,
        lines: &[serde_json::Value],
    ) -> Resp {
        let mut body =
            serde_json::json!({"key": "header", "value": {"summary": summary}}).to_string() + "\n";
        for l in lines {
            body.push_str(&l.to_string());
            body.push('\n');
        }
        self.send(
            Self::request(
                "POST",
                &format!("/api/models/{repo}/commit/{rev}"),
                Some(token),
            )
            .header("content-type", "application/x-ndjson")
            .body(Body::from(body))
            .unwrap(),
        )
        .await
    }
}

/// An NDJSON `file` line with inline base64 content.
pub fn file(path: &str, content: &[u8]) -> serde_json::Value {
    use base64::Engine;
    serde_json::json!({"key": "file", "value": {
        "path": path,
        "content": base64::engine::general_purpose::STANDARD.encode(content),
        "encoding": "base64",
    }})
}
