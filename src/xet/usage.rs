//! What Xet files cost a repository: the stored bytes of the chunk ranges they use, each chunk
//! once. Not whole xorbs: a xorb may also hold chunks of files of other repositories (or other
//! users), and a repository's usage must neither pay for them nor reveal their size.

use std::collections::HashMap;

use super::access::merged;
use super::store::{self, SegmentRow};
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::params;

/// Chunk ranges per xorb.
pub type Ranges = HashMap<String, Vec<(u32, u32)>>;

fn add_segments(out: &mut Ranges, segments_json: &str, only: Option<&str>) -> Result<()> {
    let segs: Vec<SegmentRow> = serde_json::from_str(segments_json).map_err(Error::internal)?;
    for SegmentRow(xorb, start, end, _) in segs {
        if only.is_none_or(|o| o == xorb) {
            out.entry(xorb).or_default().push((start, end));
        }
    }
    Ok(())
}

/// The ranges the Xet files of the repository's LFS history use (all xorbs, or one).
pub fn repo_ranges(conn: &Conn, repo_id: i64, only: Option<&str>) -> Result<Ranges> {
    const FILES: &str = "SELECT f.segments FROM xet_files f WHERE f.file_hash IN (SELECT o.xet_hash \
         FROM lfs_history h JOIN lfs_objects o ON o.oid = h.oid WHERE h.repo_id = ?1 AND o.xet_hash IS NOT NULL)";
    let rows: Vec<String> = match only {
        None => conn.query_all(FILES, params![repo_id], |r| r.get(0))?,
        Some(x) => conn.query_all(
            &format!("{FILES} AND f.file_hash IN (SELECT file_hash FROM xet_file_xorbs WHERE xorb_hash = ?2)"),
            params![repo_id, x],
            |r| r.get(0),
        )?,
    };
    let mut out = Ranges::new();
    for s in rows {
        add_segments(&mut out, &s, only)?;
    }
    Ok(out)
}

/// The ranges the Xet file of LFS object `oid` uses; empty for a plain object.
pub fn object_ranges(conn: &Conn, oid: &str) -> Result<Ranges> {
    let rows: Vec<String> = conn.query_all(
        "SELECT f.segments FROM lfs_objects o JOIN xet_files f ON f.file_hash = o.xet_hash WHERE o.oid = ?1",
        [oid],
        |r| r.get(0),
    )?;
    let mut out = Ranges::new();
    for s in rows {
        add_segments(&mut out, &s, None)?;
    }
    Ok(out)
}

/// Stored bytes of the chunks `ranges` of `xorb` cover, each once.
pub fn xorb_range_bytes(conn: &Conn, xorb: &str, ranges: Vec<(u32, u32)>) -> Result<u64> {
    let Some(table) = store::chunk_table(conn, xorb)? else {
        return Ok(0);
    };
    let mut total = 0u64;
    for (a, b) in merged(ranges) {
        let b = (b as usize).min(table.len());
        let a = a as usize;
        if a >= b {
            continue;
        }
        let start = if a == 0 { 0 } else { table[a - 1].byte_end };
        total += u64::from(table[b - 1].byte_end.saturating_sub(start));
    }
    Ok(total)
}

/// Stored bytes of all of `ranges`.
pub fn bytes(conn: &Conn, ranges: Ranges) -> Result<u64> {
    let mut total = 0;
    for (xorb, r) in ranges {
        total += xorb_range_bytes(conn, &xorb, r)?;
    }
    Ok(total)
}
