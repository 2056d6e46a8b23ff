//! Commits through the HF API: NDJSON parsing, tree edits, the CAS ref move, branch/tag ops.

pub mod apply;
pub mod branches;
pub mod gitattributes;
pub mod ops;
pub mod rewrite;
pub mod tree_edit;
pub mod turns;

pub use apply::{create_commit, writable_branch};
pub use ops::{parse_commit, CommitRequest, Header, Op};
