//! `kohaku db migrate`

use kohaku::config::Config;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Apply pending schema migrations (serve also does this at start-up).
    Migrate,
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
    }
}
