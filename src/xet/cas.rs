//! CAS operations over the hub's storage: receiving xorbs and shards, answering dedup queries,
//! and streaming a file's bytes back out of its xorbs.

use std::collections::HashSet;
use std::io::Cursor;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use xet_core_structures::metadata_shard::streaming_shard::MDBMinimalShard;
use xet_core_structures::xorb_object::{
    deserialize_chunk, deserialize_chunk_header, XORB_CHUNK_HEADER_LENGTH,
};

use super::store::{self, shard_key, xorb_key, Plan};
use super::{access, shard, xorb};
use crate::error::{Error, Result};
use crate::hub::Hub;
use crate::storage::{ByteStream, Storage};

/// Shard bytes one dedup query reads at most (each stored shard is at most 64 MiB).
const MAX_DEDUP_READ_BYTES: usize = 64 << 20;

/// How long a dedup answer may be cached by the client.
const DEDUP_ANSWER_TTL_SECS: u64 = 7 * 24 * 3600;

/// Receive a xorb addressed to `hash` from `body`, sent by `user_id`: validated as it streams
/// in (every chunk decompressed and hashed, the merkle hash recomputed), its stored form staged
/// on disk and fsynced, then stored, then recorded with its sender. Returns whether it was new
/// to this user (`false`: the user sent it before and `body` was not read).
///
/// A xorb stored already is read and validated all the same unless this user sent it before:
/// its bytes, not its hash, are what lets a user learn its chunks later; and the answer is the
/// one a new xorb gets, so nobody learns what others stored.
pub async fn put_xorb<R: AsyncRead + Unpin>(
    hub: &Hub,
    user_id: i64,
    hash: &str,
    body: &mut R,
) -> Result<bool> {
    let expected = xorb::parse_hash(hash)?;
    let h = hash.to_string();
    let (stored, sent) = hub
        .db
        .call(move |c| {
            let stored = store::xorb_exists(c, &h)?;
            Ok((stored, stored && access::sent(c, user_id, &h)?))
        })
        .await?;
    if sent {
        return Ok(false);
    }
    let staged = hub.storage.staging_path();
    let received = async {
        if let Some(dir) = staged.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let mut out = tokio::io::BufWriter::new(tokio::fs::File::create(&staged).await?);
        let summary = xorb::receive(body, &expected, &mut out).await?;
        out.into_inner().sync_all().await?;
        Ok::<_, Error>(summary)
    }
    .await;
    let summary = match received {
        Ok(s) => s,
        Err(e) => {
            let _ = tokio::fs::remove_file(&staged).await;
            return Err(e);
        }
    };
    if stored {
        let _ = tokio::fs::remove_file(&staged).await;
    } else {
        hub.storage
            .commit_staged(&staged, &xorb_key(&summary.hash))
            .await?;
    }
    let (hash, received) = (summary.hash.clone(), summary.received_bytes);
    let inserted = hub
        .db
        .call(move |c| {
            let inserted = store::record_xorb(c, &summary)?;
            access::record_sender(c, user_id, &summary.hash)?;
            Ok(inserted)
        })
        .await?;
    tracing::info!(xorb = %hash, received_bytes = received, inserted, "xorb received");
    Ok(true)
}

/// Receive a shard from `user_id`: every xorb section must be a stored xorb's, every file must
/// rebuild from stored chunks the user may read (or sent) to its file hash, and its bytes must
/// hash to the sha256 it claims. Then the files become LFS objects the user possesses and the
/// shard answers dedup queries. Nothing is registered unless all of it holds.
pub async fn register_shard(hub: &Hub, user_id: Option<i64>, data: Bytes) -> Result<()> {
    let data2 = data.clone();
    let summary = tokio::task::spawn_blocking(move || shard::parse(&data2))
        .await
        .map_err(Error::internal)??;
    let s2 = summary.clone();
    hub.db
        .call(move |c| {
            let caller = access::caller_of(c, user_id)?;
            store::check_shard(c, caller.as_ref(), &s2).map(|_| ())
        })
        .await?;
    for f in &summary.files {
        let sha = f.sha256.clone().unwrap_or_default();
        let (fh, s) = (f.file_hash.clone(), sha.clone());
        if hub
            .db
            .call(move |c| store::registered_as(c, &fh, &s))
            .await?
        {
            continue;
        }
        let file = store::XetFile {
            file_hash: f.file_hash.clone(),
            sha256: sha.clone(),
            size: f.size,
            segments: f.segments.clone(),
        };
        let size = f.size;
        let plan = hub.db.call(move |c| store::plan(c, &file, 0, size)).await?;
        let computed = sha256_of(stream(&hub.storage, plan, size)).await?;
        if computed != sha {
            return Err(Error::bad_request(format!(
                "shard rejected: the bytes of file {} do not hash to sha256 {sha}",
                f.file_hash
            )));
        }
    }
    // Kept for dedup queries only when it lists xorbs and registers files (a shard of known
    // xorbs, or of no files, adds nothing but work for every later query).
    let key = if summary.xorbs.is_empty()
        || summary.files.is_empty()
        || summary.dedup_chunks.is_empty()
    {
        None
    } else {
        let key = hex::encode(Sha256::digest(&data));
        hub.storage
            .put_bytes_if_absent(&shard_key(&key), &data)
            .await?;
        Some(key)
    };
    hub.db
        .call(move |c| {
            store::register(
                c,
                user_id,
                &summary.files,
                key.as_deref(),
                &summary.dedup_chunks,
            )
        })
        .await
}

/// Answer a global dedup query from `user_id`: the xorb sections the user may read of a stored
/// shard that listed `chunk`, as a shard stamped with an expiry, or `None` (also when every
/// such xorb is one the user may not read: then the chunk is as good as unknown).
pub async fn dedup_answer(hub: &Hub, user_id: Option<i64>, chunk: &str) -> Result<Option<Vec<u8>>> {
    xorb::parse_hash(chunk)?;
    let c = chunk.to_string();
    let keys = hub
        .db
        .call(move |db| store::dedup_shard_keys(db, &c))
        .await?;
    let mut read = 0usize;
    for key in keys {
        if read > MAX_DEDUP_READ_BYTES {
            break;
        }
        let Some(data) = hub.storage.read_all(&shard_key(&key)).await? else {
            continue;
        };
        read += data.len();
        let (shard, listed) = tokio::task::spawn_blocking(move || {
            let shard = MDBMinimalShard::from_reader(&mut Cursor::new(&data), true, true)
                .map_err(Error::internal)?;
            let listed: Vec<String> = (0..shard.num_xorb())
                .filter_map(|i| shard.xorb(i))
                .map(|x| x.xorb_hash().hex())
                .collect();
            Ok::<_, Error>((shard, listed))
        })
        .await
        .map_err(Error::internal)??;
        let c = chunk.to_string();
        let kept: HashSet<String> = hub
            .db
            .call(move |db| {
                let caller = access::caller_of(db, user_id)?;
                let mut reader = access::Reader::new(db, caller.as_ref());
                let mut kept = HashSet::new();
                let mut holds_chunk = false;
                for x in listed {
                    if reader.may_read_xorb(&x)? {
                        holds_chunk = holds_chunk
                            || store::chunk_table(db, &x)?
                                .is_some_and(|t| t.iter().any(|s| s.hash == c));
                        kept.insert(x);
                    }
                }
                // The chunk itself must be in a xorb the caller may know: otherwise the answer
                // would confirm that someone stored it.
                Ok(if holds_chunk { kept } else { HashSet::new() })
            })
            .await?;
        if kept.is_empty() {
            continue;
        }
        return tokio::task::spawn_blocking(move || {
            let now = std::time::SystemTime::now();
            let expiry = now + std::time::Duration::from_secs(DEDUP_ANSWER_TTL_SECS);
            let created = now
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            let mut out = Vec::new();
            shard
                .serialize_xorb_subset_with_expiry(&mut out, Some(expiry), Some(created), |x| {
                    kept.contains(&x.xorb_hash().hex())
                })
                .map_err(Error::internal)?;
            Ok(Some(out))
        })
        .await
        .map_err(Error::internal)?;
    }
    Ok(None)
}

/// The Xet hash of the LFS object a pointer names, when it was uploaded through Xet.
pub async fn xet_hash_of_pointer(
    hub: &Hub,
    pointer: Option<&crate::git::Pointer>,
) -> Result<Option<String>> {
    let Some(p) = pointer else {
        return Ok(None);
    };
    let oid = p.oid.clone();
    hub.db.call(move |c| store::xet_hash_of(c, &oid)).await
}

/// Stream `len` bytes of a planned reconstruction, chunk by chunk (a chunk at most in memory).
pub fn stream(storage: &Storage, plan: Plan, len: u64) -> ByteStream {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let storage = storage.clone();
    tokio::spawn(async move {
        if let Err(e) = produce(&storage, &plan, len, &tx).await {
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    ByteStream(rx)
}

async fn produce(
    storage: &Storage,
    plan: &Plan,
    len: u64,
    tx: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
) -> Result<()> {
    let mut skip = plan.offset_into_first as usize;
    let mut left = len;
    for term in &plan.terms {
        if left == 0 {
            break;
        }
        let damaged = |why: String| Error::internal(format!("stored xorb {}: {why}", term.xorb));
        let obj = storage
            .open_range(
                &xorb_key(&term.xorb),
                term.byte_start,
                term.byte_end - term.byte_start,
            )
            .await?
            .ok_or_else(|| damaged("missing".into()))?;
        let mut reader = BufReader::with_capacity(1 << 20, obj.reader);
        for &expected in &term.chunk_lens {
            if left == 0 {
                break;
            }
            let mut buf = vec![0u8; XORB_CHUNK_HEADER_LENGTH];
            reader.read_exact(&mut buf).await?;
            let header = deserialize_chunk_header(&mut Cursor::new(&buf))
                .map_err(|e| damaged(e.to_string()))?;
            buf.resize(
                XORB_CHUNK_HEADER_LENGTH + header.get_compressed_length() as usize,
                0,
            );
            reader
                .read_exact(&mut buf[XORB_CHUNK_HEADER_LENGTH..])
                .await?;
            let (data, _, n) =
                deserialize_chunk(&mut Cursor::new(&buf)).map_err(|e| damaged(e.to_string()))?;
            if n != expected {
                return Err(damaged(format!("a chunk holds {n} bytes, not {expected}")));
            }
            let mut piece = &data[..];
            if skip > 0 {
                let s = skip.min(piece.len());
                piece = &piece[s..];
                skip -= s;
            }
            let take = piece.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            if take > 0 {
                tx.send(Ok(Bytes::copy_from_slice(&piece[..take])))
                    .await
                    .map_err(|_| Error::internal("reader went away"))?;
                left -= take as u64;
            }
        }
    }
    if left > 0 {
        return Err(Error::internal("a reconstruction ended early"));
    }
    Ok(())
}

/// The sha256 (hex) of what a stream yields.
pub async fn sha256_of(mut s: ByteStream) -> Result<String> {
    let mut h = Sha256::new();
    while let Some(piece) = s.0.recv().await {
        h.update(&piece?);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Conn;

    const XORB: &str = "c6fcf7be304af6490c10f493f68b692e56b2b79c409ef3ffdfd6485a983b3324";

    /// The fixture file (tests/fixtures/xet) registered in a fresh database and local storage;
    /// ranges of it read back through `plan` + `stream`.
    #[test]
    fn ranges_of_a_registered_file_read_back_exactly() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("kohaku-xet-{}", std::process::id()));
        let storage = Storage::local(dir.clone()).unwrap();
        let mut conn = Conn::open_in_memory().unwrap();
        crate::db::migrate(&mut conn).unwrap();
        let data = include_bytes!(
            "../../tests/fixtures/xet/c6fcf7be304af6490c10f493f68b692e56b2b79c409ef3ffdfd6485a983b3324.xorb"
        );
        let valid = xorb::validate(data, &xorb::parse_hash(XORB).unwrap()).unwrap();
        let shard = shard::parse(include_bytes!("../../tests/fixtures/xet/upload.shard")).unwrap();
        rt.block_on(storage.put_bytes_if_absent(&xorb_key(XORB), &valid.stored))
            .unwrap();
        store::record_xorb(&conn, &valid.summary).unwrap();
        store::check_shard(&conn, None, &shard).unwrap_err();
        access::record_sender(&conn, 1, XORB).unwrap();
        let alice = crate::accounts::Caller {
            user: crate::accounts::User {
                id: 1,
                username: "alice".into(),
                email: None,
                is_admin: false,
                is_org: false,
                full_name: None,
                created_at: String::new(),
            },
            token: None,
        };
        store::check_shard(&conn, Some(&alice), &shard).unwrap();
        store::register(&mut conn, None, &shard.files, None, &[]).unwrap();
        let file = store::file(&conn, &shard.files[0].file_hash)
            .unwrap()
            .unwrap();
        let expected: Vec<u8> = (0..300_000u32)
            .map(|i| ((i * 7 + i / 4096) % 251) as u8)
            .collect();
        let read = |start: u64, end: u64| {
            let plan = store::plan(&conn, &file, start, end).unwrap();
            rt.block_on(async {
                let mut s = stream(&storage, plan, end - start);
                let mut out = Vec::new();
                while let Some(piece) = s.0.recv().await {
                    out.extend_from_slice(&piece.unwrap());
                }
                out
            })
        };
        for (a, b) in [
            (0, 300_000),
            (0, 1),
            (1, 2),
            (65_535, 65_537),
            (123_456, 234_567),
            (299_999, 300_000),
        ] {
            assert!(
                read(a, b) == expected[a as usize..b as usize],
                "bytes {a}..{b}"
            );
        }
        let plan = store::plan(&conn, &file, 0, 300_000).unwrap();
        let sha = rt
            .block_on(async { sha256_of(stream(&storage, plan, 300_000)).await })
            .unwrap();
        assert_eq!(Some(sha), shard.files[0].sha256);
        assert!(store::plan(&conn, &file, 300_000, 300_001).is_err(), "416");
        assert_eq!(
            store::xet_hash_of(&conn, shard.files[0].sha256.as_deref().unwrap()).unwrap(),
            Some(file.file_hash.clone())
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
