//! Organization actions as the HTTP API, the admin API and the CLI all perform them: one
//! function per action, taking the acting identity (`Caller::system()` for the operator at the
//! shell) and returning the wire shape huggingface.co / KohakuHub clients read.

use serde::{Deserialize, Serialize};

use super::Role;
use crate::accounts::{self, Caller, User};
use crate::error::{Error, Result};
use crate::hub::Hub;
use crate::wire::Success;

/// Where a user's or organization's avatar is served (the URL clients are given).
pub fn avatar_url(hub: &Hub, u: &User) -> String {
    if u.is_org {
        hub.url(&format!("/api/organizations/{}/avatar", u.username))
    } else {
        hub.url(&format!("/api/users/{}/avatar", u.username))
    }
}

/// `POST /org/create`, `POST /admin/api/orgs`, `kohaku org create`.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateOrg {
    pub name: String,
    #[serde(default, alias = "fullname", alias = "full_name")]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The user who becomes super-admin; the caller when absent. Only hub admins (and the
    /// operator) may name someone else.
    #[serde(default)]
    pub owner: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct OrgCreated {
    pub success: bool,
    pub name: String,
    pub id: i64,
}

pub async fn create(hub: &Hub, caller: &Caller, req: CreateOrg) -> Result<OrgCreated> {
    if !caller.can_write() {
        return Err(Error::Forbidden("This token is read-only".into()));
    }
    let caller = caller.clone();
    hub.db
        .call(move |c| {
            let owner = match &req.owner {
                Some(name) if caller.user.is_admin => accounts::require_user(c, name)?,
                Some(name) if *name != caller.user.username => {
                    return Err(Error::Forbidden(
                        "Only hub admins can create an organization for someone else".into(),
                    ))
                }
                _ => caller.user.clone(),
            };
            let org = super::create_org(
                c,
                &owner,
                &req.name,
                req.display_name.as_deref(),
                req.description.as_deref(),
            )?;
            Ok(OrgCreated {
                success: true,
                name: org.username,
                id: org.id,
            })
        })
        .await
}

/// `GET /org/{org}` (KohakuHub's shape).
#[derive(Debug, Serialize)]
pub struct OrgInfo {
    pub id: i64,
    pub name: String,
    pub fullname: Option<String>,
    pub description: Option<String>,
    pub created_at: String,
    pub member_count: usize,
}

pub async fn info(hub: &Hub, name: &str) -> Result<OrgInfo> {
    let n = name.to_string();
    hub.db
        .call(move |c| {
            let (org, member_count) = super::org_with_member_count(c, &n)?;
            Ok(OrgInfo {
                description: accounts::user_bio(c, org.id)?,
                id: org.id,
                name: org.username,
                fullname: org.full_name,
                created_at: org.created_at,
                member_count,
            })
        })
        .await
}

/// One member in KohakuHub's `GET /org/{org}/members`.
#[derive(Debug, Serialize)]
pub struct Member {
    pub user: String,
    pub username: String,
    pub role: Role,
}

#[derive(Debug, Serialize)]
pub struct Members {
    pub members: Vec<Member>,
}

pub async fn members(hub: &Hub, org: &str) -> Result<Members> {
    let rows = member_rows(hub, org).await?;
    Ok(Members {
        members: rows
            .into_iter()
            .map(|(u, role)| Member {
                user: u.username.clone(),
                username: u.username,
                role,
            })
            .collect(),
    })
}

async fn member_rows(hub: &Hub, org: &str) -> Result<Vec<(User, Role)>> {
    let n = org.to_string();
    hub.db
        .call(move |c| super::list_members(c, super::require_org(c, &n)?.id))
        .await
}

/// One member in huggingface.co's `GET /api/organizations/{org}/members`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HfMember {
    pub user: String,
    pub fullname: String,
    pub avatar_url: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: Role,
}

pub async fn hf_members(hub: &Hub, org: &str) -> Result<Vec<HfMember>> {
    let rows = member_rows(hub, org).await?;
    Ok(rows
        .into_iter()
        .map(|(u, role)| HfMember {
            avatar_url: avatar_url(hub, &u),
            fullname: u.full_name.clone().unwrap_or_else(|| u.username.clone()),
            user: u.username,
            kind: "user",
            role,
        })
        .collect())
}

/// Add a member or change a member's role (`POST/PUT /org/{org}/members`, admin API, CLI).
pub async fn set_member(
    hub: &Hub,
    caller: &Caller,
    org: &str,
    username: &str,
    role: Role,
) -> Result<Success> {
    let (caller, org, username) = (caller.clone(), org.to_string(), username.to_string());
    hub.db
        .call(move |c| super::set_member(c, &caller, &org, &username, role))
        .await?;
    Ok(Success::new())
}

/// Remove a member (members may leave on their own; one super-admin always stays).
pub async fn remove_member(
    hub: &Hub,
    caller: &Caller,
    org: &str,
    username: &str,
) -> Result<Success> {
    let (caller, org, username) = (caller.clone(), org.to_string(), username.to_string());
    hub.db
        .call(move |c| super::remove_member(c, &caller, &org, &username))
        .await?;
    Ok(Success::new())
}

/// An organization as a user's membership (`GET /org/users/{user}/orgs`).
#[derive(Debug, Serialize)]
pub struct Membership {
    pub name: String,
    pub fullname: Option<String>,
    pub role: Role,
}

#[derive(Debug, Serialize)]
pub struct Memberships {
    pub organizations: Vec<Membership>,
}

pub async fn memberships_of(hub: &Hub, username: &str) -> Result<Memberships> {
    let n = username.to_string();
    let rows = hub
        .db
        .call(move |c| super::user_orgs(c, accounts::require_user(c, &n)?.id))
        .await?;
    Ok(Memberships {
        organizations: rows
            .into_iter()
            .map(|(o, role)| Membership {
                name: o.username,
                fullname: o.full_name,
                role,
            })
            .collect(),
    })
}

/// An organization in `whoami` and user overviews.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgBadge {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    pub fullname: String,
    pub avatar_url: String,
    pub role_in_org: Role,
}

pub async fn badges(hub: &Hub, user_id: i64) -> Result<Vec<OrgBadge>> {
    let rows = hub.db.call(move |c| super::user_orgs(c, user_id)).await?;
    Ok(rows
        .into_iter()
        .map(|(o, role)| OrgBadge {
            kind: "org",
            avatar_url: avatar_url(hub, &o),
            fullname: o.full_name.clone().unwrap_or_else(|| o.username.clone()),
            name: o.username,
            role_in_org: role,
        })
        .collect())
}

/// `GET /api/organizations/{org}/overview` (`get_organization_overview`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgOverview {
    pub name: String,
    pub fullname: String,
    pub avatar_url: String,
    pub details: Option<String>,
    pub is_verified: bool,
    pub num_users: usize,
    pub num_models: i64,
    pub num_datasets: i64,
    pub num_spaces: i64,
}

pub async fn overview(hub: &Hub, caller: Option<&Caller>, name: &str) -> Result<OrgOverview> {
    let (n, caller) = (name.to_string(), caller.cloned());
    let (org, members, bio, counts) = hub
        .db
        .call(move |c| {
            let (org, members) = super::org_with_member_count(c, &n)?;
            let bio = accounts::user_bio(c, org.id)?;
            let counts = crate::repos::listing::count_by_type(c, &org.username, caller.as_ref())?;
            Ok((org, members, bio, counts))
        })
        .await?;
    Ok(OrgOverview {
        avatar_url: avatar_url(hub, &org),
        fullname: org
            .full_name
            .clone()
            .unwrap_or_else(|| org.username.clone()),
        name: org.username,
        details: bio,
        is_verified: false,
        num_users: members,
        num_models: counts.models,
        num_datasets: counts.datasets,
        num_spaces: counts.spaces,
    })
}

/// `GET /api/users/{user}/overview` (`get_user_overview`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOverview {
    pub user: String,
    pub fullname: String,
    pub avatar_url: String,
    pub details: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub is_pro: bool,
    pub created_at: String,
    pub num_models: i64,
    pub num_datasets: i64,
    pub num_spaces: i64,
    pub orgs: Vec<OrgBadge>,
}

pub async fn user_overview(hub: &Hub, caller: Option<&Caller>, name: &str) -> Result<UserOverview> {
    let (n, caller) = (name.to_string(), caller.cloned());
    let (user, bio, counts) = hub
        .db
        .call(move |c| {
            let user = accounts::require_user(c, &n)?;
            let bio = accounts::user_bio(c, user.id)?;
            let counts = crate::repos::listing::count_by_type(c, &user.username, caller.as_ref())?;
            Ok((user, bio, counts))
        })
        .await?;
    Ok(UserOverview {
        avatar_url: avatar_url(hub, &user),
        fullname: user
            .full_name
            .clone()
            .unwrap_or_else(|| user.username.clone()),
        details: bio,
        kind: "user",
        is_pro: false,
        num_models: counts.models,
        num_datasets: counts.datasets,
        num_spaces: counts.spaces,
        orgs: badges(hub, user.id).await?,
        created_at: user.created_at,
        user: user.username,
    })
}

/// An organization in the admin listings (admin API, `kohaku org list`).
#[derive(Debug, Serialize)]
pub struct OrgSummary {
    pub name: String,
    pub members: usize,
    pub created_at: String,
}

pub async fn list(hub: &Hub) -> Result<Vec<OrgSummary>> {
    hub.db
        .call(|c| {
            let mut out = Vec::new();
            for o in super::list_orgs(c)? {
                out.push(OrgSummary {
                    members: super::member_count(c, o.id)?,
                    name: o.username,
                    created_at: o.created_at,
                });
            }
            Ok(out)
        })
        .await
}
