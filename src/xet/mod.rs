//! Xet storage: the CAS `hf_xet` uploads to and downloads from, under the hub's own URL.
//!
//! - [`token`]: short-lived CAS tokens, scoped to one repository and to reading or writing,
//!   signed with the hub's key so every process accepts every other's.
//! - [`xorb`]: validation of an uploaded xorb (every chunk decompressed and hashed, the xorb's
//!   merkle hash recomputed, the footer rebuilt) before it may be stored.
//! - [`shard`]: parsing of an uploaded shard (files with their sha256 and chunk ranges, xorbs
//!   with their chunks), shape checks only.
//! - [`reconstruct`]: a shard's file claims checked against stored xorbs (ranges inside, sizes,
//!   file hash recomputed), and a file's bytes written back out of its xorbs.
//!
//! - [`store`]: the database side (xorb chunk tables, registered files, the dedup index,
//!   reconstruction plans).
//! - [`cas`]: the operations the routes call, over the hub's storage.
//!
//! The formats come from `xet-core-structures` (the crate `hf_xet` 1.8.0 itself uses).

pub mod access;
pub mod cas;
pub mod gc;
pub mod reconstruct;
pub mod shard;
pub mod store;
pub mod token;
pub mod usage;
pub mod xorb;
