//! `kohaku db migrate|backup|copy`

use anyhow::bail;
use kohaku::config::{Config, DatabaseTarget};
use kohaku::db::Db;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Apply pending schema migrations (serve also does this at start-up), SQLite or PostgreSQL.
    Migrate {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a consistent copy of the SQLite database while the hub keeps serving.
    Backup {
        /// File to write the copy to (must not exist yet).
        path: std::path::PathBuf,
    },
    /// Copy every row from one database to another (e.g. SQLite to PostgreSQL), in one
    /// transaction on the target, and check the row counts afterwards. The target must be empty.
    Copy {
        /// Source database URL (default: the configured one).
        #[arg(long)]
        from: Option<String>,
        /// Target database URL (sqlite://PATH, a path, or postgres://...).
        #[arg(long)]
        to: String,
        /// Print the per-table counts as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The configured hub's database, which must exist (only `serve` and `init` create one).
/// An SQLite hub lives in its data directory: a wrong `--data-dir` is named as such.
fn open_existing(cfg: &Config, target: &DatabaseTarget, migrate: bool) -> anyhow::Result<Db> {
    if matches!(target, DatabaseTarget::Sqlite(_)) {
        kohaku::hub::check_data_dir(cfg)?;
    }
    Ok(kohaku::hub::open_existing_db(target, 1, migrate)?)
}

pub fn run(cfg: Config, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Migrate { json } => {
            let target = cfg.database_target()?;
            let db = open_existing(&cfg, &target, false)?;
            let applied = db.call_sync(kohaku::db::migrate)?;
            let versions = db.call_sync(|c| kohaku::db::applied_versions(c))?;
            let version = versions.last().copied().unwrap_or(0);
            if json {
                println!(
                    "{}",
                    serde_json::json!({"database": target.describe(), "applied": applied, "version": version})
                );
            } else {
                if applied.is_empty() {
                    eprintln!("{}: nothing to apply", target.describe());
                } else {
                    eprintln!("{}: applied {applied:?}", target.describe());
                }
                println!("schema at version {version}");
            }
            Ok(())
        }
        Cmd::Backup { path } => {
            if path.exists() {
                anyhow::bail!("{} exists; refusing to overwrite it", path.display());
            }
            let db = open_existing(&cfg, &cfg.database_target()?, true)?;
            let target = path.to_string_lossy().to_string();
            db.call_sync(|c| kohaku::db::backup_to(c, &target))?;
            println!("backup written to {}", path.display());
            Ok(())
        }
        Cmd::Copy { from, to, json } => {
            let source = match from {
                Some(u) => DatabaseTarget::parse(&u)?,
                None => cfg.database_target()?,
            };
            let target = DatabaseTarget::parse(&to)?;
            if source == target {
                bail!("source and target are the same database");
            }
            let from_db = kohaku::hub::open_existing_db(&source, 1, true)?;
            let to_db = Db::open(&target, 1)?;
            let bar = indicatif::ProgressBar::new_spinner();
            if json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let report = from_db.call_sync(|src| {
                to_db.call_sync(|dst| {
                    kohaku::db::copy::copy(src, dst, |table, rows| {
                        bar.set_message(format!("{table}: {rows} rows"));
                        bar.tick();
                    })
                })
            })?;
            bar.finish_and_clear();
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let mut t = comfy_table::Table::new();
                t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
                t.set_header(["table", "source rows", "target rows"]);
                for r in &report {
                    t.add_row([
                        r.table.clone(),
                        r.source_rows.to_string(),
                        r.target_rows.to_string(),
                    ]);
                }
                println!("{t}");
                let total: i64 = report.iter().map(|r| r.target_rows).sum();
                eprintln!(
                    "copied {total} rows from {} to {}; counts match",
                    source.describe(),
                    target.describe()
                );
            }
            Ok(())
        }
    }
}
