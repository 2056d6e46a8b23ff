//! `kohaku db migrate`

use kohaku::config::Config;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Apply pending schema migrations (serve also does this at start-up).
    Migrate,
    /// Write a consistent copy of the SQLite database while the hub keeps serving.
    Backup { path: std::path::PathBuf },
}

pub fn run(cfg: Config, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Migrate => {
            let hub = super::open_hub(cfg)?;
            let versions = hub.db.call_sync(|c| kohaku::db::applied_versions(c))?;
            println!(
                "schema at version {}",
                versions.last().copied().unwrap_or(0)
            );
            Ok(())
        }
        Cmd::Backup { path } => {
            if path.exists() {
                anyhow::bail!("{} exists; refusing to overwrite it", path.display());
            }
            let hub = super::open_hub(cfg)?;
            let target = path.to_string_lossy().to_string();
            hub.db.call_sync(|c| kohaku::db::backup_to(c, &target))?;
            println!("backup written to {}", path.display());
            Ok(())
        }
    }
}
