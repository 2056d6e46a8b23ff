//! Creating, deleting, moving and re-configuring repositories.

use crate::params;

use super::refs::MAIN;
use super::{find_repo, get_repo, Lookup, Repo};
use crate::accounts::Caller;
use crate::commits::pipeline::{self, RefMove, Source};
use crate::db::{is_unique_violation, now_str, OptionalExtension};
use crate::error::{Error, Result};
use crate::git::commit::compose_message;
use crate::git::tree::{TreeEntry, MODE_FILE};
use crate::git::{Commit, Kind, Signature};
use crate::hub::Hub;
use crate::names::{self, RepoType};
use crate::perms;

/// What `POST /api/repos/create` asks for.
#[derive(Debug, Clone)]
pub struct CreateRepo {
    pub repo_type: RepoType,
    pub namespace: String,
    pub name: String,
    pub private: bool,
    /// A Space's SDK (`gradio`, `streamlit`, `docker`, `static`); ignored for other types.
    pub sdk: Option<String>,
}

/// The `README.md` a new Space starts with, as huggingface.co writes it: the card metadata a
/// Space is configured by.
pub fn space_readme(name: &str, sdk: Option<&str>) -> String {
    let mut meta = format!("title: {name}\nemoji: \u{1f680}\ncolorFrom: blue\ncolorTo: purple\n");
    if let Some(sdk) = sdk {
        meta.push_str(&format!("sdk: {sdk}\n"));
        if matches!(sdk, "gradio" | "streamlit") {
            meta.push_str("app_file: app.py\n");
        }
    }
    meta.push_str("pinned: false\n");
    format!(
        "---\n{meta}---\n\nCheck out the configuration reference at \
         https://huggingface.co/docs/hub/spaces-config-reference\n"
    )
}

/// The `.gitattributes` a new repo starts with: the LFS suffixes routed through LFS.
pub fn initial_gitattributes(suffixes: &[String]) -> String {
    let mut s = String::new();
    for suf in suffixes {
        s.push_str(&format!("*{suf} filter=lfs diff=lfs merge=lfs -text\n"));
    }
    s
}

/// Create a repository with its initial commit (`.gitattributes`, author `system`).
///
/// The namespace is matched ignoring case and the repo takes its exact spelling; an id that
/// differs from an existing one only in case (or in `-`/`_`) is a conflict, as on
/// huggingface.co.
pub async fn create_repo(hub: &Hub, caller: Option<&Caller>, req: CreateRepo) -> Result<Repo> {
    names::validate_namespace(&req.namespace)?;
    names::validate_repo_name(&req.name)?;
    if let Some(sdk) = req
        .sdk
        .as_deref()
        .filter(|_| req.repo_type == RepoType::Space)
    {
        if !crate::card::SPACE_SDKS.contains(&sdk) {
            return Err(Error::bad_request(format!(
                "Invalid sdk '{sdk}': use one of {}",
                crate::card::SPACE_SDKS.join(", ")
            )));
        }
    }
    let repo = insert_row(hub, caller, &req, None).await?;
    let readme =
        (repo.repo_type == RepoType::Space).then(|| space_readme(&repo.name, req.sdk.as_deref()));
    let done = initialise(hub, &repo, readme.as_deref()).await;
    undo_if_failed(hub, &repo, done).await.map(|()| repo)
}

/// The row of a new repository, without any ref yet. The namespace is matched ignoring case
/// and takes its exact spelling; the caller must be allowed to create there; another spelling
/// of an existing id is a conflict. With `quota_bytes`, the namespace's quota (for the new
/// repo's visibility) must take that much more first.
pub(super) async fn insert_row(
    hub: &Hub,
    caller: Option<&Caller>,
    req: &CreateRepo,
    quota_bytes: Option<u64>,
) -> Result<Repo> {
    let caller_owned = caller.cloned();
    // The URL the client reads back on 409 (`exist_ok`): the one it reached the hub by.
    let base_url = hub.base_url().to_string();
    let mut r = req.clone();
    hub.db
        .call(move |c| {
            let owner = super::canonical_namespace(c, &r.namespace)?;
            if let Some((_, exact)) = &owner {
                r.namespace = exact.clone();
            }
            perms::require_create_in(c, &r.namespace, caller_owned.as_ref())?;
            let Some((owner_id, _)) = owner else {
                return Err(Error::bad_request(format!("Namespace '{}' does not exist", r.namespace)));
            };
            let t = r.repo_type;
            let conflict = |ns: &str, name: &str| Error::Conflict {
                message: format!("You already created this {} repo", t.as_str()),
                url: Some(format!("{base_url}/{}{ns}/{name}", t.url_prefix())),
            };
            if let Lookup::Found(existing) = find_repo(c, r.repo_type, &r.namespace, &r.name)? {
                return Err(conflict(&existing.namespace, &existing.name));
            }
            if let Some(bytes) = quota_bytes {
                crate::quota::check(c, None, &r.namespace, r.private, bytes)?;
            }
            let res = c.execute(
                "INSERT INTO repos (repo_type, namespace, name, normalized_name, owner_id, private, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![r.repo_type.as_str(), r.namespace, r.name, names::normalize(&r.name), owner_id, r.private, now_str()],
            );
            match res {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    // Another spelling (`-` for `_`) of an existing name: point at that one.
                    let existing: Option<(String, String)> = c
                        .query_row(
                            "SELECT namespace, name FROM repos WHERE repo_type = ?1 AND namespace = ?2 AND normalized_name = ?3",
                            params![r.repo_type.as_str(), r.namespace, names::normalize(&r.name)],
                            |row| Ok((row.get(0)?, row.get(1)?)),
                        )
                        .optional()?;
                    return Err(match existing {
                        Some((ns, name)) => conflict(&ns, &name),
                        None => conflict(&r.namespace, &r.name),
                    });
                }
                Err(e) => return Err(e.into()),
            }
            get_repo(c, r.repo_type, &r.namespace, &r.name)
        })
        .await
}

/// Nothing stays half created (a row without `main` would answer 409 to the retry, after a
/// full disk for instance): when `done` failed, the row goes as a deleted repo's does, and GC
/// takes whatever objects were written.
pub(super) async fn undo_if_failed(hub: &Hub, repo: &Repo, done: Result<()>) -> Result<()> {
    let Err(e) = done else {
        return Ok(());
    };
    let (id, label) = (repo.id, deleted_label(repo));
    let undo = hub
        .db
        .call(move |c| {
            let tx = crate::db::write_tx(c)?;
            forget_repo(&tx, id, &label)?;
            tx.commit()?;
            Ok(())
        })
        .await;
    if let Err(undo) = undo {
        tracing::error!(repo = %repo.full_id(), error = %undo, "could not undo a failed repo creation");
    }
    Err(e)
}

/// The initial commit of a new repo and its `main` (`.gitattributes`, and a Space's
/// `README.md`). A moved repo's old name is free again once something new takes it, so its
/// redirect goes in the same transaction.
async fn initialise(hub: &Hub, repo: &Repo, readme: Option<&str>) -> Result<()> {
    let attrs = initial_gitattributes(&hub.config.lfs_suffix_rules);
    let blob = hub
        .objects
        .write(repo.id, Kind::Blob, attrs.as_bytes())
        .await?;
    let mut entries = vec![TreeEntry {
        mode: MODE_FILE.into(),
        name: ".gitattributes".into(),
        oid: blob,
    }];
    if let Some(text) = readme {
        let oid = hub
            .objects
            .write(repo.id, Kind::Blob, text.as_bytes())
            .await?;
        entries.push(TreeEntry {
            mode: MODE_FILE.into(),
            name: "README.md".into(),
            oid,
        });
    }
    let tree = hub.objects.write_tree(repo.id, &mut entries).await?;
    let sig = Signature::now("system", "system@kohaku.local");
    let commit = Commit {
        tree,
        parents: vec![],
        author: sig.clone(),
        committer: sig,
        message: compose_message("initial commit", ""),
    };
    let commit_id = hub.objects.write_commit(repo.id, &commit).await?;
    // Through the ref-update pipeline, so the new repo's usage counts its first files.
    let mv = RefMove::prepare(hub, repo.id, MAIN, None, Some(&commit_id), Vec::new()).await?;
    let (id, t, ns, name) = (
        repo.id,
        repo.repo_type,
        repo.namespace.clone(),
        repo.name.clone(),
    );
    hub.db
        .call(move |c| {
            let tx = crate::db::write_tx(c)?;
            if let Ok(event) = pipeline::move_in_tx(&tx, id, &mv, Source::Create)? {
                pipeline::add_usage(&tx, id, event.usage_delta)?;
            }
            tx.execute(
                "DELETE FROM repo_redirects WHERE repo_type = ?1 AND lower(namespace) = ?2 AND lower(name) = ?3",
                params![t.as_str(), ns.to_ascii_lowercase(), name.to_ascii_lowercase()],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
}

/// How `deleted_repos` names a repo whose storage waits for GC.
fn deleted_label(repo: &Repo) -> String {
    format!("{}s/{}", repo.repo_type.as_str(), repo.full_id())
}

/// Drop a repo's rows (refs and the rest cascade) and leave its storage prefix to GC.
fn forget_repo(conn: &crate::db::Conn, repo_id: i64, label: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO deleted_repos (repo_id, full_id, deleted_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (repo_id) DO UPDATE SET full_id = excluded.full_id, deleted_at = excluded.deleted_at",
        params![repo_id, label, now_str()],
    )?;
    conn.execute("DELETE FROM repos WHERE id = ?1", [repo_id])?;
    Ok(())
}

/// Delete a repository. Its rows go now; its storage is left for `kohaku gc`.
pub async fn delete_repo(
    hub: &Hub,
    caller: Option<&Caller>,
    t: RepoType,
    ns: &str,
    name: &str,
) -> Result<()> {
    let (caller, ns, name) = (caller.cloned(), ns.to_string(), name.to_string());
    hub.db
        .call(move |c| {
            let repo = match find_repo(c, t, &ns, &name)? {
                Lookup::Found(r) => r,
                _ => return Err(Error::repo_not_found()),
            };
            perms::require_admin(c, &repo, caller.as_ref())?;
            let tx = crate::db::write_tx(c)?;
            forget_repo(&tx, repo.id, &deleted_label(&repo))?;
            tx.commit()?;
            Ok(())
        })
        .await
}

/// Move/rename a repository; the old id keeps resolving through a redirect.
pub async fn move_repo(
    hub: &Hub,
    caller: Option<&Caller>,
    t: RepoType,
    from: &str,
    to: &str,
) -> Result<Repo> {
    let (from_ns, from_name) = names::split_repo_id(from)?;
    let (to_ns, to_name) = names::split_repo_id(to)?;
    let caller = caller.cloned();
    hub.db
        .call(move |c| {
            let repo = match find_repo(c, t, &from_ns, &from_name)? {
                Lookup::Found(r) => r,
                _ => return Err(Error::repo_not_found()),
            };
            perms::require_admin(c, &repo, caller.as_ref())?;
            let owner = super::canonical_namespace(c, &to_ns)?;
            let to_ns = owner.as_ref().map_or(to_ns, |(_, exact)| exact.clone());
            if to_ns != repo.namespace {
                perms::require_create_in(c, &to_ns, caller.as_ref())?;
            }
            let Some((owner_id, _)) = owner else {
                return Err(Error::bad_request(format!("Namespace '{to_ns}' does not exist")));
            };
            let clash: Option<i64> = c
                .query_row(
                    "SELECT id FROM repos WHERE repo_type = ?1 AND namespace = ?2 AND normalized_name = ?3 AND id != ?4",
                    params![t.as_str(), to_ns, names::normalize(&to_name), repo.id],
                    |r| r.get(0),
                )
                .ok();
            if clash.is_some() {
                return Err(Error::Conflict {
                    message: format!("A {} repository called {to_ns}/{to_name} already exists", t.as_str()),
                    url: None,
                });
            }
            crate::quota::check_rehome(c, &repo, &to_ns, repo.private)?;
            let tx = crate::db::write_tx(c)?;
            let now = now_str();
            tx.execute(
                "DELETE FROM repo_redirects WHERE repo_type = ?1 AND lower(namespace) = ?2 AND lower(name) = ?3",
                params![t.as_str(), to_ns.to_ascii_lowercase(), to_name.to_ascii_lowercase()],
            )?;
            tx.execute(
                "UPDATE repos SET namespace = ?1, name = ?2, normalized_name = ?3, owner_id = ?4, updated_at = ?5 WHERE id = ?6",
                params![to_ns, to_name, names::normalize(&to_name), owner_id, now, repo.id],
            )?;
            // The old id as it was stored, whatever spelling the request used.
            if !(repo.namespace.eq_ignore_ascii_case(&to_ns) && repo.name.eq_ignore_ascii_case(&to_name)) {
                tx.execute(
                    "INSERT INTO repo_redirects (repo_type, namespace, name, repo_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (repo_type, namespace, name) DO UPDATE SET repo_id = excluded.repo_id, created_at = excluded.created_at",
                    params![t.as_str(), repo.namespace, repo.name, repo.id, now],
                )?;
            }
            tx.commit()?;
            get_repo(c, t, &to_ns, &to_name)
        })
        .await
}

/// Fields of `PUT /api/{type}s/{id}/settings` this hub understands.
#[derive(Debug, Clone, Default)]
pub struct SettingsUpdate {
    pub private: Option<bool>,
    /// `Some(None)` clears gating.
    pub gated: Option<Option<String>>,
}

pub async fn update_settings(
    hub: &Hub,
    caller: Option<&Caller>,
    repo: &Repo,
    upd: SettingsUpdate,
) -> Result<()> {
    if let Some(Some(g)) = &upd.gated {
        if g != "auto" && g != "manual" {
            return Err(Error::bad_request(
                "gated must be \"auto\", \"manual\" or false",
            ));
        }
    }
    let (caller, repo) = (caller.cloned(), repo.clone());
    hub.db
        .call(move |c| {
            perms::require_admin(c, &repo, caller.as_ref())?;
            if let Some(p) = upd.private {
                crate::quota::check_rehome(c, &repo, &repo.namespace, p)?;
                c.execute(
                    "UPDATE repos SET private = ?1 WHERE id = ?2",
                    params![p, repo.id],
                )?;
            }
            if let Some(g) = upd.gated {
                c.execute(
                    "UPDATE repos SET gated = ?1 WHERE id = ?2",
                    params![g, repo.id],
                )?;
            }
            super::touch(c, repo.id)
        })
        .await
}
