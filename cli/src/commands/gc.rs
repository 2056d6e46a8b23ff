//! `kohaku gc`: LFS retention and orphan cleanup, meant for cron.

use std::time::Duration;

use anyhow::{bail, Context};
use comfy_table::Table;
use kohaku::config::Config;
use kohaku::gc::{self, Freed, Options};
use kohaku::quota::human;

#[derive(clap::Args)]
pub struct Args {
    /// Report what would be deleted, delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation (cron).
    #[arg(long)]
    yes: bool,
    /// Only this repository (TYPE/NS/NAME) for LFS retention and git objects.
    #[arg(long)]
    repo: Option<String>,
    /// Leave anything younger than this alone (e.g. 30m, 1h, 2d).
    #[arg(long, default_value = "1h")]
    grace: String,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// `90s`, `30m`, `1h`, `2d`, or plain seconds.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .with_context(|| format!("invalid duration '{s}'"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => bail!("invalid duration unit in '{s}': use s, m, h or d"),
    };
    Ok(Duration::from_secs(secs))
}

pub fn run(cfg: Config, a: Args) -> anyhow::Result<()> {
    let hub = super::open_hub(cfg)?;
    let grace = parse_duration(&a.grace)?;
    let repo = match &a.repo {
        Some(r) => {
            let (t, ns, name) = super::repo::parse_full_id(r)?;
            Some(
                hub.db
                    .call_sync(|c| kohaku::repos::get_repo(c, t, &ns, &name))?
                    .id,
            )
        }
        None => None,
    };
    if !a.dry_run && !a.yes {
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            bail!("refusing to delete without --yes when not on a terminal (use --dry-run to look first)");
        }
        if !dialoguer::Confirm::new()
            .with_prompt("Delete unreferenced data now?")
            .interact()?
        {
            bail!("cancelled");
        }
    }
    let bar = indicatif::ProgressBar::new(1);
    if a.json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |stage: &str, done: u64, total: u64| {
        bar.set_message(stage.to_string());
        bar.set_length(total.max(1));
        bar.set_position(done);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = std::time::Instant::now();
    let report = rt.block_on(gc::run(
        &hub,
        &Options {
            dry_run: a.dry_run,
            repo,
            grace,
        },
        &progress,
    ))?;
    bar.finish_and_clear();
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
        println!("{v}");
        return Ok(());
    }
    let mut t = Table::new();
    t.set_header(vec!["kind", "objects", "bytes"]);
    let rows: [(&str, &Freed); 6] = [
        ("LFS old versions", &report.lfs_old_versions),
        ("LFS unreferenced", &report.lfs_unreferenced),
        ("git unreachable", &report.git_unreachable),
        ("abandoned uploads", &report.abandoned_uploads),
        ("Xet xorbs", &report.xet_xorbs),
        ("deleted repositories", &report.deleted_repos),
    ];
    for (k, f) in rows {
        t.add_row(vec![k.to_string(), f.objects.to_string(), human(f.bytes)]);
    }
    println!(
        "{}{t}",
        if a.dry_run {
            "dry run, nothing deleted:\n"
        } else {
            ""
        }
    );
    Ok(())
}
