//! HTTP-level tests on the in-process `TestApp`: status codes, HF error headers and response
//! shapes the clients read.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{file, TestApp};
use serde_json::json;

#[tokio::test]
async fn whoami_needs_a_valid_token() {
    let app = TestApp::new();
    let r = app
        .get("/api/whoami-v2", Some(&app.alice.token))
        .await
        .expect(200);
    let v = r.json();
    assert_eq!(v["name"], "alice");
    assert_eq!(v["type"], "user");
    assert_eq!(v["isAdmin"], false);
    assert_eq!(v["auth"]["accessToken"]["role"], "write");
    let v = app
        .get("/api/whoami-v2", Some(&app.bob.read_token))
        .await
        .expect(200)
        .json();
    assert_eq!(v["name"], "bob");
    assert_eq!(v["auth"]["accessToken"]["role"], "read");
    let r = app.get("/api/whoami-v2", None).await.expect(401);
    assert_eq!(r.header("x-error-code"), "Unauthorized");
    let r = app
        .get("/api/whoami-v2", Some("hf_not_a_real_token"))
        .await
        .expect(401);
    assert!(!r.header("x-error-message").is_empty());
}

#[tokio::test]
async fn bad_input_is_400_with_error_headers() {
    let app = TestApp::new();
    let t = app.alice.token.clone();
    let r = app
        .post("/api/repos/create", Some(&t), "{not json")
        .await
        .expect(400);
    assert_eq!(r.header("x-error-code"), "BadRequest");
    assert!(!r.header("x-error-message").is_empty());
    assert_eq!(r.json()["error"], r.header("x-error-message"));
    let r = app
        .create_repo(&t, "alice", "bad name!", false)
        .await
        .expect(400);
    assert!(
        r.header("x-error-message")
            .contains("Invalid repository name"),
        "{}",
        r.text()
    );
    app.create_repo(&t, "alice", "m", false).await.expect(200);
    // A broken NDJSON line names its line.
    let r = app
        .post(
            "/api/models/alice/m/commit/main",
            Some(&t),
            "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\nnot json\n",
        )
        .await
        .expect(400);
    assert!(
        r.header("x-error-message").contains("line 2"),
        "{}",
        r.text()
    );
    // Nothing was committed.
    let v = app
        .get("/api/models/alice/m", None)
        .await
        .expect(200)
        .json();
    assert_eq!(v["siblings"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn private_repos_are_404_to_strangers() {
    let app = TestApp::new();
    let (a, b) = (app.alice.token.clone(), app.bob.token.clone());
    app.create_repo(&a, "alice", "secret", true)
        .await
        .expect(200);
    app.commit(&a, "alice/secret", "main", "add", &[file("x.txt", b"x")])
        .await
        .expect(200);
    let v = app
        .get("/api/models/alice/secret", Some(&a))
        .await
        .expect(200)
        .json();
    assert_eq!(v["private"], true);
    // Bob and anonymous callers see exactly what an unknown repo looks like.
    for (uri, token) in [
        ("/api/models/alice/secret", Some(b.as_str())),
        ("/api/models/alice/secret", None),
        ("/api/models/alice/secret/tree/main", Some(b.as_str())),
        ("/alice/secret/resolve/main/x.txt", Some(b.as_str())),
        ("/api/models/alice/no-such-repo", Some(b.as_str())),
    ] {
        let r = app.get(uri, token).await.expect(404);
        assert_eq!(r.header("x-error-code"), "RepoNotFound", "{uri}");
    }
    // Even a write attempt is "not found" for bob.
    let r = app
        .commit(&b, "alice/secret", "main", "x", &[file("y", b"y")])
        .await
        .expect(404);
    assert_eq!(r.header("x-error-code"), "RepoNotFound");
}

#[tokio::test]
async fn writes_need_write_access() {
    let app = TestApp::new();
    let a = app.alice.token.clone();
    app.create_repo(&a, "alice", "m", false).await.expect(200);
    let r = app
        .commit(&app.bob.token, "alice/m", "main", "x", &[file("y", b"y")])
        .await
        .expect(403);
    assert_eq!(r.header("x-error-code"), "Forbidden");
    app.commit(
        &app.alice.read_token,
        "alice/m",
        "main",
        "x",
        &[file("y", b"y")],
    )
    .await
    .expect(403);
    let r = app
        .post(
            "/api/models/alice/m/commit/main",
            None,
            "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n",
        )
        .await
        .expect(401);
    assert_eq!(r.header("x-error-code"), "Unauthorized");
    // Bob cannot create in alice's namespace either.
    app.create_repo(&app.bob.token, "alice", "other", false)
        .await
        .expect(403);
}

#[tokio::test]
async fn create_conflict_url_follows_the_host() {
    let app = TestApp::new();
    let a = app.alice.token.clone();
    let v = app
        .create_repo(&a, "alice", "m", false)
        .await
        .expect(200)
        .json();
    assert_eq!(v["id"], "alice/m");
    let req = TestApp::request("POST", "/api/repos/create", Some(&a))
        .header("host", "hub.example:8080")
        .body(Body::from(r#"{"name":"M","organization":"ALICE"}"#))
        .unwrap();
    let r = app.send(req).await.expect(409);
    assert_eq!(r.header("x-error-code"), "RepoExists");
    assert_eq!(r.json()["url"], "http://hub.example:8080/alice/m");
}

#[tokio::test]
async fn commit_then_tree_listing() {
    let app = TestApp::new();
    let a = app.alice.token.clone();
    app.create_repo(&a, "alice", "m", false).await.expect(200);
    let v = app
        .commit(
            &a,
            "alice/m",
            "main",
            "add",
            &[file("top.txt", b"12345"), file("d/e/deep.txt", b"abc")],
        )
        .await
        .expect(200)
        .json();
    assert!(v["commitOid"].as_str().unwrap().len() == 40);
    assert!(v["commitUrl"].as_str().unwrap().contains("alice/m"), "{v}");
    let root = app
        .get("/api/models/alice/m/tree/main", None)
        .await
        .expect(200)
        .json();
    let entries: Vec<(String, String)> = root
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        entries.contains(&("file".into(), "top.txt".into())),
        "{root}"
    );
    assert!(
        entries.contains(&("directory".into(), "d".into())),
        "{root}"
    );
    assert!(!entries.iter().any(|(_, p)| p == "d/e/deep.txt"));
    let all = app
        .get("/api/models/alice/m/tree/main?recursive=true", None)
        .await
        .expect(200)
        .json();
    let deep = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "d/e/deep.txt")
        .unwrap_or_else(|| panic!("{all}"));
    assert_eq!(deep["size"], 3);
    let top = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "top.txt")
        .unwrap();
    assert_eq!(top["size"], 5);
    let r = app
        .get("/api/models/alice/m/tree/main/no/such/dir", None)
        .await
        .expect(404);
    assert_eq!(r.header("x-error-code"), "EntryNotFound");
}

#[tokio::test]
async fn revision_info_names_the_commit() {
    let app = TestApp::new();
    let a = app.alice.token.clone();
    app.create_repo(&a, "alice", "m", false).await.expect(200);
    let oid = app
        .commit(&a, "alice/m", "main", "add", &[file("a.txt", b"a")])
        .await
        .expect(200)
        .json()["commitOid"]
        .as_str()
        .unwrap()
        .to_string();
    for rev in ["main", "HEAD", &oid[..7], &oid] {
        let v = app
            .get(&format!("/api/models/alice/m/revision/{rev}"), None)
            .await
            .expect(200)
            .json();
        assert_eq!(v["sha"], oid.as_str(), "{rev}");
        assert_eq!(v["id"], "alice/m");
        let names: Vec<&str> = v["siblings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["rfilename"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"a.txt") && names.contains(&".gitattributes"),
            "{v}"
        );
    }
    let r = app
        .get("/api/models/alice/m/revision/nope", None)
        .await
        .expect(404);
    assert_eq!(r.header("x-error-code"), "RevisionNotFound");
    // Case-insensitive ids answer with the stored spelling.
    let v = app
        .get("/api/models/ALICE/M", None)
        .await
        .expect(200)
        .json();
    assert_eq!(v["id"], "alice/m");
}

#[tokio::test]
async fn unknown_routes_are_plain_404s() {
    let app = TestApp::new();
    for uri in [
        "/api/nope",
        "/api/nope/deeper",
        "/org/alice/nothing/here",
        "/single",
    ] {
        let r = app.get(uri, Some(&app.alice.token)).await.expect(404);
        assert_eq!(r.header("x-error-code"), "", "{uri} must carry no HF code");
        assert!(!r.header("x-request-id").is_empty());
    }
    // Under a repo the caller can read, an unknown route is a plain 404 too...
    app.create_repo(&app.alice.token, "alice", "m", false)
        .await
        .expect(200);
    let r = app
        .get("/api/models/alice/m/nonsense", None)
        .await
        .expect(404);
    assert_eq!(r.header("x-error-code"), "");
    // ...but under an unknown repo it is RepoNotFound, as `repo_exists()` expects.
    let r = app
        .get("/api/models/alice/zz/nonsense", None)
        .await
        .expect(404);
    assert_eq!(r.header("x-error-code"), "RepoNotFound");
    let r = app.get("/api/models/gpt2", None).await.expect(404);
    assert_eq!(r.header("x-error-code"), "RepoNotFound");
}

#[tokio::test]
async fn move_redirects_and_delete_forgets() {
    let app = TestApp::new();
    let a = app.alice.token.clone();
    app.create_repo(&a, "alice", "old", false).await.expect(200);
    app.commit(&a, "alice/old", "main", "add", &[file("f.txt", b"content")])
        .await
        .expect(200);
    app.json(
        "POST",
        "/api/repos/move",
        Some(&a),
        json!({"fromRepo": "alice/old", "toRepo": "alice/new", "type": "model"}),
    )
    .await
    .expect(200);
    let r = app
        .get("/alice/old/resolve/main/f.txt", None)
        .await
        .expect(307);
    assert!(
        r.header("location").contains("/alice/new/"),
        "{}",
        r.header("location")
    );
    app.get("/alice/new/resolve/main/f.txt", None)
        .await
        .expect(200);
    // Bob cannot delete it; alice can, and then it is gone (the redirect too).
    app.json(
        "DELETE",
        "/api/repos/delete",
        Some(&app.bob.token),
        json!({"name": "new", "organization": "alice", "type": "model"}),
    )
    .await
    .expect(403);
    app.json(
        "DELETE",
        "/api/repos/delete",
        Some(&a),
        json!({"name": "new", "organization": "alice", "type": "model"}),
    )
    .await
    .expect(200);
    app.get("/api/models/alice/new", None).await.expect(404);
    app.get("/alice/old/resolve/main/f.txt", None)
        .await
        .expect(404);
}

#[tokio::test]
async fn resolve_ranges_and_conditional_gets() {
    let app = TestApp::new();
    let a = app.alice.token.clone();
    app.create_repo(&a, "alice", "m", false).await.expect(200);
    app.commit(
        &a,
        "alice/m",
        "main",
        "add",
        &[file("f.txt", b"0123456789")],
    )
    .await
    .expect(200);
    let full = app
        .get("/alice/m/resolve/main/f.txt", None)
        .await
        .expect(200);
    assert_eq!(full.header("content-length"), "10");
    let etag = full.header("etag").to_string();
    let req = Request::get("/alice/m/resolve/main/f.txt")
        .header("range", "bytes=2-5")
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await.expect(206);
    assert_eq!(r.body, b"2345");
    let req = Request::get("/alice/m/resolve/main/f.txt")
        .header("range", "bytes=50-60")
        .body(Body::empty())
        .unwrap();
    app.send(req).await.expect(416);
    let req = Request::get("/alice/m/resolve/main/f.txt")
        .header("if-none-match", etag.as_str())
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await.expect(304);
    assert!(r.body.is_empty());
    let r = app
        .get("/alice/m/resolve/main/missing.txt", None)
        .await
        .expect(404);
    assert_eq!(r.header("x-error-code"), "EntryNotFound");
}
