//! kohaku core: the domain of a self-hosted, huggingface.co-compatible model and dataset hub.
//! Knows nothing of HTTP or terminals; the daemon and the CLI call it.

pub mod accounts;
pub mod card;
pub mod commits;
pub mod config;
pub mod db;
pub mod error;
pub mod files;
pub mod fsck;
pub mod gc;
pub mod git;
pub mod history;
pub mod hub;
pub mod invitations;
pub mod lease;
pub mod lfs;
pub mod likes;
pub mod mail;
pub mod names;
pub mod orgs;
pub mod perms;
pub mod preupload;
pub mod profiles;
pub mod quota;
pub mod repos;
pub mod ssh_keys;
pub mod stats;
pub mod storage;
pub mod wire;
pub mod xet;

pub use error::{Error, Result};
pub use hub::Hub;
pub mod git_http;
