//! Branch and tag management, and super-squash.

use super::apply::signature_for;
use crate::accounts::Caller;
use crate::db::{write_tx, Conn};
use crate::error::{Error, Result};
use crate::git::commit::{check_no_nul, compose_message};
use crate::git::{Commit, Kind, Tag};
use crate::hub::Hub;
use crate::names::validate_ref_name;
use crate::repos::refs::{self, branch_ref, cas_ref, get_ref, tag_ref, MAIN};
use crate::repos::{touch, Repo};

/// Create `refs/heads/{name}` at `starting_point` (default: main's head).
pub async fn create_branch(
    hub: &Hub,
    repo: &Repo,
    name: &str,
    starting_point: Option<&str>,
) -> Result<String> {
    validate_ref_name(name)?;
    let start = refs::resolve(hub, repo, starting_point.unwrap_or("main"))
        .await?
        .commit;
    let (id, r, s) = (repo.id, branch_ref(name), start.clone());
    let created = hub.db.call(move |c| create_ref(c, id, &r, &s)).await?;
    if !created {
        return Err(Error::Conflict {
            message: format!("Reference refs/heads/{name} already exists"),
            url: None,
        });
    }
    Ok(start)
}

/// Create a branch or tag ref in a write transaction, so that its directory/file conflict check
/// ([`cas_ref`]) cannot race another process creating `a` while this creates `a/b`.
/// `false` when the ref exists already.
fn create_ref(conn: &mut Conn, repo_id: i64, name: &str, target: &str) -> Result<bool> {
    let tx = write_tx(conn)?;
    if !cas_ref(&tx, repo_id, name, None, Some(target))? {
        return Ok(false);
    }
    touch(&tx, repo_id)?;
    tx.commit()?;
    Ok(true)
}

pub async fn delete_branch(hub: &Hub, repo: &Repo, name: &str) -> Result<()> {
    let full = if name.starts_with("refs/") {
        name.to_string()
    } else {
        branch_ref(name)
    };
    if full == MAIN {
        return Err(Error::Forbidden(
            "Cannot delete refs/heads/main: it is the default branch".into(),
        ));
    }
    if !full.starts_with("refs/heads/") {
        return Err(Error::revision_not_found(name));
    }
    let id = repo.id;
    let deleted = hub
        .db
        .call(move |c| {
            let Some(cur) = get_ref(c, id, &full)? else {
                return Ok(false);
            };
            let ok = cas_ref(c, id, &full, Some(&cur), None)?;
            touch(c, id)?;
            Ok(ok)
        })
        .await?;
    if !deleted {
        return Err(Error::revision_not_found(name));
    }
    Ok(())
}

/// Tag `revision`; with a message the tag is an annotated tag object. The revision is
/// checked first (an unknown one is `RevisionNotFound` whatever the tag), then the tag name
/// (`None`: the request named none).
pub async fn create_tag(
    hub: &Hub,
    caller: &Caller,
    repo: &Repo,
    revision: &str,
    tag: Option<&str>,
    message: Option<&str>,
) -> Result<(String, String)> {
    let commit = refs::resolve(hub, repo, revision).await?.commit;
    let tag = tag.ok_or_else(|| {
        Error::bad_request("The tag name is required in the body: {\"tag\": ...}")
    })?;
    validate_ref_name(tag)?;
    if let Some(m) = message {
        check_no_nul(m.as_bytes(), "The tag message")?;
    }
    let target = match message.filter(|m| !m.trim().is_empty()) {
        Some(msg) => {
            let t = Tag {
                object: commit.clone(),
                kind: "commit".into(),
                name: tag.to_string(),
                tagger: signature_for(caller),
                message: compose_message(msg, ""),
            };
            hub.objects
                .write(repo.id, Kind::Tag, &t.serialize())
                .await?
        }
        None => commit.clone(),
    };
    let (id, r) = (repo.id, tag_ref(tag));
    let created = hub.db.call(move |c| create_ref(c, id, &r, &target)).await?;
    if !created {
        return Err(Error::Conflict {
            message: format!("Tag '{tag}' already exists (refs/tags/{tag})"),
            url: None,
        });
    }
    Ok((tag.to_string(), commit))
}

pub async fn delete_tag(hub: &Hub, repo: &Repo, tag: &str) -> Result<()> {
    let full = if tag.starts_with("refs/tags/") {
        tag.to_string()
    } else {
        tag_ref(tag)
    };
    let id = repo.id;
    let deleted = hub
        .db
        .call(move |c| {
            let Some(cur) = get_ref(c, id, &full)? else {
                return Ok(false);
            };
            let ok = cas_ref(c, id, &full, Some(&cur), None)?;
            touch(c, id)?;
            Ok(ok)
        })
        .await?;
    if !deleted {
        return Err(Error::revision_not_found(tag));
    }
    Ok(())
}

/// Replace a branch's history by one root commit holding its current tree.
pub async fn super_squash(
    hub: &Hub,
    caller: &Caller,
    repo: &Repo,
    branch: &str,
    message: &str,
) -> Result<String> {
    check_no_nul(message.as_bytes(), "The commit message")?;
    let full = super::apply::writable_branch(hub, repo, branch).await?;
    let (id, f) = (repo.id, full.clone());
    let head = hub
        .db
        .call(move |c| get_ref(c, id, &f))
        .await?
        .ok_or_else(|| Error::revision_not_found(branch))?;
    let tree = hub.objects.commit(repo.id, &head).await?.tree.clone();
    let sig = signature_for(caller);
    let commit = Commit {
        tree,
        parents: vec![],
        author: sig.clone(),
        committer: sig,
        message: compose_message(message, ""),
    };
    let new_id = hub.objects.write_commit(repo.id, &commit).await?;
    let (id, f, n) = (repo.id, full, new_id.clone());
    let moved = hub
        .db
        .call(move |c| {
            let ok = cas_ref(c, id, &f, Some(&head), Some(&n))?;
            if ok {
                touch(c, id)?;
            }
            Ok(ok)
        })
        .await?;
    if !moved {
        return Err(Error::Conflict {
            message: "The branch moved while squashing; try again".into(),
            url: None,
        });
    }
    Ok(new_id)
}
