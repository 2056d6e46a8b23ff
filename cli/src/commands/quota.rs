//! `kohaku quota show|set|set-repo|recalculate`

use anyhow::bail;
use comfy_table::Table;
use kohaku::config::Config;
use kohaku::quota::{self, human};
use kohaku::repos;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Show a namespace's quotas and usage.
    Show {
        /// User or organization.
        namespace: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a namespace's quotas: sizes like 10GB, 500MiB, or `unlimited`.
    Set {
        /// User or organization.
        namespace: String,
        /// Quota for the namespace's private repositories together (e.g. 10GB, 500MiB,
        /// unlimited).
        #[arg(long, value_name = "SIZE")]
        private: Option<String>,
        /// Quota for the namespace's public repositories together (e.g. 100GB, unlimited).
        #[arg(long, value_name = "SIZE")]
        public: Option<String>,
    },
    /// Set one repository's quota (TYPE/NS/NAME SIZE).
    SetRepo {
        /// Repository as TYPE/NS/NAME (e.g. model/alice/bert; TYPE defaults to model).
        repo: String,
        /// Quota, e.g. 10GB, 500MiB, or unlimited.
        size: String,
    },
    /// Recompute usage from the data (one namespace, or --all).
    Recalculate {
        /// User or organization whose repositories to recompute.
        namespace: Option<String>,
        /// Recompute every repository of the hub.
        #[arg(long)]
        all: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn show(q: &quota::NamespaceQuota, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(q)?);
        return Ok(());
    }
    let lim = |v: Option<u64>| v.map(human).unwrap_or_else(|| "unlimited".into());
    let mut t = Table::new();
    t.set_header(vec!["", "used", "quota"]);
    t.add_row(vec![
        "private".to_string(),
        human(q.private_used_bytes),
        lim(q.private_quota_bytes),
    ]);
    t.add_row(vec![
        "public".to_string(),
        human(q.public_used_bytes),
        lim(q.public_quota_bytes),
    ]);
    println!(
        "{} ({})\n{t}",
        q.namespace,
        if q.is_organization {
            "organization"
        } else {
            "user"
        }
    );
    Ok(())
}

pub fn run(cfg: Config, cmd: Cmd) -> anyhow::Result<()> {
    let hub = super::open_hub(cfg)?;
    match cmd {
        Cmd::Show { namespace, json } => show(
            &hub.db
                .call_sync(|c| quota::namespace_quota(c, &namespace))?,
            json,
        ),
        Cmd::Set {
            namespace,
            private,
            public,
        } => {
            if private.is_none() && public.is_none() {
                bail!("give --private and/or --public");
            }
            let p = private.as_deref().map(quota::parse_size).transpose()?;
            let u = public.as_deref().map(quota::parse_size).transpose()?;
            show(
                &hub.db
                    .call_sync(|c| quota::set_namespace_quota(c, &namespace, p, u))?,
                false,
            )
        }
        Cmd::SetRepo { repo, size } => {
            let (t, ns, name) = super::repo::parse_full_id(&repo)?;
            let q = quota::parse_size(&size)?;
            hub.db.call_sync(|c| {
                let r = repos::get_repo(c, t, &ns, &name)?;
                quota::set_repo_quota(c, r.id, q)
            })?;
            eprintln!(
                "quota of {repo}: {}",
                q.map(human).unwrap_or_else(|| "unlimited".into())
            );
            Ok(())
        }
        Cmd::Recalculate {
            namespace,
            all,
            json,
        } => {
            let ids = match (namespace.as_deref(), all) {
                (Some(ns), false) => hub.db.call_sync(|c| quota::namespace_repo_ids(c, ns))?,
                (None, true) => hub.db.call_sync(|c| quota::all_repo_ids(c))?,
                _ => bail!("give a namespace or --all"),
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let bar = indicatif::ProgressBar::new(ids.len() as u64);
            if json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            // Several repositories at once: with a bucket each object read is a round trip.
            let total = rt.block_on(async {
                let jobs: Vec<_> = ids.iter().map(|id| quota::recalc_repo(&hub, *id)).collect();
                let mut done =
                    futures_util::StreamExt::buffer_unordered(futures_util::stream::iter(jobs), 8);
                let mut total = 0;
                while let Some(used) = futures_util::StreamExt::next(&mut done).await {
                    total += used?;
                    bar.inc(1);
                }
                Ok::<u64, kohaku::Error>(total)
            })?;
            bar.finish_and_clear();
            if json {
                println!(
                    "{}",
                    serde_json::json!({"repos": ids.len(), "used_bytes": total})
                );
            } else {
                println!(
                    "recalculated {} repositories: {} in use",
                    ids.len(),
                    human(total)
                );
            }
            Ok(())
        }
    }
}
