//! `kohaku fsck`: check that every repository is whole (refs, objects, LFS files at the tips).

use anyhow::bail;
use comfy_table::Table;
use kohaku::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// Only this repository (TYPE/NS/NAME).
    #[arg(long)]
    repo: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cfg: Config, a: Args) -> anyhow::Result<()> {
    let hub = super::open_hub(cfg)?;
    let repos: Vec<(i64, String)> = match &a.repo {
        Some(r) => {
            let (t, ns, name) = super::repo::parse_full_id(r)?;
            let repo = hub
                .db
                .call_sync(|c| kohaku::repos::get_repo(c, t, &ns, &name))?;
            vec![(repo.id, format!("{}/{}", t.as_str(), repo.full_id()))]
        }
        None => hub.db.call_sync(kohaku::fsck::all_repos)?,
    };
    let bar = indicatif::ProgressBar::new(repos.len() as u64);
    if a.json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(kohaku::fsck::run(&hub, repos, |done, _| {
        bar.set_position(done)
    }))?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{} repositories, {} refs, {} git objects, {} LFS files at the tips",
            report.repos, report.refs, report.objects, report.lfs_objects
        );
        if !report.problems.is_empty() {
            let mut t = Table::new();
            t.set_header(vec!["repository", "problem"]);
            for p in &report.problems {
                t.add_row(vec![p.repo.as_str(), p.what.as_str()]);
            }
            println!("{t}");
        }
    }
    if !report.problems.is_empty() {
        bail!("{} problems found", report.problems.len());
    }
    Ok(())
}
