//! `kohaku config show`

use comfy_table::Table;
use kohaku::config::Config;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Print the effective configuration (secrets redacted) and where each value came from.
    Show {
        /// Print as JSON: {"KEY": {"value": ..., "source": ...}}.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cfg: Config, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Show { json } => {
            let rows = cfg.describe();
            if json {
                let v: serde_json::Map<String, serde_json::Value> = rows
                    .into_iter()
                    .map(|(k, v, s)| (k, serde_json::json!({"value": v, "source": s})))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let mut t = Table::new();
                t.set_header(vec!["key", "value", "source"]);
                for (k, v, s) in rows {
                    t.add_row(vec![k, v, s]);
                }
                println!("{t}");
            }
            Ok(())
        }
    }
}
