//! `kohaku user create|list`

use anyhow::bail;
use comfy_table::Table;
use kohaku::accounts;
use kohaku::config::Config;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Create a user (asks for the password when --password is omitted).
    Create {
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        admin: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a user (asks unless --yes). Refused while they own repositories.
    Delete {
        name: String,
        #[arg(long)]
        yes: bool,
    },
    /// Grant (or with --revoke take) hub-admin rights.
    SetAdmin {
        name: String,
        #[arg(long)]
        revoke: bool,
    },
    /// Set a user's password (asks when --password is omitted); ends their sessions.
    Passwd {
        name: String,
        #[arg(long)]
        password: Option<String>,
    },
}

fn ask_password(name: &str) -> anyhow::Result<String> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        bail!("no --password given and no terminal to ask on");
    }
    Ok(dialoguer::Password::new()
        .with_prompt(format!("Password for {name}"))
        .with_confirmation("Repeat password", "Passwords do not match")
        .interact()?)
}

pub fn run(cfg: Config, cmd: Cmd) -> anyhow::Result<()> {
    let hub = super::open_hub(cfg)?;
    match cmd {
        Cmd::Create {
            name,
            email,
            password,
            admin,
        } => {
            let password = match password {
                Some(p) => p,
                None => ask_password(&name)?,
            };
            let u = hub
                .db
                .call_sync(|c| accounts::create_user(c, &name, &email, &password, admin))?;
            eprintln!(
                "created user {}{}",
                u.username,
                if u.is_admin { " (admin)" } else { "" }
            );
            Ok(())
        }
        Cmd::Delete { name, yes } => {
            if !yes {
                if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    bail!("refusing to delete without --yes when not on a terminal");
                }
                if !dialoguer::Confirm::new()
                    .with_prompt(format!("Delete user {name}?"))
                    .interact()?
                {
                    bail!("cancelled");
                }
            }
            hub.db.call_sync(|c| accounts::delete_user(c, &name))?;
            eprintln!("deleted user {name}");
            Ok(())
        }
        Cmd::SetAdmin { name, revoke } => {
            hub.db
                .call_sync(|c| accounts::set_admin(c, &name, !revoke))?;
            eprintln!(
                "{name} is {}a hub admin",
                if revoke { "no longer " } else { "now " }
            );
            Ok(())
        }
        Cmd::Passwd { name, password } => {
            let password = match password {
                Some(p) => p,
                None => ask_password(&name)?,
            };
            hub.db.call_sync(|c| {
                let u = accounts::require_user(c, &name)?;
                accounts::set_password(c, u.id, &u.username, &password)
            })?;
            eprintln!("password of {name} changed");
            Ok(())
        }
        Cmd::List { json } => {
            let users = hub.db.call_sync(|c| accounts::list_users(c))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                let mut t = Table::new();
                t.set_header(vec!["name", "email", "admin", "created"]);
                for u in users {
                    t.add_row(vec![
                        u.username,
                        u.email.unwrap_or_default(),
                        u.is_admin.to_string(),
                        u.created_at,
                    ]);
                }
                println!("{t}");
            }
            Ok(())
        }
    }
}
