//! Who may learn what about stored xorbs.
//!
//! A xorb's chunk hashes and bytes are content. A caller may know them only for the chunks it
//! could read anyway: a xorb it sent whole itself (its hash proves nothing, its bytes do), or
//! chunk ranges that rebuild files it may read (an LFS object it possesses or finds in a
//! repository it can read). Dedup answers, "already stored" answers, shard registration and
//! download URLs all ask here, so stored-but-unreadable looks exactly like absent.

use std::collections::HashMap;

use crate::accounts::Caller;
use crate::db::{now_str, Conn, OptionalExtension};
use crate::error::Result;
use crate::params;

use super::store::SegmentRow;

/// The caller a CAS token stands for (`None`: anonymous, or a user that no longer exists).
pub fn caller_of(conn: &Conn, user_id: Option<i64>) -> Result<Option<Caller>> {
    let Some(id) = user_id else {
        return Ok(None);
    };
    Ok(crate::accounts::user_by_id(conn, id)?.map(|user| Caller { user, token: None }))
}

/// Did `user_id` ever send this xorb's bytes (validated)?
pub fn sent(conn: &Conn, user_id: i64, xorb: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM xet_xorb_senders WHERE xorb_hash = ?1 AND user_id = ?2",
            params![xorb, user_id],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .is_some())
}

/// Remember that `user_id` sent this xorb's bytes.
pub fn record_sender(conn: &Conn, user_id: i64, xorb: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO xet_xorb_senders (xorb_hash, user_id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params![xorb, user_id, now_str()],
    )?;
    Ok(())
}

/// A registered file's sha256 and the chunk ranges it uses of one xorb.
type FileRanges = (String, Vec<(u32, u32)>);

/// The chunk ranges of `xorb` used by registered files, with each file's sha256.
fn file_ranges(conn: &Conn, xorb: &str) -> Result<Vec<FileRanges>> {
    let rows: Vec<(String, String)> = conn.query_all(
        "SELECT f.sha256, f.segments FROM xet_file_xorbs u JOIN xet_files f ON f.file_hash = u.file_hash WHERE u.xorb_hash = ?1",
        [xorb],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for (sha256, segments) in rows {
        let segs: Vec<SegmentRow> =
            serde_json::from_str(&segments).map_err(crate::Error::internal)?;
        let ranges = segs
            .into_iter()
            .filter(|s| s.0 == xorb)
            .map(|s| (s.1, s.2))
            .collect();
        out.push((sha256, ranges));
    }
    Ok(out)
}

/// Does the union of `ranges` hold every chunk of `[start, end)`?
fn covers(ranges: &mut [(u32, u32)], start: u32, end: u32) -> bool {
    ranges.sort_unstable();
    let mut reached = start;
    for &(a, b) in ranges.iter() {
        if reached >= end {
            break;
        }
        if a > reached {
            return false;
        }
        reached = reached.max(b);
    }
    reached >= end
}

/// Chunks `[start, end)` of `xorb` rebuild (parts of) files `readable` accepts by sha256.
fn covered_by_files(
    conn: &Conn,
    xorb: &str,
    start: u32,
    end: u32,
    mut readable: impl FnMut(&str) -> Result<bool>,
) -> Result<bool> {
    if start >= end {
        return Ok(true);
    }
    let mut ranges = Vec::new();
    let mut verdicts: HashMap<String, bool> = HashMap::new();
    for (sha256, file_ranges) in file_ranges(conn, xorb)? {
        let ok = match verdicts.get(&sha256) {
            Some(v) => *v,
            None => {
                let v = readable(&sha256)?;
                verdicts.insert(sha256, v);
                v
            }
        };
        if ok {
            ranges.extend(file_ranges);
            if covers(&mut ranges, start, end) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// May `caller` know chunks `[start, end)` of `xorb` (hashes, bytes, that they exist)?
pub fn may_read_chunks(
    conn: &Conn,
    caller: Option<&Caller>,
    xorb: &str,
    start: u32,
    end: u32,
) -> Result<bool> {
    if let Some(c) = caller {
        if sent(conn, c.user.id, xorb)? {
            return Ok(true);
        }
    }
    covered_by_files(conn, xorb, start, end, |oid| {
        crate::lfs::may_read_object(conn, caller, oid)
    })
}

/// May `caller` know the whole stored xorb (`None` when it is not stored: the same answer).
pub fn may_read_xorb(conn: &Conn, caller: Option<&Caller>, xorb: &str) -> Result<bool> {
    let Some(n) = super::store::chunk_count(conn, xorb)? else {
        return Ok(false);
    };
    may_read_chunks(conn, caller, xorb, 0, n)
}

/// Is every chunk of `xorb` part of a file in repository `repo_id`'s history, so that anyone
/// who may read that repository may read the whole stored object?
pub fn whole_xorb_in_repo(conn: &Conn, repo_id: i64, xorb: &str) -> Result<bool> {
    let Some(n) = super::store::chunk_count(conn, xorb)? else {
        return Ok(false);
    };
    covered_by_files(conn, xorb, 0, n, |oid| {
        crate::lfs::repo_has_object(conn, repo_id, oid)
    })
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn coverage_of_chunk_ranges() {
        assert!(covers(&mut [(0, 4)], 0, 4));
        assert!(covers(&mut [(2, 4), (0, 2)], 0, 4));
        assert!(covers(&mut [(0, 3), (1, 5)], 2, 5));
        assert!(!covers(&mut [(0, 2), (3, 4)], 0, 4), "a gap");
        assert!(!covers(&mut [(1, 4)], 0, 4), "the start is missing");
        assert!(!covers(&mut [(0, 3)], 0, 4), "the end is missing");
        assert!(!covers(&mut [], 0, 1));
        assert!(covers(&mut [(0, 10)], 3, 4));
    }
}
