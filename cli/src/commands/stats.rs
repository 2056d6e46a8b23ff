//! `kohaku stats rollup`

use anyhow::Context;
use kohaku::config::Config;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Aggregate download sessions into daily statistics (idempotent) and prune old sessions.
    Rollup {
        /// Recompute days from this date on (YYYY-MM-DD); default: every day that has sessions.
        #[arg(long)]
        since: Option<String>,
        /// Keep raw sessions of this many days.
        #[arg(long, default_value_t = 30)]
        keep_days: i64,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cfg: Config, cmd: Cmd) -> anyhow::Result<()> {
    let hub = super::open_hub(cfg)?;
    match cmd {
        Cmd::Rollup {
            since,
            keep_days,
            json,
        } => {
            let since = since
                .map(|s| {
                    chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                        .with_context(|| format!("--since '{s}' is not YYYY-MM-DD"))
                })
                .transpose()?;
            let started = std::time::Instant::now();
            let report = hub
                .db
                .call_sync(|c| kohaku::stats::rollup(c, since, keep_days))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"days_written": report.days_written, "sessions_pruned": report.sessions_pruned, "seconds": started.elapsed().as_secs_f64()})
                );
            } else {
                println!(
                    "rolled up {} repo-days, pruned {} old sessions in {:.2}s",
                    report.days_written,
                    report.sessions_pruned,
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
    }
}
