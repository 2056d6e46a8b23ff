//! One file per subcommand.

pub mod config;
pub mod db;
pub mod fsck;
pub mod gc;
pub mod init;
pub mod org;
pub mod quota;
pub mod repo;
pub mod serve;
pub mod stats;
pub mod storage;
pub mod token;
pub mod user;

use kohaku::config::Config;
use kohaku::Hub;

/// Open the hub the configuration names (same data as `serve`). It must exist: only `serve`
/// and `init` create one, so a wrong `--data-dir` is an error, not a new empty hub.
pub fn open_hub(cfg: Config) -> anyhow::Result<Hub> {
    Ok(Hub::open_existing(cfg)?)
}

/// A runtime for the core's async actions (the same functions the daemon calls).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
