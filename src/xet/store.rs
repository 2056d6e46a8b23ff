//! The hub's CAS state: validated xorbs and their chunk tables, files registered by shards,
//! the global-dedup index, and reconstruction plans.
//!
//! A xorb is stored (object `xet/xorbs/..`) before its row is written, and a file's row only
//! after every xorb it needs has one, so a row always means the bytes are there. A file becomes
//! an ordinary LFS object (`lfs_objects.xet_hash`) only once its sha256 was checked against the
//! bytes its chunks rebuild.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::shard::{Segment, ShardFile, ShardSummary};
use crate::accounts::Caller;
use crate::db::{now_str, Conn, OptionalExtension};
use crate::error::{Error, Result};
use crate::params;

/// Storage key of a stored xorb.
pub fn xorb_key(hash: &str) -> String {
    format!("xet/xorbs/{}/{hash}", &hash[..2.min(hash.len())])
}

/// Storage key of a stored shard (kept to answer dedup queries).
pub fn shard_key(key: &str) -> String {
    format!("xet/shards/{key}")
}

/// One chunk of a stored xorb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChunk {
    pub hash: String,
    pub len: u32,
    /// End of the chunk's bytes (header included) in the stored object.
    pub byte_end: u32,
}

const PACKED: usize = 40;

/// Pack a chunk table for the `xet_xorbs.chunks` column.
pub fn pack_chunks(chunks: &[(String, u32)], byte_ends: &[u32]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(chunks.len() * PACKED);
    for ((hash, len), end) in chunks.iter().zip(byte_ends) {
        let raw = hex::decode(hash).map_err(Error::internal)?;
        if raw.len() != 32 {
            return Err(Error::internal("chunk hash is not 32 bytes"));
        }
        out.extend_from_slice(&raw);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&end.to_le_bytes());
    }
    Ok(out)
}

fn unpack_chunks(blob: &[u8]) -> Result<Vec<StoredChunk>> {
    if !blob.len().is_multiple_of(PACKED) {
        return Err(Error::internal("damaged xorb chunk table"));
    }
    Ok(blob
        .chunks_exact(PACKED)
        .map(|c| StoredChunk {
            hash: hex::encode(&c[..32]),
            len: u32::from_le_bytes([c[32], c[33], c[34], c[35]]),
            byte_end: u32::from_le_bytes([c[36], c[37], c[38], c[39]]),
        })
        .collect())
}

/// Is the xorb stored?
pub fn xorb_exists(conn: &Conn, hash: &str) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM xet_xorbs WHERE hash = ?1", [hash], |r| {
            r.get::<_, i64>(0)
        })
        .optional()?
        .is_some())
}

/// The chunk table of a stored xorb.
pub fn chunk_table(conn: &Conn, hash: &str) -> Result<Option<Vec<StoredChunk>>> {
    let blob: Option<Vec<u8>> = conn
        .query_row(
            "SELECT chunks FROM xet_xorbs WHERE hash = ?1",
            [hash],
            |r| r.get(0),
        )
        .optional()?;
    blob.map(|b| unpack_chunks(&b)).transpose()
}

/// How many chunks a stored xorb holds (`None`: not stored).
pub fn chunk_count(conn: &Conn, hash: &str) -> Result<Option<u32>> {
    Ok(conn
        .query_row(
            "SELECT LENGTH(chunks) FROM xet_xorbs WHERE hash = ?1",
            [hash],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .map(|n| (n / PACKED as i64) as u32))
}

/// Record a xorb whose object was just stored; false when it was recorded already.
pub fn record_xorb(conn: &Conn, summary: &super::xorb::XorbSummary) -> Result<bool> {
    let packed = pack_chunks(&summary.chunks, &summary.byte_ends)?;
    Ok(conn.execute(
        "INSERT INTO xet_xorbs (hash, stored_bytes, raw_bytes, chunks, created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        params![
            summary.hash.as_str(),
            summary.stored_bytes as i64,
            summary.raw_bytes as i64,
            packed,
            now_str()
        ],
    )? == 1)
}

/// A registered file: how to rebuild it.
#[derive(Debug, Clone)]
pub struct XetFile {
    pub file_hash: String,
    pub sha256: String,
    pub size: u64,
    pub segments: Vec<Segment>,
}

/// A segment as stored in `xet_files.segments`: `[xorb, chunk_start, chunk_end, bytes]`.
#[derive(Serialize, Deserialize)]
pub(super) struct SegmentRow(
    pub(super) String,
    pub(super) u32,
    pub(super) u32,
    pub(super) u32,
);

/// A registered file by its Xet hash.
pub fn file(conn: &Conn, file_hash: &str) -> Result<Option<XetFile>> {
    let row: Option<(String, i64, String)> = conn
        .query_row(
            "SELECT sha256, size, segments FROM xet_files WHERE file_hash = ?1",
            [file_hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((sha256, size, segments)) = row else {
        return Ok(None);
    };
    let rows: Vec<SegmentRow> = serde_json::from_str(&segments).map_err(Error::internal)?;
    Ok(Some(XetFile {
        file_hash: file_hash.to_string(),
        sha256,
        size: size as u64,
        segments: rows
            .into_iter()
            .map(|SegmentRow(xorb, chunk_start, chunk_end, bytes)| Segment {
                xorb,
                chunk_start,
                chunk_end,
                bytes,
            })
            .collect(),
    }))
}

/// The Xet hash of an LFS object whose bytes live in xorbs.
pub fn xet_hash_of(conn: &Conn, oid: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT xet_hash FROM lfs_objects WHERE oid = ?1",
            [oid],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

/// How to rebuild bytes `[start, end)` of LFS object `oid`, with its size, when it was
/// uploaded through Xet.
pub fn plan_object(conn: &Conn, oid: &str, start: u64, end: u64) -> Result<Option<(Plan, u64)>> {
    let Some(file_hash) = xet_hash_of(conn, oid)? else {
        return Ok(None);
    };
    let Some(f) = file(conn, &file_hash)? else {
        return Ok(None);
    };
    Ok(Some((plan(conn, &f, start, end)?, f.size)))
}

/// What a shard may register: each of its xorb sections must describe a stored xorb the
/// uploader may read exactly, and each file must be rebuildable, from chunk ranges the uploader
/// may read, to its stated file hash. Returns the chunk tables of the xorbs the files use.
///
/// A xorb or range the uploader may not read is refused exactly as an absent one, before
/// anything computed from its content can show in a message.
pub fn check_shard(
    conn: &Conn,
    caller: Option<&Caller>,
    shard: &ShardSummary,
) -> Result<HashMap<String, Vec<StoredChunk>>> {
    let not_sent = |xorb: &str| {
        Error::bad_request(format!(
            "shard rejected: xorb {xorb} was not uploaded (or not accepted)"
        ))
    };
    let mut reader = super::access::Reader::new(conn, caller);
    let mut tables: HashMap<String, Vec<StoredChunk>> = HashMap::new();
    for x in &shard.xorbs {
        if !reader.may_read_xorb(&x.hash)? {
            return Err(not_sent(&x.hash));
        }
        let table = chunk_table(conn, &x.hash)?.ok_or_else(|| not_sent(&x.hash))?;
        let same = table.len() == x.chunks.len()
            && table
                .iter()
                .zip(&x.chunks)
                .all(|(s, (h, n))| s.hash == *h && s.len == *n);
        if !same {
            return Err(Error::bad_request(format!(
                "shard rejected: its chunk list of xorb {} is not the stored xorb's",
                x.hash
            )));
        }
        tables.insert(x.hash.clone(), table);
    }
    for f in &shard.files {
        // Every segment of every file must lie in chunks this caller may know, checked before
        // anything is computed from them.
        for seg in &f.segments {
            let readable = reader
                .view(&seg.xorb)?
                .is_some_and(|v| v.covers(seg.chunk_start, seg.chunk_end));
            if !readable {
                return Err(Error::bad_request(format!(
                    "file {} rejected: it uses chunks of xorb {} that this upload did not send",
                    f.file_hash, seg.xorb
                )));
            }
            if !tables.contains_key(&seg.xorb) {
                let table = chunk_table(conn, &seg.xorb)?.ok_or_else(|| not_sent(&seg.xorb))?;
                tables.insert(seg.xorb.clone(), table);
            }
        }
        // Only the segments' own (readable) ranges are looked at from here on.
        super::reconstruct::check_file(f, |h| {
            tables
                .get(h)
                .map(|t| t.iter().map(|c| (c.hash.clone(), c.len)).collect())
        })?;
        if f.sha256.is_none() {
            return Err(Error::bad_request(format!(
                "shard rejected: file {} has no sha256",
                f.file_hash
            )));
        }
    }
    Ok(tables)
}

/// Is this file already registered with this sha256 (nothing to verify again)?
pub fn registered_as(conn: &Conn, file_hash: &str, sha256: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM xet_files WHERE file_hash = ?1 AND sha256 = ?2",
            params![file_hash, sha256],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .is_some())
}

/// Register verified files (and the shard's dedup sample), in one transaction: each file
/// becomes an LFS object the uploader possesses.
pub fn register(
    conn: &mut Conn,
    user_id: Option<i64>,
    files: &[ShardFile],
    shard_key: Option<&str>,
    dedup_chunks: &[String],
) -> Result<()> {
    let tx = crate::db::write_tx(conn)?;
    let now = now_str();
    // GC deletes unused xorbs in the same kind of transaction: one of the two sees the other.
    for f in files {
        for s in &f.segments {
            if !xorb_exists(&tx, &s.xorb)? {
                return Err(Error::Conflict {
                    message: format!(
                        "xorb {} was garbage-collected during this upload; upload again",
                        s.xorb
                    ),
                    url: None,
                });
            }
        }
    }
    for f in files {
        let sha256 = f.sha256.as_deref().unwrap_or_default();
        let segments: Vec<SegmentRow> = f
            .segments
            .iter()
            .map(|s| SegmentRow(s.xorb.clone(), s.chunk_start, s.chunk_end, s.bytes))
            .collect();
        // A file hash names its chunks; a second registration (the same chunks found in other
        // xorbs) keeps the first one's segments and xorb references.
        let fresh = tx.execute(
            "INSERT INTO xet_files (file_hash, sha256, size, segments, created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            params![
                f.file_hash.as_str(),
                sha256,
                f.size as i64,
                serde_json::to_string(&segments).map_err(Error::internal)?,
                now.as_str()
            ],
        )? == 1;
        let xorbs: HashSet<&str> = f.segments.iter().map(|s| s.xorb.as_str()).collect();
        for x in xorbs.into_iter().filter(|_| fresh) {
            tx.execute(
                "INSERT INTO xet_file_xorbs (file_hash, xorb_hash) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![f.file_hash.as_str(), x],
            )?;
        }
        // A plain LFS copy recorded first stays what it is; a Xet row recorded by a file of the
        // same bytes (another chunking) is as good.
        tx.execute(
            "INSERT INTO lfs_objects (oid, size, created_at, storage_key, xet_hash) VALUES (?1, ?2, ?3, NULL, ?4) ON CONFLICT DO NOTHING",
            params![sha256, f.size as i64, now.as_str(), f.file_hash.as_str()],
        )?;
        if let Some(uid) = user_id {
            tx.execute(
                "INSERT INTO lfs_possession (oid, user_id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![sha256, uid, now.as_str()],
            )?;
        }
    }
    if let Some(key) = shard_key {
        for c in dedup_chunks {
            tx.execute(
                "INSERT INTO xet_dedup_entries (chunk_hash, shard_key, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![c.as_str(), key, now.as_str()],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Most shards a dedup query looks at (newest first).
const DEDUP_CANDIDATES: i64 = 8;

/// The stored shards a dedup query for `chunk` finds, newest first.
pub fn dedup_shard_keys(conn: &Conn, chunk: &str) -> Result<Vec<String>> {
    Ok(conn.query_all(
        "SELECT shard_key FROM xet_dedup_entries WHERE chunk_hash = ?1 ORDER BY created_at DESC, shard_key LIMIT ?2",
        params![chunk, DEDUP_CANDIDATES],
        |r| r.get(0),
    )?)
}

/// Which of `hashes` are stored xorbs.
pub fn stored_xorbs(conn: &Conn, hashes: &[String]) -> Result<HashSet<String>> {
    let mut out = HashSet::new();
    for h in hashes {
        if xorb_exists(conn, h)? {
            out.insert(h.clone());
        }
    }
    Ok(out)
}

/// One piece of a reconstruction: chunks `[chunk_start, chunk_end)` of `xorb`, which sit at
/// bytes `[byte_start, byte_end)` of the stored object and unpack to `unpacked` bytes.
#[derive(Debug, Clone)]
pub struct Term {
    pub xorb: String,
    pub chunk_start: u32,
    pub chunk_end: u32,
    pub unpacked: u32,
    pub byte_start: u64,
    pub byte_end: u64,
    /// Uncompressed length of each chunk of the term, in order.
    pub chunk_lens: Vec<u32>,
}

/// How to rebuild bytes `[start, end)` of a file: the terms, and how many bytes of the first
/// term come before `start`.
#[derive(Debug, Clone)]
pub struct Plan {
    pub offset_into_first: u64,
    pub terms: Vec<Term>,
}

/// Plan the reconstruction of `[start, end)` (`end` clamped to the size); 416 when `start` is
/// past the end of a non-empty file.
pub fn plan(conn: &Conn, file: &XetFile, start: u64, end: u64) -> Result<Plan> {
    let end = end.min(file.size);
    if start >= end {
        if file.size == 0 && start == 0 {
            return Ok(Plan {
                offset_into_first: 0,
                terms: Vec::new(),
            });
        }
        return Err(Error::RangeNotSatisfiable {
            message: format!("bytes {start}- are outside the file ({} bytes)", file.size),
            size: file.size,
        });
    }
    let mut tables: HashMap<&str, Vec<StoredChunk>> = HashMap::new();
    let mut terms = Vec::new();
    let mut offset_into_first = 0;
    let mut pos = 0u64; // file offset of the current chunk
    for seg in &file.segments {
        let seg_end = pos + u64::from(seg.bytes);
        if seg_end <= start {
            pos = seg_end;
            continue;
        }
        if pos >= end {
            break;
        }
        if !tables.contains_key(seg.xorb.as_str()) {
            let t = chunk_table(conn, &seg.xorb)?.ok_or_else(|| {
                Error::internal(format!("xorb {} of a registered file is gone", seg.xorb))
            })?;
            tables.insert(&seg.xorb, t);
        }
        let table = &tables[seg.xorb.as_str()];
        let mut first: Option<u32> = None;
        let mut last = seg.chunk_start;
        let mut lens = Vec::new();
        for i in seg.chunk_start..seg.chunk_end {
            let c = table
                .get(i as usize)
                .ok_or_else(|| Error::internal(format!("xorb {} is short", seg.xorb)))?;
            let c_end = pos + u64::from(c.len);
            if c_end > start && pos < end {
                if first.is_none() {
                    first = Some(i);
                    if terms.is_empty() {
                        offset_into_first = start.saturating_sub(pos);
                    }
                }
                last = i;
                lens.push(c.len);
            }
            pos = c_end;
        }
        if let Some(first) = first {
            let byte_start = if first == 0 {
                0
            } else {
                u64::from(table[first as usize - 1].byte_end)
            };
            terms.push(Term {
                xorb: seg.xorb.clone(),
                chunk_start: first,
                chunk_end: last + 1,
                unpacked: lens.iter().sum(),
                byte_start,
                byte_end: u64::from(table[last as usize].byte_end),
                chunk_lens: lens,
            });
        }
        pos = seg_end;
    }
    Ok(Plan {
        offset_into_first,
        terms,
    })
}
