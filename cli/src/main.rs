//! `kohaku`: the hub daemon and its administration commands, over one configuration.

mod commands;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use kohaku::config::{Config, Overrides};

/// Self-hosted model and dataset hub, compatible with huggingface_hub, git and git-lfs.
#[derive(Parser)]
#[command(name = "kohaku", version, about)]
struct Cli {
    /// YAML configuration file (also KOHAKU_HUB_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory: SQLite file and local storage (also KOHAKU_HUB_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH, a file path, or postgres://USER@HOST/DB (also
    /// KOHAKU_HUB_DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub daemon (creates the hub on first start).
    Serve(commands::serve::Args),
    /// Create a hub (data directory, database, storage) without serving it. Every other
    /// command needs an existing hub; this one does nothing when there is one already.
    Init,
    /// Inspect the effective configuration.
    #[command(subcommand)]
    Config(commands::config::Cmd),
    /// Manage users.
    #[command(subcommand)]
    User(commands::user::Cmd),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(commands::token::Cmd),
    /// Manage organizations.
    #[command(subcommand)]
    Org(commands::org::Cmd),
    /// Garbage collection: LFS retention, unreachable objects, abandoned uploads.
    Gc(commands::gc::Args),
    /// Storage quotas.
    #[command(subcommand)]
    Quota(commands::quota::Cmd),
    /// Administer repositories.
    #[command(subcommand)]
    Repo(commands::repo::Cmd),
    /// Download statistics.
    #[command(subcommand)]
    Stats(commands::stats::Cmd),
    /// Database maintenance.
    #[command(subcommand)]
    Db(commands::db::Cmd),
    /// Check that every repository is whole: refs, git objects, LFS files at the tips.
    Fsck(commands::fsck::Args),
    /// Object storage: check it, migrate local storage to a bucket.
    #[command(subcommand)]
    Storage(commands::storage::Cmd),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let mut ov = Overrides {
        config_file: cli.config.clone(),
        values: vec![],
    };
    if let Some(d) = &cli.data_dir {
        ov.values.push(("data_dir", d.display().to_string()));
    }
    if let Some(u) = &cli.database_url {
        ov.values.push(("database_url", u.clone()));
    }
    if let Command::Serve(a) = &cli.command {
        if let Some(l) = &a.listen {
            ov.values.push(("listen", l.clone()));
        }
    }
    let result = Config::load(&ov)
        .map_err(anyhow::Error::from)
        .and_then(|cfg| {
            init_logging(&cfg);
            match cli.command {
                Command::Serve(_) => commands::serve::run(cfg),
                Command::Init => commands::init::run(cfg),
                Command::Config(c) => commands::config::run(cfg, c),
                Command::User(c) => commands::user::run(cfg, c),
                Command::Token(c) => commands::token::run(cfg, c),
                Command::Db(c) => commands::db::run(cfg, c),
                Command::Org(c) => commands::org::run(cfg, c),
                Command::Repo(c) => commands::repo::run(cfg, c),
                Command::Quota(c) => commands::quota::run(cfg, c),
                Command::Gc(a) => commands::gc::run(cfg, a),
                Command::Stats(c) => commands::stats::run(cfg, c),
                Command::Storage(c) => commands::storage::run(cfg, c),
                Command::Fsck(a) => commands::fsck::run(cfg, a),
            }
        });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand and every argument says what it is for in `--help`.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                let p = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(p.clone());
                }
                walk(sub, &p, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "kohaku", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }
}
