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
    covers_sorted(ranges, start, end)
}

/// Sorted, overlapping or touching ranges joined.
pub(super) fn merged(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// [`covers`] over ranges sorted already.
fn covers_sorted(ranges: &[(u32, u32)], start: u32, end: u32) -> bool {
    let mut reached = start;
    for &(a, b) in ranges {
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
        }
    }
    Ok(covers(&mut ranges, start, end))
}

/// What one caller may know of one stored xorb.
#[derive(Debug, Clone)]
pub struct XorbView {
    chunks: u32,
    whole: bool,
    /// Merged (sorted, disjoint, not touching) chunk ranges of files the caller may read.
    ranges: Vec<(u32, u32)>,
}

impl XorbView {
    /// The caller may know every chunk (it sent the xorb, or files it may read cover it).
    pub fn whole(&self) -> bool {
        self.whole
    }

    /// The caller may know chunks `[start, end)` (an empty range is never granted).
    pub fn covers(&self, start: u32, end: u32) -> bool {
        if start >= end || end > self.chunks {
            return false;
        }
        if self.whole {
            return true;
        }
        // `ranges` are merged: one of them must hold the whole of `[start, end)`.
        let i = self.ranges.partition_point(|r| r.0 <= start);
        i > 0 && self.ranges[i - 1].1 >= end
    }
}

/// One caller's views of xorbs, each computed once per request however many segments ask.
pub struct Reader<'a> {
    conn: &'a Conn,
    caller: Option<&'a Caller>,
    views: HashMap<String, Option<XorbView>>,
    objects: HashMap<String, bool>,
}

impl<'a> Reader<'a> {
    pub fn new(conn: &'a Conn, caller: Option<&'a Caller>) -> Self {
        Reader {
            conn,
            caller,
            views: HashMap::new(),
            objects: HashMap::new(),
        }
    }

    /// The caller's view of `xorb`; `None` when it is not stored.
    pub fn view(&mut self, xorb: &str) -> Result<Option<&XorbView>> {
        if !self.views.contains_key(xorb) {
            let v = self.compute(xorb)?;
            self.views.insert(xorb.to_string(), v);
        }
        Ok(self.views.get(xorb).and_then(Option::as_ref))
    }

    fn compute(&mut self, xorb: &str) -> Result<Option<XorbView>> {
        let Some(chunks) = super::store::chunk_count(self.conn, xorb)? else {
            return Ok(None);
        };
        if let Some(c) = self.caller {
            if sent(self.conn, c.user.id, xorb)? {
                return Ok(Some(XorbView {
                    chunks,
                    whole: true,
                    ranges: Vec::new(),
                }));
            }
        }
        let mut ranges = Vec::new();
        for (sha256, file_ranges) in file_ranges(self.conn, xorb)? {
            let ok = match self.objects.get(&sha256) {
                Some(v) => *v,
                None => {
                    let v = crate::lfs::may_read_object(self.conn, self.caller, &sha256)?;
                    self.objects.insert(sha256, v);
                    v
                }
            };
            if ok {
                ranges.extend(file_ranges);
            }
        }
        let ranges = merged(ranges);
        let whole = covers_sorted(&ranges, 0, chunks);
        Ok(Some(XorbView {
            chunks,
            whole,
            ranges,
        }))
    }

    /// May the caller know the whole stored xorb (`false` when it is not stored: the same)?
    pub fn may_read_xorb(&mut self, xorb: &str) -> Result<bool> {
        Ok(self.view(xorb)?.is_some_and(XorbView::whole))
    }
}

/// May `caller` know the whole stored xorb (`false` when it is not stored: the same answer)?
pub fn may_read_xorb(conn: &Conn, caller: Option<&Caller>, xorb: &str) -> Result<bool> {
    Reader::new(conn, caller).may_read_xorb(xorb)
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

    #[test]
    fn merging() {
        assert_eq!(
            super::merged(vec![(3, 5), (0, 2), (2, 3), (7, 9)]),
            vec![(0, 5), (7, 9)]
        );
        assert_eq!(super::merged(vec![(0, 9), (2, 3)]), vec![(0, 9)]);
    }

    #[test]
    fn views_grant_only_covered_ranges() {
        let v = super::XorbView {
            chunks: 10,
            whole: false,
            ranges: super::merged(vec![(5, 7), (0, 2), (2, 3), (7, 8)]),
        };
        assert_eq!(v.ranges, vec![(0, 3), (5, 8)]);
        assert!(v.covers(0, 3) && v.covers(1, 2) && v.covers(5, 8) && v.covers(6, 7));
        assert!(!v.covers(2, 4) && !v.covers(3, 5) && !v.covers(4, 6) && !v.covers(7, 9));
        assert!(!v.covers(2, 2), "empty");
        let whole = super::XorbView {
            chunks: 10,
            whole: true,
            ranges: vec![],
        };
        assert!(whole.covers(0, 10) && !whole.covers(0, 11) && !whole.covers(3, 3));
    }
}
