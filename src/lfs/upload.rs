//! Receiving LFS bytes: streamed to a staging file while hashed, admitted only when the
//! sha256 and the size match what was announced.

use std::path::Path;

use crate::db::OptionalExtension;
use md5::Md5;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::error::{Error, Result};
use crate::hub::Hub;
use crate::storage::lfs_key;

const BUF: usize = 1 << 20;

/// Copy at most `limit` bytes of `reader` to `dest`, feeding `on_chunk`; error if the body
/// holds more than `limit`.
async fn stream_to_file<R: AsyncRead + Unpin>(
    mut reader: R,
    dest: &Path,
    limit: u64,
    mut on_chunk: impl FnMut(&[u8]),
) -> Result<u64> {
    let mut file = tokio::fs::File::create(dest).await?;
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .await
            .map_err(|e| Error::bad_request(format!("Upload interrupted: {e}")))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            return Err(Error::bad_request(format!(
                "Upload is larger than the announced {limit} bytes"
            )));
        }
        on_chunk(&buf[..n]);
        file.write_all(&buf[..n]).await?;
    }
    crate::storage::sync_staged(&mut file).await?;
    Ok(total)
}

/// Store an uploaded object after checking it; records `user_id` as possessing it.
pub async fn receive_object<R: AsyncRead + Unpin>(
    hub: &Hub,
    oid: &str,
    size: u64,
    user_id: i64,
    reader: R,
) -> Result<()> {
    let staged = hub.storage.staging_path();
    let mut hasher = Sha256::new();
    let res = stream_to_file(reader, &staged, size, |b| hasher.update(b)).await;
    let outcome = match res {
        Ok(n) if n != size => Err(Error::bad_request(format!(
            "Size mismatch: received {n} bytes, expected {size}"
        ))),
        Ok(_) => {
            let got = hex::encode(hasher.finalize());
            if got != oid {
                Err(Error::bad_request(format!(
                    "sha256 mismatch: content hashes to {got}, expected {oid}"
                )))
            } else {
                Ok(())
            }
        }
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        let _ = tokio::fs::remove_file(&staged).await;
        return Err(e);
    }
    hub.storage.commit_staged(&staged, &lfs_key(oid)).await?;
    let oid = oid.to_string();
    hub.db
        .call(move |c| super::record_object(c, &oid, size, user_id))
        .await
}

struct MultipartRow {
    oid: String,
    size: u64,
    chunk: u64,
    user_id: i64,
    /// Direct uploads: the bucket key and the bucket's multipart id.
    key: Option<String>,
    backend: Option<String>,
}

async fn multipart_row(hub: &Hub, upload_id: &str) -> Result<MultipartRow> {
    find_upload(hub, upload_id)
        .await?
        .ok_or_else(|| Error::EntryNotFound("Unknown or finished multipart upload".into()))
}

/// A pending upload handed out by a batch answer, if it is still pending.
async fn find_upload(hub: &Hub, upload_id: &str) -> Result<Option<MultipartRow>> {
    let id = upload_id.to_string();
    hub.db
        .call(move |c| {
            Ok(c.query_row(
                "SELECT oid, size, chunk_size, user_id, storage_key, backend_upload_id FROM multipart_uploads WHERE upload_id = ?1",
                [id],
                |r| {
                    Ok(MultipartRow {
                        oid: r.get(0)?,
                        size: r.get::<_, i64>(1)? as u64,
                        chunk: r.get::<_, i64>(2)? as u64,
                        user_id: r.get(3)?,
                        key: r.get(4)?,
                        backend: r.get(5)?,
                    })
                },
            )
            .optional()?)
        })
        .await
}

/// Store part `n` of a multipart upload; returns its ETag (quoted MD5, as S3 does).
pub async fn receive_part<R: AsyncRead + Unpin>(
    hub: &Hub,
    upload_id: &str,
    n: u64,
    reader: R,
) -> Result<String> {
    let row = multipart_row(hub, upload_id).await?;
    if row.key.is_some() {
        return Err(Error::bad_request(
            "Parts of this upload go to the storage URLs of the batch answer",
        ));
    }
    let parts = row.size.div_ceil(row.chunk);
    if n == 0 || n > parts {
        return Err(Error::bad_request(format!(
            "Part number must be between 1 and {parts}"
        )));
    }
    let expected = if n == parts {
        row.size - row.chunk * (parts - 1)
    } else {
        row.chunk
    };
    let dir = hub.storage.multipart_dir(upload_id);
    tokio::fs::create_dir_all(&dir).await?;
    let staged = dir.join(format!("{n}.tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut md5 = Md5::new();
    let got = match stream_to_file(reader, &staged, expected, |b| md5.update(b)).await {
        Ok(got) => got,
        Err(e) => {
            let _ = tokio::fs::remove_file(&staged).await;
            return Err(e);
        }
    };
    if got != expected {
        let _ = tokio::fs::remove_file(&staged).await;
        return Err(Error::bad_request(format!(
            "Part {n} must be {expected} bytes, received {got}"
        )));
    }
    let etag = format!("\"{}\"", hex::encode(md5.finalize()));
    tokio::fs::write(dir.join(format!("{n}.etag")), &etag).await?;
    tokio::fs::rename(&staged, dir.join(format!("{n}.part"))).await?;
    Ok(etag)
}

/// One `{partNumber, etag}` of the completion call.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompletePart {
    pub part_number: u64,
    pub etag: String,
}

/// Assemble the parts, check sha256 and size, and admit the object.
pub async fn complete_multipart(
    hub: &Hub,
    upload_id: &str,
    oid: &str,
    parts: &[CompletePart],
) -> Result<()> {
    let row = multipart_row(hub, upload_id).await?;
    if row.oid != oid {
        return Err(Error::bad_request("The oid does not match this upload"));
    }
    let count = row.size.div_ceil(row.chunk);
    if parts.len() as u64 != count {
        return Err(Error::bad_request(format!(
            "Expected {count} parts, got {}",
            parts.len()
        )));
    }
    for (i, p) in parts.iter().enumerate() {
        if p.part_number != i as u64 + 1 {
            return Err(Error::bad_request(
                "Parts must be listed in order, starting at 1",
            ));
        }
    }
    if row.key.is_some() {
        return finish_direct(hub, upload_id, row, Some(parts)).await;
    }
    let dir = hub.storage.multipart_dir(upload_id);
    for p in parts {
        let stored = tokio::fs::read_to_string(dir.join(format!("{}.etag", p.part_number)))
            .await
            .map_err(|_| Error::bad_request(format!("Part {} was not uploaded", p.part_number)))?;
        if stored.trim_matches('"') != p.etag.trim_matches('"') {
            return Err(Error::bad_request(format!(
                "ETag mismatch for part {}",
                p.part_number
            )));
        }
    }
    let staged = hub.storage.staging_path();
    let mut out = tokio::fs::File::create(&staged).await?;
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; BUF];
    for p in parts {
        let mut f = tokio::fs::File::open(dir.join(format!("{}.part", p.part_number))).await?;
        loop {
            let n = f.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).await?;
            total += n as u64;
        }
    }
    crate::storage::sync_staged(&mut out).await?;
    drop(out);
    let got = hex::encode(hasher.finalize());
    if got != oid || total != row.size {
        let _ = tokio::fs::remove_file(&staged).await;
        let _ = tokio::fs::remove_dir_all(&dir).await;
        let id = upload_id.to_string();
        hub.db
            .call(move |c| {
                Ok(c.execute("DELETE FROM multipart_uploads WHERE upload_id = ?1", [id])?)
            })
            .await?;
        return Err(Error::bad_request(format!(
            "Assembled object does not match: sha256 {got} ({total} bytes), expected {oid} ({} bytes)",
            row.size
        )));
    }
    hub.storage.commit_staged(&staged, &lfs_key(oid)).await?;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    let (id, oid, size, user) = (
        upload_id.to_string(),
        oid.to_string(),
        row.size,
        row.user_id,
    );
    hub.db
        .call(move |c| {
            super::record_object(c, &oid, size, user)?;
            c.execute("DELETE FROM multipart_uploads WHERE upload_id = ?1", [id])?;
            Ok(())
        })
        .await
}

/// The `verify` action: for a direct upload, check what the client wrote to the bucket and
/// admit it; otherwise confirm that `user_id` holds the object with the announced size (it
/// uploaded it, or may read it). An object stored for others only is "not uploaded", as an
/// unknown one.
pub async fn verify(hub: &Hub, upload_id: &str, user_id: i64, oid: &str, size: u64) -> Result<()> {
    if !upload_id.is_empty() {
        // One read of the pending upload: direct ones are checked and admitted here.
        if let Some(row) = find_upload(hub, upload_id)
            .await?
            .filter(|r| r.key.is_some())
        {
            if row.oid != oid || row.size != size || row.user_id != user_id {
                return Err(Error::bad_request("Verify body does not match the upload"));
            }
            if row.backend.is_some() {
                return Err(Error::bad_request(
                    "Complete the multipart upload before verifying it",
                ));
            }
            return finish_direct(hub, upload_id, row, None).await;
        }
    }
    let o = oid.to_string();
    let held = hub
        .db
        .call(move |c| {
            let caller = crate::accounts::user_by_id(c, user_id)?
                .map(|user| crate::accounts::Caller { user, token: None });
            if !super::may_read_object(c, caller.as_ref(), &o)? {
                return Ok(None);
            }
            super::stored_size(c, &o)
        })
        .await?;
    match held {
        Some(s) if s == size => Ok(()),
        Some(s) => Err(Error::bad_request(format!(
            "Stored object has size {s}, not {size}"
        ))),
        None => Err(Error::EntryNotFound(format!(
            "Object {oid} was not uploaded"
        ))),
    }
}

/// Complete a direct upload: assemble the parts in the bucket if it was multipart, read the
/// object back (streaming) to check its sha256 and size, and record it — or delete it.
async fn finish_direct(
    hub: &Hub,
    upload_id: &str,
    row: MultipartRow,
    parts: Option<&[CompletePart]>,
) -> Result<()> {
    let bucket = hub
        .storage
        .direct()
        .ok_or_else(|| Error::internal("direct upload on a hub without a bucket"))?;
    let key = row
        .key
        .clone()
        .ok_or_else(|| Error::internal("direct upload without a key"))?;
    if let (Some(backend), Some(parts)) = (&row.backend, parts) {
        let list = parts
            .iter()
            .map(|p| (p.part_number, p.etag.clone()))
            .collect();
        bucket.complete_multipart(&key, backend, list).await?;
    }
    let forget = |hub: &Hub| {
        let id = upload_id.to_string();
        let db = hub.db.clone();
        async move {
            db.call(move |c| {
                Ok(c.execute("DELETE FROM multipart_uploads WHERE upload_id = ?1", [id])?)
            })
            .await
        }
    };
    let Some((_, mut stream)) = bucket.sized_range(&key, 0, u64::MAX).await? else {
        return Err(Error::EntryNotFound(format!(
            "Object {} was not uploaded to the storage",
            row.oid
        )));
    };
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut failed = None;
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        match chunk {
            Ok(b) => {
                total += b.len() as u64;
                if total > row.size {
                    break;
                }
                hasher.update(&b);
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    drop(stream);
    if let Some(e) = failed {
        return Err(Error::internal(format!("reading back {key}: {e}")));
    }
    let got = hex::encode(hasher.finalize());
    if total != row.size || got != row.oid {
        bucket.delete(&key).await?;
        forget(hub).await?;
        return Err(Error::bad_request(format!(
            "Uploaded object does not match: expected sha256 {} ({} bytes), received {}",
            row.oid,
            row.size,
            if total > row.size {
                format!("more than {} bytes", row.size)
            } else {
                format!("sha256 {got} ({total} bytes)")
            }
        )));
    }
    let (oid, size, user, k, id) = (
        row.oid.clone(),
        row.size,
        row.user_id,
        key.clone(),
        upload_id.to_string(),
    );
    let kept_key = hub
        .db
        .call(move |c| {
            let tx = crate::db::write_tx(c)?;
            // GC may have expired the upload (and deleted its key) while it was read back.
            if tx.execute("DELETE FROM multipart_uploads WHERE upload_id = ?1", [id])? == 0 {
                return Ok(None);
            }
            super::record_object_at(&tx, &oid, size, user, Some(&k))?;
            let kept = super::stored_object(&tx, &oid)?.map(|s| s.1);
            tx.commit()?;
            Ok(Some(kept))
        })
        .await?;
    let Some(kept_key) = kept_key else {
        return Err(Error::EntryNotFound(
            "This upload expired before it was verified; upload the object again".into(),
        ));
    };
    if kept_key.as_deref() != Some(key.as_str()) {
        // Another upload of the same bytes was recorded first: this copy is redundant.
        bucket.delete(&key).await?;
    }
    Ok(())
}

/// Before a commit or push references `oids`: admit the caller's direct uploads of them whose
/// `verify` call never came (the bytes are in the bucket; they are checked the same way).
pub async fn settle_pending(hub: &Hub, user_id: i64, oids: &[String]) -> Result<()> {
    if hub.storage.direct().is_none() || oids.is_empty() {
        return Ok(());
    }
    let wanted = oids.to_vec();
    let ids: Vec<String> = hub
        .db
        .call(move |c| {
            let mut st = c.prepare(
                "SELECT upload_id FROM multipart_uploads WHERE oid = ?1 AND user_id = ?2 AND storage_key IS NOT NULL AND backend_upload_id IS NULL",
            )?;
            let mut out = Vec::new();
            for oid in wanted {
                for id in st.query_map(crate::params![oid, user_id], |r| r.get(0))? {
                    out.push(id?);
                }
            }
            Ok(out)
        })
        .await?;
    for id in ids {
        let Some(row) = find_upload(hub, &id).await? else {
            continue; // settled meanwhile
        };
        // A missing or mismatching upload simply stays unusable; the commit says so.
        if let Err(e) = finish_direct(hub, &id, row, None).await {
            tracing::debug!(upload = %id, error = %e, "pending direct upload not admitted");
        }
    }
    Ok(())
}
