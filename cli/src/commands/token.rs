//! `kohaku token create|list|revoke`

use anyhow::bail;
use comfy_table::Table;
use kohaku::accounts::{token_service, Caller, TokenRole};
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
    let rt = super::runtime()?;
    let system = Caller::system();
    match cmd {
        Cmd::Create {
            user,
            name,
            read_only,
        } => {
            let role = if read_only {
                TokenRole::Read
            } else {
                TokenRole::Write
            };
            let created = rt.block_on(token_service::create(
                &hub,
                &system,
                Some(&user),
                &name,
                role,
            ))?;
            println!("{}", created.token);
            Ok(())
        }
        Cmd::List { user, json } => {
            let tokens = rt.block_on(token_service::list(&hub, &system, Some(&user)))?;
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
            rt.block_on(token_service::revoke(&hub, &system, Some(&user), id))?;
            eprintln!("revoked token {id}");
            Ok(())
        }
    }
}
