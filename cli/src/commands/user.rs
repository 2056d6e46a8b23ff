//! `kohaku user create|list|delete|set-admin|passwd`

use anyhow::{bail, Context};
use comfy_table::Table;
use kohaku::accounts::{user_service, Caller};
use kohaku::config::Config;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Create a user. The password comes from --password-file, --password-stdin or
    /// --password; without any, it is asked for on the terminal.
    Create {
        /// User name: also the namespace of their repositories (NAME/repo).
        name: String,
        /// Email address (the user can log in with it as well as with the name).
        #[arg(long)]
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Make the user a hub admin: they may administer every user, organization and
        /// repository, and use the admin API.
        #[arg(long)]
        admin: bool,
    },
    /// List users.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a user (asks unless --yes). Refused while they own repositories.
    Delete {
        /// User to delete.
        name: String,
        /// Do not ask for confirmation (scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Grant (or with --revoke take) hub-admin rights.
    SetAdmin {
        /// User whose rights change.
        name: String,
        /// Take hub-admin rights away instead of granting them.
        #[arg(long)]
        revoke: bool,
    },
    /// Set a user's password (same sources as `user create`); ends their sessions.
    Passwd {
        /// User whose password changes.
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

/// Where a new password comes from. The rule it must pass: at least 8 characters, not the
/// user name, not one character repeated, not one of the ~20,000 most common passwords.
#[derive(clap::Args)]
#[group(multiple = false)]
pub struct PasswordArgs {
    /// The password itself. Other users of the machine can see it (ps) and the shell keeps it
    /// in its history: in scripts prefer --password-file or --password-stdin. Rule: at least
    /// 8 characters, not the user name, not one character repeated, not a common password.
    #[arg(long, value_name = "PASSWORD")]
    password: Option<String>,
    /// Read the password from the first line of FILE (e.g. a secret file of docker or
    /// systemd).
    #[arg(long, value_name = "FILE")]
    password_file: Option<std::path::PathBuf>,
    /// Read the password from the first line of standard input
    /// (`printf '%s\n' "$PW" | kohaku user create ...`).
    #[arg(long)]
    password_stdin: bool,
}

/// The first line of `text`, without its line ending; empty is refused.
fn first_line(text: &str, from: &str) -> anyhow::Result<String> {
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        bail!("no password in {from} (its first line is empty)");
    }
    Ok(line.to_string())
}

impl PasswordArgs {
    /// The password from the source given, or asked for on the terminal.
    fn read(self, name: &str) -> anyhow::Result<String> {
        if let Some(p) = self.password {
            return Ok(p);
        }
        if let Some(path) = self.password_file {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read --password-file {}", path.display()))?;
            return first_line(&text, &path.display().to_string());
        }
        if self.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            return first_line(&line, "standard input");
        }
        ask_password(name)
    }
}

fn ask_password(name: &str) -> anyhow::Result<String> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        bail!(
            "no password given and no terminal to ask on: use --password-file FILE, \
             --password-stdin or --password PASSWORD"
        );
    }
    Ok(dialoguer::Password::new()
        .with_prompt(format!("Password for {name}"))
        .with_confirmation("Repeat password", "Passwords do not match")
        .interact()?)
}

pub fn run(cfg: Config, cmd: Cmd) -> anyhow::Result<()> {
    let hub = super::open_hub(cfg)?;
    let rt = super::runtime()?;
    let system = Caller::system();
    match cmd {
        Cmd::Create {
            name,
            email,
            password,
            admin,
        } => {
            let password = password.read(&name)?;
            let req = user_service::NewUser {
                username: name,
                email,
                password,
                admin,
            };
            let u = rt.block_on(user_service::create(&hub, &system, req))?;
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
            rt.block_on(user_service::delete(&hub, &system, &name))?;
            eprintln!("deleted user {name}");
            Ok(())
        }
        Cmd::SetAdmin { name, revoke } => {
            rt.block_on(user_service::set_admin(&hub, &system, &name, !revoke))?;
            eprintln!(
                "{name} is {}a hub admin",
                if revoke { "no longer " } else { "now " }
            );
            Ok(())
        }
        Cmd::Passwd { name, password } => {
            let password = password.read(&name)?;
            rt.block_on(user_service::set_password(&hub, &system, &name, &password))?;
            eprintln!("password of {name} changed");
            Ok(())
        }
        Cmd::List { json } => {
            let users = rt.block_on(user_service::list(&hub, &system))?;
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
