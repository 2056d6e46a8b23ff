//! `kohaku storage check|migrate`

use anyhow::{bail, Context};
use comfy_table::Table;
use kohaku::config::Config;
use kohaku::quota::human;
use kohaku::storage::{migrate, S3Storage};

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Check the configured storage: connectivity, permissions, presigned round trip.
    Check {
        /// Print the steps as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy this hub's local storage into the bucket the s3_* settings name. Resumable:
    /// objects already there with the right size are skipped.
    Migrate {
        /// Target backend (only `s3`).
        #[arg(long)]
        to: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub fn run(cfg: Config, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Check { json } => check(cfg, json),
        Cmd::Migrate { to, yes, json } => {
            if to != "s3" {
                bail!("--to {to}: the only migration target is s3");
            }
            migrate_to_s3(cfg, yes, json)
        }
    }
}

fn check(cfg: Config, json: bool) -> anyhow::Result<()> {
    let Some(s3) = cfg.s3.clone() else {
        // The storage of a hub that is not there is not created here (`kohaku init` does).
        kohaku::hub::check_data_dir(&cfg)?;
        let dir = cfg.storage_dir();
        std::fs::create_dir_all(dir.join("tmp"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let probe = dir.join("tmp").join("check-probe");
        std::fs::write(&probe, b"probe")
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        std::fs::remove_file(&probe)?;
        if json {
            println!(
                "{}",
                serde_json::json!({"storage": "local", "path": dir, "ok": true})
            );
        } else {
            println!("local storage at {}: writable", dir.display());
        }
        return Ok(());
    };
    let bucket = S3Storage::new(&s3, cfg.data_dir.join("tmp"))?;
    let steps = runtime()?.block_on(bucket.check_steps());
    let ok = steps.iter().all(|s| s.outcome.is_ok()) && steps.len() == 6;
    if json {
        let v: Vec<_> = steps
            .iter()
            .map(|s| match &s.outcome {
                Ok(m) => serde_json::json!({"step": s.name, "ok": true, "detail": m}),
                Err(m) => serde_json::json!({"step": s.name, "ok": false, "detail": m}),
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"storage": "s3", "ok": ok, "steps": v})
        );
    } else {
        let mut t = Table::new();
        t.set_header(vec!["step", "result", "detail"]);
        for s in &steps {
            let (r, d) = match &s.outcome {
                Ok(m) => ("ok", m.as_str()),
                Err(m) => ("FAILED", m.as_str()),
            };
            t.add_row(vec![s.name, r, d]);
        }
        println!("{t}");
    }
    if !ok {
        bail!("storage check failed");
    }
    Ok(())
}

fn migrate_to_s3(cfg: Config, yes: bool, json: bool) -> anyhow::Result<()> {
    let target = cfg
        .s3_target()
        .context("the s3_* settings must name the target bucket")?;
    let root = cfg.storage_dir();
    if !root.is_dir() {
        bail!("no local storage at {}", root.display());
    }
    let bucket = S3Storage::new(&target, cfg.data_dir.join("tmp"))?;
    let rt = runtime()?;
    rt.block_on(bucket.check_writable())
        .map_err(|e| anyhow::anyhow!(e))?;
    if !yes {
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            bail!("refusing to copy without --yes when not on a terminal");
        }
        let prompt = format!("Copy {} into {}?", root.display(), bucket.location());
        if !dialoguer::Confirm::new().with_prompt(prompt).interact()? {
            bail!("cancelled");
        }
    }
    let bar = indicatif::ProgressBar::new(1);
    if json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bytes:>10}/{total_bytes} [{bar:30}] {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = rt.block_on(migrate::to_bucket(&root, &bucket, |done, total| {
        bar.set_length(total.max(1));
        bar.set_position(done);
    }))?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let mut t = Table::new();
        t.set_header(vec!["", "objects", "bytes"]);
        t.add_row(vec![
            "in local storage".to_string(),
            report.objects.to_string(),
            human(report.bytes),
        ]);
        t.add_row(vec![
            "copied now".to_string(),
            report.copied.to_string(),
            human(report.copied_bytes),
        ]);
        t.add_row(vec![
            "already in the bucket".to_string(),
            report.skipped.to_string(),
            String::new(),
        ]);
        t.add_row(vec![
            "verified in the bucket".to_string(),
            report.verified.to_string(),
            String::new(),
        ]);
        println!("{t}");
        println!(
            "Done. Serve from the bucket with storage: s3 (KOHAKU_HUB_STORAGE=s3); {} can then be removed.",
            root.display()
        );
    }
    Ok(())
}
