//! Copying a local-storage hub into a bucket (`kohaku storage migrate --to s3`).
//!
//! Keys keep their names, so the database needs no change. Keys already in the bucket with
//! the same size are skipped: an interrupted copy resumes where it stopped.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;

use super::S3Storage;
use crate::error::{Error, Result};

/// Objects copied at the same time (most git objects are small: latency dominates).
const PARALLEL: usize = 8;

/// What a migration did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct MigrateReport {
    pub objects: u64,
    pub bytes: u64,
    pub copied: u64,
    pub copied_bytes: u64,
    pub skipped: u64,
    /// Keys of the source found in the bucket with the right size after copying.
    pub verified: u64,
}

/// Every file of a local storage root as `(key, path, size)`, staging areas excluded.
pub fn local_objects(root: &Path) -> Result<Vec<(String, PathBuf, u64)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let meta = entry.metadata()?;
            let rel = path
                .strip_prefix(root)
                .map_err(Error::internal)?
                .to_string_lossy()
                .replace('\\', "/");
            if meta.is_dir() {
                if rel != "tmp" {
                    stack.push(path);
                }
            } else {
                out.push((rel, path, meta.len()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Copy every object under `root` into `bucket`, then check each one is there.
pub async fn to_bucket(
    root: &Path,
    bucket: &S3Storage,
    progress: impl Fn(u64, u64) + Send + Sync,
) -> Result<MigrateReport> {
    let objects = local_objects(root)?;
    let mut report = MigrateReport {
        objects: objects.len() as u64,
        bytes: objects.iter().map(|o| o.2).sum(),
        ..Default::default()
    };
    let total = report.bytes;
    let mut done = 0u64;
    progress(0, total);
    let mut results =
        futures_util::stream::iter(objects.iter().map(|(key, path, size)| async move {
            if bucket.has_exact(key, *size).await? {
                return Ok::<_, Error>((false, *size));
            }
            bucket.put_file(path, key).await?;
            Ok((true, *size))
        }))
        .buffer_unordered(PARALLEL);
    while let Some(r) = results.next().await {
        let (copied, size) = r?;
        if copied {
            report.copied += 1;
            report.copied_bytes += size;
        } else {
            report.skipped += 1;
        }
        done += size;
        progress(done, total);
    }
    drop(results);
    let mut checks = futures_util::stream::iter(
        objects
            .iter()
            .map(|(key, _, size)| async move { (key, bucket.has_exact(key, *size).await) }),
    )
    .buffer_unordered(PARALLEL);
    while let Some((key, ok)) = checks.next().await {
        if !ok? {
            return Err(Error::internal(format!(
                "{key} is missing or has the wrong size in the bucket after copying"
            )));
        }
        report.verified += 1;
    }
    Ok(report)
}
