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
                None => {
                    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                        bail!("no --password given and no terminal to ask on");
                    }
                    dialoguer::Password::new()
                        .with_prompt(format!("Password for {name}"))
                        .with_confirmation("Repeat password", "Passwords do not match")
                        .interact()?
                }
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
