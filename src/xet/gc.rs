//! Xet garbage: files no LFS object stands for any more, xorbs no kept file needs a chunk of
//! (past the grace period, so an upload in progress keeps its xorbs), and dedup entries whose
//! shard lists no stored xorb.
//!
//! LFS retention runs first and decides which files are kept: a Xet file lives exactly as long
//! as the `lfs_objects` row that points at it.

use crate::db::{write_tx, OptionalExtension};
use crate::error::Result;
use crate::hub::Hub;
use crate::params;

use super::store::{shard_key, xorb_key};

/// What went (or, in a dry run, would go).
#[derive(Debug, Clone, Default)]
pub struct Swept {
    /// `(xorb hash, stored bytes)`.
    pub xorbs: Vec<(String, u64)>,
    pub files: u64,
    pub shards: u64,
}

/// Sweep Xet storage. `cutoff`: creation time (`now_str` format) before which an unused xorb
/// may go.
pub async fn sweep(hub: &Hub, cutoff: &str, dry_run: bool) -> Result<Swept> {
    // Files whose LFS object was removed (or that never became one: a plain copy came first).
    let files = hub
        .db
        .call(move |c| {
            let orphan = "SELECT file_hash FROM xet_files f WHERE NOT EXISTS (SELECT 1 FROM lfs_objects o WHERE o.xet_hash = f.file_hash)";
            let n: i64 =
                c.query_row(&format!("SELECT COUNT(*) FROM ({orphan}) AS x"), params![], |r| {
                    r.get(0)
                })?;
            if !dry_run && n > 0 {
                let tx = write_tx(c)?;
                tx.execute(
                    &format!("DELETE FROM xet_file_xorbs WHERE file_hash IN ({orphan})"),
                    params![],
                )?;
                tx.execute(
                    &format!("DELETE FROM xet_files WHERE file_hash IN ({orphan})"),
                    params![],
                )?;
                tx.commit()?;
            }
            Ok(n as u64)
        })
        .await?;
    let mut out = Swept {
        files,
        ..Swept::default()
    };

    // Xorbs no remaining file uses. In a dry run the files above are still there, so count
    // what they alone hold too.
    let cut = cutoff.to_string();
    let unused: Vec<(String, i64)> = hub
        .db
        .call(move |c| {
            let keep = if dry_run {
                "SELECT 1 FROM xet_file_xorbs u JOIN lfs_objects o ON o.xet_hash = u.file_hash WHERE u.xorb_hash = x.hash"
            } else {
                "SELECT 1 FROM xet_file_xorbs u WHERE u.xorb_hash = x.hash"
            };
            Ok(c.query_all(
                &format!("SELECT hash, stored_bytes FROM xet_xorbs x WHERE created_at < ?1 AND NOT EXISTS ({keep}) ORDER BY hash"),
                [&cut],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await?;
    for (hash, bytes) in unused {
        let gone = if dry_run {
            true
        } else {
            let h = hash.clone();
            let gone = hub
                .db
                .call(move |c| {
                    // Re-checked in the writer transaction a shard registration also takes.
                    let tx = write_tx(c)?;
                    let used = tx
                        .query_row(
                            "SELECT 1 FROM xet_file_xorbs WHERE xorb_hash = ?1",
                            [&h],
                            |r| r.get::<_, i64>(0),
                        )
                        .optional()?
                        .is_some();
                    if used {
                        return Ok(false);
                    }
                    tx.execute("DELETE FROM xet_xorbs WHERE hash = ?1", [&h])?;
                    tx.execute("DELETE FROM xet_xorb_senders WHERE xorb_hash = ?1", [&h])?;
                    tx.commit()?;
                    Ok(true)
                })
                .await?;
            if gone {
                hub.storage.delete(&xorb_key(&hash)).await?;
            }
            gone
        };
        if gone {
            out.xorbs.push((hash, bytes as u64));
        }
    }

    // Dedup entries whose shard lists no stored xorb any more.
    let shard_keys: Vec<String> = hub
        .db
        .call(|c| {
            Ok(c.query_all(
                "SELECT DISTINCT shard_key FROM xet_dedup_entries ORDER BY shard_key",
                params![],
                |r| r.get(0),
            )?)
        })
        .await?;
    for key in shard_keys {
        let listed = match hub.storage.read_all(&shard_key(&key)).await? {
            Some(data) => super::shard::parse(&data)
                .map(|s| s.xorbs.into_iter().map(|x| x.hash).collect::<Vec<_>>())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let alive = hub
            .db
            .call(move |c| super::store::stored_xorbs(c, &listed))
            .await?;
        if !alive.is_empty() {
            continue;
        }
        out.shards += 1;
        if !dry_run {
            let k = key.clone();
            hub.db
                .call(move |c| {
                    Ok(c.execute("DELETE FROM xet_dedup_entries WHERE shard_key = ?1", [&k])?)
                })
                .await?;
            hub.storage.delete(&shard_key(&key)).await?;
        }
    }
    Ok(out)
}
