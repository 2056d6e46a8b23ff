//! Commits through the HF API: NDJSON parsing, tree edits, branch/tag ops, and the one
//! ref-update pipeline ([`pipeline`]) that commits, pushes and the other ref movers share.

pub mod apply;
pub mod branches;
pub mod gitattributes;
pub mod ops;
pub mod pipeline;
pub mod rewrite;
pub mod tree_edit;
pub mod turns;

pub use apply::{create_commit, writable_branch};
pub use ops::{parse_commit, CommitRequest, Header, Op};
