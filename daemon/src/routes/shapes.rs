//! JSON shapes of the HF API, and loading a repo with the access a route needs.

use kohaku::accounts::Caller;
use kohaku::files::FileEntry;
use kohaku::history::CommitItem;
use kohaku::perms::{self, Access};
use kohaku::repos::{self, Repo};
use kohaku::{Hub, Result};
use serde_json::{json, Value};

use super::RepoRef;

/// Load a repo (following a move) and check the caller's access.
pub async fn load_repo(
    hub: &Hub,
    caller: Option<&Caller>,
    id: &RepoRef,
    need: Access,
) -> Result<(Repo, Access)> {
    let (t, ns, name) = id.clone();
    let caller = caller.cloned();
    hub.db
        .call(move |c| {
            let repo = repos::get_repo(c, t, &ns, &name)?;
            let access = match need {
                Access::None | Access::Read => perms::require_read(c, &repo, caller.as_ref())?,
                Access::Write => {
                    perms::require_write(c, &repo, caller.as_ref())?;
                    Access::Write
                }
                Access::Admin => {
                    perms::require_admin(c, &repo, caller.as_ref())?;
                    Access::Admin
                }
            };
            Ok((repo, access))
        })
        .await
}

pub fn lfs_json(e: &FileEntry) -> Option<Value> {
    e.lfs
        .as_ref()
        .map(|p| json!({"oid": p.oid, "size": p.size, "pointerSize": e.pointer_size}))
}

pub fn commit_brief(c: &CommitItem) -> Value {
    json!({"id": c.id, "title": c.commit.title(), "date": c.commit.committer.iso_time()})
}

/// A tree / paths-info entry.
pub fn entry_json(e: &FileEntry, last: Option<&CommitItem>) -> Value {
    let mut v = if e.is_dir {
        json!({"type": "directory", "path": e.path, "oid": e.oid, "size": 0})
    } else {
        let mut v = json!({"type": "file", "path": e.path, "oid": e.oid, "size": e.size});
        if let Some(l) = lfs_json(e) {
            v["lfs"] = l;
        }
        if let Some(x) = &e.xet_hash {
            v["xetHash"] = json!(x);
        }
        v
    };
    if let Some(c) = last {
        v["lastCommit"] = commit_brief(c);
    }
    v
}

/// A commit in a `commits` listing.
pub fn commit_json(c: &CommitItem) -> Value {
    let msg = c.commit.message.trim_end();
    json!({
        "id": c.id,
        "authors": [{"user": c.commit.author.name}],
        "date": c.commit.committer.iso_time(),
        "title": c.commit.title(),
        "message": msg,
    })
}

/// Fields every repo representation shares.
pub fn repo_base(repo: &Repo, sha: Option<&str>, last_modified: &str) -> Value {
    let id = repo.full_id();
    let mut v = json!({
        "_id": format!("{:024x}", repo.id),
        "id": id,
        "author": repo.namespace,
        "sha": sha,
        "lastModified": last_modified,
        "createdAt": repo.created_at,
        "private": repo.private,
        "gated": repo.gated.clone().map(Value::String).unwrap_or(Value::Bool(false)),
        "disabled": false,
        "downloads": repo.downloads,
        "likes": repo.likes,
        "type": repo.repo_type.as_str(),
    });
    if repo.repo_type == kohaku::names::RepoType::Model {
        v["modelId"] = Value::String(id);
    }
    v
}
