//! `kohaku repo list|info|delete|move`

use anyhow::bail;
use comfy_table::Table;
use kohaku::accounts::Caller;
use kohaku::config::Config;
use kohaku::names::{split_repo_id, RepoType};
use kohaku::quota::human;
use kohaku::repos::{self, refs, ListQuery, SortKey};

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// List repositories with their size, file count, downloads and likes.
    List {
        /// Only the repositories of this user or organization.
        #[arg(long)]
        namespace: Option<String>,
        /// Only this type: model, dataset or space.
        #[arg(long = "type")]
        repo_type: Option<String>,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one repository (TYPE/NS/NAME, e.g. model/alice/bert).
    Info {
        /// Repository as TYPE/NS/NAME (TYPE defaults to model).
        repo: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a repository (asks unless --yes).
    Delete {
        /// Repository as TYPE/NS/NAME (TYPE defaults to model).
        repo: String,
        /// Do not ask for confirmation (scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Move or rename a repository (the old id keeps redirecting).
    Move {
        /// Repository as TYPE/NS/NAME (TYPE defaults to model).
        repo: String,
        /// New id, NS/NAME (the type stays).
        to: String,
    },
}

/// `TYPE/NS/NAME` (type optional, default model).
pub fn parse_full_id(s: &str) -> anyhow::Result<(RepoType, String, String)> {
    let parts: Vec<&str> = s.split('/').collect();
    let (t, rest) = match parts.as_slice() {
        [t, ns, name] => (RepoType::parse(t)?, format!("{ns}/{name}")),
        [ns, name] => (RepoType::Model, format!("{ns}/{name}")),
        _ => bail!("'{s}' is not TYPE/NAMESPACE/NAME"),
    };
    let (ns, name) = split_repo_id(&rest)?;
    Ok((t, ns, name))
}

async fn row(hub: &kohaku::Hub, r: &repos::Repo) -> anyhow::Result<serde_json::Value> {
    let rid = r.id;
    let head = hub
        .db
        .call(move |c| refs::get_ref(c, rid, refs::MAIN))
        .await?;
    let files = match head {
        Some(h) => {
            let tree = hub.objects.commit(rid, &h).await?.tree.clone();
            kohaku::files::all_files(hub, rid, &tree).await?
        }
        None => Vec::new(),
    };
    let size: u64 = files.iter().map(|f| f.size).sum();
    Ok(serde_json::json!({
        "type": r.repo_type.as_str(), "id": r.full_id(), "private": r.private,
        "files": files.len(), "size_bytes": size, "downloads": r.downloads, "likes": r.likes,
        "created_at": r.created_at, "updated_at": r.updated_at,
    }))
}

pub fn run(cfg: Config, cmd: Cmd) -> anyhow::Result<()> {
    let hub = super::open_hub(cfg)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let system = Caller::system();
    match cmd {
        Cmd::List {
            namespace,
            repo_type,
            json,
        } => {
            let q = ListQuery {
                repo_type: repo_type.as_deref().map(RepoType::parse).transpose()?,
                author: namespace,
                search: vec![],
                sort: SortKey::Id,
                descending: false,
                offset: 0,
                limit: i64::MAX as u64,
            };
            let list = hub
                .db
                .call_sync(|c| repos::list_repos(c, Some(&system), &q))?;
            // Several repositories at once: with a bucket each object read is a round trip.
            let rows = rt.block_on(async {
                let rows = futures_util::stream::iter(list.iter().map(|r| row(&hub, r)));
                let rows: Vec<_> =
                    futures_util::StreamExt::collect(futures_util::StreamExt::buffered(rows, 8))
                        .await;
                rows.into_iter().collect::<anyhow::Result<Vec<_>>>()
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                let mut t = Table::new();
                t.set_header(vec![
                    "type",
                    "repo",
                    "private",
                    "size",
                    "files",
                    "downloads",
                    "likes",
                ]);
                for r in &rows {
                    t.add_row(vec![
                        r["type"].as_str().unwrap_or("").to_string(),
                        r["id"].as_str().unwrap_or("").to_string(),
                        r["private"].to_string(),
                        human(r["size_bytes"].as_u64().unwrap_or(0)),
                        r["files"].to_string(),
                        r["downloads"].to_string(),
                        r["likes"].to_string(),
                    ]);
                }
                println!("{t}");
            }
        }
        Cmd::Info { repo, json } => {
            let (t, ns, name) = parse_full_id(&repo)?;
            let r = hub.db.call_sync(|c| repos::get_repo(c, t, &ns, &name))?;
            let v = rt.block_on(row(&hub, &r))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (k, val) in v.as_object().into_iter().flatten() {
                    println!("{k:>12}: {val}");
                }
            }
        }
        Cmd::Delete { repo, yes } => {
            let (t, ns, name) = parse_full_id(&repo)?;
            if !yes {
                if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    bail!("refusing to delete without --yes when not on a terminal");
                }
                if !dialoguer::Confirm::new()
                    .with_prompt(format!("Delete {repo}?"))
                    .interact()?
                {
                    bail!("cancelled");
                }
            }
            rt.block_on(repos::delete_repo(&hub, Some(&system), t, &ns, &name))?;
            eprintln!("deleted {repo}");
        }
        Cmd::Move { repo, to } => {
            let (t, ns, name) = parse_full_id(&repo)?;
            let moved = rt.block_on(repos::move_repo(
                &hub,
                Some(&system),
                t,
                &format!("{ns}/{name}"),
                &to,
            ))?;
            eprintln!("moved {repo} to {}", moved.full_id());
        }
    }
    Ok(())
}
