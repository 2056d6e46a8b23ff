//! `kohaku org list|create|add-member|remove-member`

use comfy_table::Table;
use kohaku::accounts::Caller;
use kohaku::config::Config;
use kohaku::orgs::{service, Role};

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
    let rt = super::runtime()?;
    let system = Caller::system();
    match cmd {
        Cmd::List { json } => {
            let rows = rt.block_on(service::list(&hub))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                let mut t = Table::new();
                t.set_header(vec!["name", "members", "created"]);
                for o in rows {
                    t.add_row(vec![o.name, o.members.to_string(), o.created_at]);
                }
                println!("{t}");
            }
        }
        Cmd::Create {
            name,
            owner,
            description,
        } => {
            let req = service::CreateOrg {
                name,
                display_name: None,
                description,
                owner: Some(owner.clone()),
            };
            let org = rt.block_on(service::create(&hub, &system, req))?;
            eprintln!("created organization {} (super-admin: {owner})", org.name);
        }
        Cmd::AddMember { org, user, role } => {
            let role = Role::parse(&role)?;
            rt.block_on(service::set_member(&hub, &system, &org, &user, role))?;
            eprintln!("{user} is now {} of {org}", role.as_str());
        }
        Cmd::RemoveMember { org, user } => {
            rt.block_on(service::remove_member(&hub, &system, &org, &user))?;
            eprintln!("removed {user} from {org}");
        }
    }
    Ok(())
}
