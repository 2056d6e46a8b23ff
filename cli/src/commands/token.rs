//! `kohaku token create|list|revoke`

use anyhow::{anyhow, bail};
use comfy_table::Table;
use kohaku::accounts::{self, TokenRole};
use kohaku::config::Config;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Create a token; prints only the token on stdout (HF_TOKEN for the client, the
    /// password for git).
    Create {
        /// User the token acts as.
        #[arg(long)]
        user: String,
        /// A label for the token, shown by `token list`.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Read-only: may download and list but not upload, create or delete. Without it the
        /// token may do everything the user may.
        #[arg(long)]
        read_only: bool,
    },
    /// List a user's tokens (never their secrets).
    List {
        /// User whose tokens to list.
        #[arg(long)]
        user: String,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id.
    Revoke {
        /// User the token belongs to.
        #[arg(long)]
        user: String,
        /// Token id, as `token list` shows it.
        id: i64,
        /// Do not ask for confirmation (scripts).
        #[arg(long)]
        yes: bool,
    },
}

pub fn run(cfg: Config, cmd: Cmd) -> anyhow::Result<()> {
    let hub = super::open_hub(cfg)?;
    let find = |name: &str| -> anyhow::Result<accounts::User> {
        hub.db
            .call_sync(|c| accounts::user_by_name(c, name))?
            .ok_or_else(|| anyhow!("no user named '{name}'"))
    };
    match cmd {
        Cmd::Create {
            user,
            name,
            read_only,
        } => {
            let u = find(&user)?;
            let role = if read_only {
                TokenRole::Read
            } else {
                TokenRole::Write
            };
            let token = hub
                .db
                .call_sync(|c| accounts::create_token(c, u.id, &name, role))?;
            println!("{token}");
            Ok(())
        }
        Cmd::List { user, json } => {
            let u = find(&user)?;
            let tokens = hub.db.call_sync(|c| accounts::list_tokens(c, u.id))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                let mut t = Table::new();
                t.set_header(vec!["id", "name", "role", "last used", "created"]);
                for k in tokens {
                    t.add_row(vec![
                        k.id.to_string(),
                        k.name,
                        k.role.as_str().into(),
                        k.last_used_at.unwrap_or_default(),
                        k.created_at,
                    ]);
                }
                println!("{t}");
            }
            Ok(())
        }
        Cmd::Revoke { user, id, yes } => {
            let u = find(&user)?;
            if !yes {
                if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    bail!("refusing to revoke without --yes when not on a terminal");
                }
                let ok = dialoguer::Confirm::new()
                    .with_prompt(format!("Revoke token {id} of {user}?"))
                    .interact()?;
                if !ok {
                    bail!("cancelled");
                }
            }
            hub.db.call_sync(|c| accounts::revoke_token(c, u.id, id))?;
            eprintln!("revoked token {id}");
            Ok(())
        }
    }
}
