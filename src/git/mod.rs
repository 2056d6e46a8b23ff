//! Git's object model, stored by the hub: every revision is a real git commit.

pub mod cache;
pub mod commit;
pub mod object;
pub mod pointer;
pub mod store;
pub mod tree;

pub use commit::{Commit, Signature, Tag};
pub use object::Kind;
pub use pointer::Pointer;
pub use store::{BlobInfo, ObjectStore};
pub use tree::TreeEntry;
pub mod pack;
pub mod pktline;
