//! Service-test harness: one async test body, run on SQLite and on PostgreSQL.
//!
//! `db_test!` turns `async fn name(t) { ... }` into a module `name` with two tests, `sqlite`
//! and `postgres`, each handing the body a ready [`TestHub`] (temp data dir, local storage).
//! PostgreSQL runs when `KOHAKU_TEST_PG_URL` names a server (scripts/test.sh sets it): every
//! test gets a schema of its own in that database (as the e2e suite does; everything kohaku
//! runs is schema-scoped, its advisory write lock included), dropped when the `TestHub` goes,
//! on panic too. `KOHAKU_TEST_PG_ISOLATION=database` gives each test a database of its own
//! instead (`CREATE DATABASE`, about a second more per test). Without the variable the
//! postgres variant says it was skipped and passes.
//!
//! Helpers that call core functions whose signatures are likely to move (commits, repo
//! creation) live here, so a change in `src/` means one edit, not fifty.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use kohaku::accounts::{self, Caller, TokenRole, User};
use kohaku::config::{Config, DatabaseTarget, Overrides};
use kohaku::db::{Conn, Db};
use kohaku::names::RepoType;
use kohaku::repos::{self, CreateRepo, Repo};
use kohaku::{Hub, Result};

/// A password every fixture user gets (passes the strength rule).
pub const PASSWORD: &str = "correct-horse-battery-staple";

/// Generate a `sqlite` and a `postgres` test from one async body taking a [`TestHub`].
macro_rules! db_test {
    ($(#[$meta:meta])* async fn $name:ident($t:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($t: crate::common::TestHub) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body(crate::common::TestHub::sqlite()).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match crate::common::TestHub::postgres(module_path!()) {
                    Some(t) => body(t).await,
                    None => eprintln!(
                        "{}: KOHAKU_TEST_PG_URL not set; PostgreSQL variant skipped",
                        module_path!()
                    ),
                }
            }
        }
    };
}

/// A fresh hub for one test, and what must be cleaned up after it.
pub struct TestHub {
    /// Dropped first: the pool's connections close before the database is dropped.
    pub hub: Hub,
    /// The temporary data directory (storage, SQLite file).
    pub dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
}

/// A database (or schema) created for one test on the `KOHAKU_TEST_PG_URL` server; dropped on
/// drop.
struct PgDatabase {
    admin_url: String,
    name: String,
    /// A schema in the `KOHAKU_TEST_PG_URL` database rather than a database of its own.
    schema: bool,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Must not panic (this also runs while a failed test unwinds).
        let target = DatabaseTarget::Postgres(self.admin_url.clone());
        let sql = if self.schema {
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)
        } else {
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)
        };
        let res = Db::open_with(&target, 1, false).and_then(|db| {
            db.call_sync(move |c| {
                c.execute_batch(&sql)?;
                Ok(())
            })
        });
        if let Err(e) = res {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// `url` selecting `schema` first on its search path (how the e2e suite isolates hubs).
fn with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}")
}

/// `url` with its database (the path) replaced by `db`, query kept.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let mut out = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn config(dir: &std::path::Path, database_url: Option<String>) -> Config {
    let mut values = vec![
        ("data_dir", dir.display().to_string()),
        ("database_pool_size", "4".to_string()),
    ];
    if let Some(u) = database_url {
        values.push(("database_url", u));
    }
    let ov = Overrides {
        config_file: None,
        values,
    };
    // No process environment: a developer's KOHAKU_HUB_* must not leak into tests.
    Config::load_from(&ov, |_| None).expect("test config")
}

impl TestHub {
    /// A hub on SQLite in a temporary directory.
    pub fn sqlite() -> TestHub {
        let dir = tempfile::tempdir().expect("tempdir");
        let hub = Hub::open(config(dir.path(), None)).expect("open sqlite hub");
        TestHub { hub, dir, pg: None }
    }

    /// A hub on a fresh PostgreSQL database, or `None` without `KOHAKU_TEST_PG_URL`.
    pub fn postgres(test: &str) -> Option<TestHub> {
        let base = std::env::var("KOHAKU_TEST_PG_URL").ok()?;
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let short: String = test
            .rsplit("::")
            .next()
            .unwrap_or("t")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(30)
            .collect::<String>()
            .to_ascii_lowercase();
        let name = format!("kt_{short}_{}", &tag[..10]);
        // A schema per test in the given database (what the e2e suite does), about ten times
        // cheaper to create than a database; `KOHAKU_TEST_PG_ISOLATION=database` for the latter.
        let schema = std::env::var("KOHAKU_TEST_PG_ISOLATION").map_or(true, |v| v != "database");
        let admin = Db::open_with(&DatabaseTarget::Postgres(base.clone()), 1, false)
            .expect("connect to KOHAKU_TEST_PG_URL");
        let create = if schema {
            format!("CREATE SCHEMA {name}")
        } else {
            format!("CREATE DATABASE {name}")
        };
        admin
            .call_sync(move |c| {
                c.execute_batch(&create)?;
                Ok(())
            })
            .expect("create the test database");
        drop(admin);
        let pg = PgDatabase {
            admin_url: base.clone(),
            name: name.clone(),
            schema,
        };
        let url = if schema {
            with_schema(&base, &name)
        } else {
            with_database(&base, &name)
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let hub = Hub::open(config(dir.path(), Some(url))).expect("open postgres hub");
        Some(TestHub {
            hub,
            dir,
            pg: Some(pg),
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// Run `f` on a connection (synchronously; fine in tests).
    pub fn db<T: Send>(&self, f: impl FnOnce(&mut Conn) -> Result<T> + Send) -> Result<T> {
        self.hub.db.call_sync(f)
    }

    /// A user with [`PASSWORD`], as the caller its own session would be (no token).
    pub fn user(&self, name: &str) -> Caller {
        self.user_with(name, false)
    }

    /// A hub admin.
    pub fn admin(&self, name: &str) -> Caller {
        self.user_with(name, true)
    }

    fn user_with(&self, name: &str, admin: bool) -> Caller {
        let email = format!("{name}@example.com");
        let user = self
            .db(|c| accounts::create_user(c, name, &email, PASSWORD, admin))
            .expect("create user");
        Caller { user, token: None }
    }

    /// The caller a new token of `user` resolves to, and the token.
    pub fn token_caller(&self, user: &User, role: TokenRole) -> (String, Caller) {
        let id = user.id;
        let token = self
            .db(|c| accounts::create_token(c, id, "test", role))
            .expect("create token");
        let t = token.clone();
        let caller = self
            .db(move |c| accounts::token_caller(c, &t))
            .expect("lookup token")
            .expect("token resolves");
        (token, caller)
    }

    /// An organization created by `creator` (its super-admin).
    pub fn org(&self, creator: &Caller, name: &str) -> User {
        let u = creator.user.clone();
        self.db(move |c| kohaku::orgs::create_org(c, &u, name, None, None))
            .expect("create org")
    }

    /// Create a model repo `ns/name` as `caller`.
    pub async fn try_repo(
        &self,
        caller: &Caller,
        id: &str,
        t: RepoType,
        private: bool,
    ) -> Result<Repo> {
        let (ns, name) = id.split_once('/').expect("ns/name");
        repos::create_repo(
            &self.hub,
            Some(caller),
            CreateRepo {
                repo_type: t,
                namespace: ns.into(),
                name: name.into(),
                private,
                sdk: None,
            },
        )
        .await
    }

    /// A public model repo.
    pub async fn repo(&self, caller: &Caller, id: &str) -> Repo {
        self.try_repo(caller, id, RepoType::Model, false)
            .await
            .expect("create repo")
    }

    /// A private model repo.
    pub async fn private_repo(&self, caller: &Caller, id: &str) -> Repo {
        self.try_repo(caller, id, RepoType::Model, true)
            .await
            .expect("create private repo")
    }

    /// The repo row as stored now.
    pub fn reload(&self, repo: &Repo) -> Repo {
        let id = repo.id;
        self.db(move |c| repos::repo_by_id(c, id))
            .expect("repo_by_id")
            .expect("repo exists")
    }

    /// Commit NDJSON `lines` (after the header) to `rev` through the core commit path the HTTP
    /// handler uses: parse, writable branch, create_commit.
    pub async fn try_commit(
        &self,
        caller: &Caller,
        repo: &Repo,
        rev: &str,
        summary: &str,
        lines: &[serde_json::Value],
    ) -> Result<String> {
        let header = serde_json::json!({ "summary": summary });
        self.try_commit_with(caller, repo, rev, header, lines).await
    }

    /// [`TestHub::try_commit`] with a whole header value (`parentCommit`, `description`).
    pub async fn try_commit_with(
        &self,
        caller: &Caller,
        repo: &Repo,
        rev: &str,
        header: serde_json::Value,
        lines: &[serde_json::Value],
    ) -> Result<String> {
        let mut body = serde_json::json!({"key": "header", "value": header}).to_string() + "\n";
        for l in lines {
            body.push_str(&l.to_string());
            body.push('\n');
        }
        let branch = kohaku::commits::writable_branch(&self.hub, repo, rev).await?;
        // What the handler checks before committing.
        let (r, c) = (repo.clone(), caller.clone());
        self.hub
            .db
            .call(move |conn| kohaku::perms::require_write(conn, &r, Some(&c)))
            .await?;
        let req = kohaku::commits::parse_commit(&self.hub, repo.id, body.as_bytes()).await?;
        kohaku::commits::create_commit(&self.hub, caller, repo, &branch, req).await
    }

    /// Commit, expecting success; returns the commit id.
    pub async fn commit(
        &self,
        caller: &Caller,
        repo: &Repo,
        summary: &str,
        lines: &[serde_json::Value],
    ) -> String {
        self.try_commit(caller, repo, "main", summary, lines)
            .await
            .expect("commit")
    }

    /// Paths of the files (not directories) at `rev`, sorted.
    pub async fn files(&self, repo: &Repo, rev: &str) -> Vec<String> {
        let commit = repos::refs::resolve(&self.hub, repo, rev)
            .await
            .expect("resolve")
            .commit;
        let tree = self
            .hub
            .objects
            .commit(repo.id, &commit)
            .await
            .expect("commit object")
            .tree
            .clone();
        let mut paths = kohaku::files::all_file_paths(&self.hub, repo.id, &tree)
            .await
            .expect("file paths");
        paths.sort();
        paths
    }

    /// The bytes of `path` at `rev` (regular files).
    pub async fn read(&self, repo: &Repo, rev: &str, path: &str) -> Option<Vec<u8>> {
        let commit = repos::refs::resolve(&self.hub, repo, rev)
            .await
            .ok()?
            .commit;
        let tree = self
            .hub
            .objects
            .commit(repo.id, &commit)
            .await
            .ok()?
            .tree
            .clone();
        let e = self
            .hub
            .objects
            .entry_at(repo.id, &tree, path)
            .await
            .ok()??;
        self.hub.objects.blob(repo.id, &e.oid).await.ok()
    }

    /// Upload an LFS object as `user_id` (verified, possession recorded); returns its oid.
    pub async fn upload_lfs(&self, user_id: i64, bytes: &[u8]) -> String {
        use sha2::Digest;
        let oid = hex::encode(sha2::Sha256::digest(bytes));
        kohaku::lfs::receive_object(&self.hub, &oid, bytes.len() as u64, user_id, bytes)
            .await
            .expect("receive LFS object");
        oid
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

/// An NDJSON `lfsFile` line.
pub fn lfs_file(path: &str, oid: &str, size: u64) -> serde_json::Value {
    serde_json::json!({"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}})
}

/// An NDJSON `deletedFile` line.
pub fn deleted_file(path: &str) -> serde_json::Value {
    serde_json::json!({"key": "deletedFile", "value": {"path": path}})
}

/// An NDJSON `deletedFolder` line.
pub fn deleted_folder(path: &str) -> serde_json::Value {
    serde_json::json!({"key": "deletedFolder", "value": {"path": path}})
}

/// An NDJSON `copyFile` line.
pub fn copy_file(src: &str, dst: &str) -> serde_json::Value {
    serde_json::json!({"key": "copyFile", "value": {"srcPath": src, "path": dst}})
}
