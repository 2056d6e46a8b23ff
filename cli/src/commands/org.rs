//! `kohaku org list|create|add-member|remove-member`

use anyhow::anyhow;
use comfy_table::Table;
use kohaku::accounts;
use kohaku::config::Config;
use kohaku::orgs::{self, Role};

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// List organizations.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create an organization owned (as super-admin) by an existing user.
    Create {
        /// Organization name: a namespace for repositories (NAME/repo), shared with users.
        name: String,
        /// Existing user who becomes the organization's super-admin.
        #[arg(long)]
        owner: String,
        /// Short description of the organization.
        #[arg(long)]
        description: Option<String>,
    },
    /// Add a member, or change a member's role.
    AddMember {
        /// Organization.
        org: String,
        /// Existing user to add (or whose role changes).
        user: String,
        /// Role: visitor (reads private repos), member (writes), admin (manages members and
        /// repos) or super-admin (also manages admins).
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Remove a member.
    RemoveMember {
        /// Organization.
        org: String,
        /// Member to remove.
        user: String,
    },
}

pub fn run(cfg: Config, cmd: Cmd) -> anyhow::Result<()> {
    let hub = super::open_hub(cfg)?;
    match cmd {
        Cmd::List { json } => {
            let rows = hub.db.call_sync(|c| {
                let mut out = Vec::new();
                for o in orgs::list_orgs(c)? {
                    let n = orgs::member_count(c, o.id)?;
                    out.push((o, n));
                }
                Ok(out)
            })?;
            if json {
                let v: Vec<_> = rows.iter().map(|(o, n)| serde_json::json!({"name": o.username, "members": n, "created_at": o.created_at})).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let mut t = Table::new();
                t.set_header(vec!["name", "members", "created"]);
                for (o, n) in rows {
                    t.add_row(vec![o.username, n.to_string(), o.created_at]);
                }
                println!("{t}");
            }
        }
        Cmd::Create {
            name,
            owner,
            description,
        } => {
            let org = hub.db.call_sync(|c| {
                let u = accounts::user_by_name(c, &owner)?
                    .filter(|u| !u.is_org)
                    .ok_or_else(|| {
                        kohaku::Error::bad_request(format!("no user named '{owner}'"))
                    })?;
                orgs::create_org(c, &u, &name, None, description.as_deref())
            })?;
            eprintln!(
                "created organization {} (super-admin: {owner})",
                org.username
            );
        }
        Cmd::AddMember { org, user, role } => {
            let role = Role::parse(&role)?;
            hub.db.call_sync(|c| {
                let o = orgs::require_org(c, &org)?;
                let u = accounts::user_by_name(c, &user)?
                    .filter(|u| !u.is_org)
                    .ok_or_else(|| kohaku::Error::bad_request(format!("no user named '{user}'")))?;
                orgs::add_member_unchecked(c, o.id, u.id, role)
            })?;
            eprintln!("{user} is now {} of {org}", role.as_str());
        }
        Cmd::RemoveMember { org, user } => {
            hub.db
                .call_sync(|c| orgs::remove_member_unchecked(c, &org, &user))
                .map_err(|e| anyhow!(e))?;
            eprintln!("removed {user} from {org}");
        }
    }
    Ok(())
}
