//! Object storage: content-addressed keys over a backend (a local directory or an
//! S3-compatible bucket).
//!
//! Writes are staged and renamed (or PUT whole), so a key is either absent or complete.

mod bucket;
mod local;
pub mod migrate;

use std::path::PathBuf;

pub use bucket::{CheckStep, S3Storage};
pub use local::LocalStorage;

use crate::config::Config;
use crate::error::Result;

/// Storage backend of the hub.
#[derive(Clone)]
pub enum Storage {
    Local(LocalStorage),
    S3(S3Storage),
}

/// A stored object as listed.
#[derive(Debug, Clone)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub modified: std::time::SystemTime,
}

/// A readable object slice with its total size.
pub struct ObjectReader {
    pub reader: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>,
    pub total_size: u64,
}

/// Make a written staging file durable before it is committed. tokio's `File` writes in the
/// background and its `sync_data` drops the error of the last write still in flight, so a
/// write that failed (a full disk: ENOSPC) would leave a short file that passes for a whole
/// one once renamed into place; flushing first reports that error.
pub async fn sync_staged(file: &mut tokio::fs::File) -> Result<()> {
    tokio::io::AsyncWriteExt::flush(file).await?;
    file.sync_data().await?;
    Ok(())
}

/// Key of an LFS object: one copy per sha256 for the whole hub.
pub fn lfs_key(oid: &str) -> String {
    format!("lfs/{}/{}/{}", &oid[0..2], &oid[2..4], oid)
}

/// Key of an LFS object uploaded straight to the bucket: unique per upload, so a bad upload
/// can never overwrite a verified copy; the database records which key holds the object.
pub fn lfs_upload_key(oid: &str, upload_id: &str) -> String {
    format!("{}.{upload_id}", lfs_key(oid))
}

/// Key of a git object of one repository (by database key, so renames touch only the DB).
pub fn git_object_key(repo_pk: i64, sha1: &str) -> String {
    format!("repos/{repo_pk}/objects/{}/{}", &sha1[0..2], &sha1[2..])
}

/// Prefix of everything a repository owns.
pub fn repo_prefix(repo_pk: i64) -> String {
    format!("repos/{repo_pk}/")
}

/// Adapts a chunk stream to `std::io::Read` for code that runs on a blocking thread.
struct BlockingStreamRead {
    handle: tokio::runtime::Handle,
    stream: ByteStream,
    current: bytes::Bytes,
}

impl std::io::Read for BlockingStreamRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.handle.block_on(self.stream.0.recv()) {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

impl Storage {
    /// The backend the configuration names.
    pub fn open(config: &Config) -> Result<Storage> {
        match &config.s3 {
            None => Ok(Storage::Local(LocalStorage::new(config.storage_dir())?)),
            Some(s3) => Ok(Storage::S3(S3Storage::new(
                s3,
                config.data_dir.join("tmp"),
            )?)),
        }
    }

    pub fn local(root: PathBuf) -> Result<Storage> {
        Ok(Storage::Local(LocalStorage::new(root)?))
    }

    /// The bucket, when clients transfer large objects with it directly (presigned URLs).
    pub fn direct(&self) -> Option<&S3Storage> {
        match self {
            Storage::Local(_) => None,
            Storage::S3(s) => Some(s),
        }
    }

    /// Start-up check: the backend is reachable and writable; says what is wrong if not.
    pub async fn check(&self) -> std::result::Result<(), String> {
        match self {
            Storage::Local(_) => Ok(()),
            Storage::S3(s) => s.check_writable().await,
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self {
            Storage::Local(s) => s.exists(key).await,
            Storage::S3(s) => Ok(s.size(key).await?.is_some()),
        }
    }

    pub async fn size(&self, key: &str) -> Result<Option<u64>> {
        match self {
            Storage::Local(s) => s.size(key).await,
            Storage::S3(s) => s.size(key).await,
        }
    }

    /// Write `data` under `key` unless it is already there (keys are content addresses).
    /// An existing copy is freshened: GC spares recent objects, and this one is about to be
    /// referenced.
    pub async fn put_bytes_if_absent(&self, key: &str, data: &[u8]) -> Result<()> {
        match self {
            Storage::Local(s) => s.put_bytes_if_absent(key, data).await,
            // Rewriting identical bytes is the one portable way to freshen an S3 object.
            Storage::S3(s) => s.put_bytes(key, data).await,
        }
    }

    /// Copy the object at `from` to `to` through a staging file, so memory stays bounded
    /// whatever its size (nothing happens if `to` exists). `false` if `from` is missing.
    pub async fn copy(&self, from: &str, to: &str) -> Result<bool> {
        let Some(mut src) = self.open_range(from, 0, u64::MAX).await? else {
            return Ok(false);
        };
        let staged = self.staging_path();
        let written = async {
            let mut f = tokio::fs::File::create(&staged).await?;
            tokio::io::copy(&mut src.reader, &mut f).await?;
            sync_staged(&mut f).await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&staged).await;
            return Err(e);
        }
        self.commit_staged(&staged, to).await?;
        Ok(true)
    }

    /// Read a small object whole.
    pub async fn read_all(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Storage::Local(s) => s.read_all(key).await,
            Storage::S3(s) => s.read_all(key).await,
        }
    }

    /// A reader over a whole object. Call it on a blocking thread only.
    pub fn open_blocking(&self, key: &str) -> Result<Option<Box<dyn std::io::Read + Send>>> {
        match self {
            Storage::Local(s) => Ok(s
                .open_blocking(key)?
                .map(|f| Box::new(f) as Box<dyn std::io::Read + Send>)),
            Storage::S3(s) => {
                let handle = tokio::runtime::Handle::current();
                let Some(stream) = handle.block_on(s.stream_all(key))? else {
                    return Ok(None);
                };
                Ok(Some(Box::new(BlockingStreamRead {
                    handle,
                    stream,
                    current: bytes::Bytes::new(),
                })))
            }
        }
    }

    /// Read a small object whole. Call it on a blocking thread only.
    pub fn read_all_blocking(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Storage::Local(s) => s.read_all_blocking(key),
            Storage::S3(s) => tokio::runtime::Handle::current().block_on(s.read_all(key)),
        }
    }

    /// The first `n` bytes of an object (all of it if shorter).
    pub async fn read_prefix(&self, key: &str, n: u64) -> Result<Option<Vec<u8>>> {
        match self {
            Storage::S3(s) => s.read_prefix(key, n).await,
            Storage::Local(_) => {
                let Some(obj) = self.open_range(key, 0, n).await? else {
                    return Ok(None);
                };
                let mut out = Vec::new();
                tokio::io::AsyncReadExt::read_to_end(&mut { obj.reader }, &mut out).await?;
                Ok(Some(out))
            }
        }
    }

    /// Open `[start, start+len)` of an object for streaming.
    pub async fn open_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<ObjectReader>> {
        match self {
            Storage::Local(s) => s.open_range(key, start, len).await,
            Storage::S3(s) => {
                let Some((total_size, stream)) = s.sized_range(key, start, len).await? else {
                    return Ok(None);
                };
                Ok(Some(ObjectReader {
                    reader: Box::pin(tokio_util::io::StreamReader::new(stream)),
                    total_size,
                }))
            }
        }
    }

    /// Stream `[start, start+len)` of an object as chunks read on a blocking thread (large
    /// reads without a reactor round trip per chunk). `None` if the object is missing.
    pub async fn stream_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<ByteStream>> {
        match self {
            Storage::Local(s) => s.stream_range(key, start, len).await,
            Storage::S3(s) => s.stream_range(key, start, len).await,
        }
    }

    /// A fresh staging file path (on local disk) for an upload in flight.
    pub fn staging_path(&self) -> PathBuf {
        match self {
            Storage::Local(s) => s.staging_path(),
            Storage::S3(s) => s.staging_path(),
        }
    }

    /// Move a complete staged file into place under `key` (no-op if the key exists).
    pub async fn commit_staged(&self, staged: &std::path::Path, key: &str) -> Result<()> {
        match self {
            Storage::Local(s) => s.commit_staged(staged, key).await,
            Storage::S3(s) => {
                let res = match s.size(key).await? {
                    Some(_) => Ok(()),
                    None => s.put_file(staged, key).await,
                };
                let _ = tokio::fs::remove_file(staged).await;
                res
            }
        }
    }

    /// Every object under `prefix` (for GC).
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        match self {
            Storage::Local(s) => s.list(prefix).await,
            Storage::S3(s) => s.list(prefix).await,
        }
    }

    /// Remove everything under `prefix` at once (a deleted repo's storage).
    pub async fn remove_prefix(&self, prefix: &str) -> Result<()> {
        match self {
            Storage::Local(s) => s.remove_dir(prefix).await,
            Storage::S3(s) => s.remove_prefix(prefix).await,
        }
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        match self {
            Storage::Local(s) => s.delete(key).await,
            Storage::S3(s) => s.delete(key).await,
        }
    }

    /// Local directory for multi-part upload staging of one upload id (hub-proxied uploads).
    pub fn multipart_dir(&self, upload_id: &str) -> PathBuf {
        match self {
            Storage::Local(s) => s.multipart_dir(upload_id),
            Storage::S3(s) => s.multipart_dir(upload_id),
        }
    }

    /// Temporary local files of hub-proxied uploads older than `grace` (S3 keeps them outside
    /// the bucket); GC removes them.
    pub fn local_staging_dir(&self) -> Option<PathBuf> {
        match self {
            Storage::Local(_) => None,
            Storage::S3(s) => Some(s.staging_dir()),
        }
    }
}

/// Chunks of an object, fed by a reader task.
pub struct ByteStream(pub tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>);

impl futures_util::Stream for ByteStream {
    type Item = std::io::Result<bytes::Bytes>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}
