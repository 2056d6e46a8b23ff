//! Object storage: content-addressed keys over a backend (a local directory today).
//!
//! Writes are staged and renamed into place, so a key is either absent or complete.

mod local;

use std::path::PathBuf;

pub use local::LocalStorage;

use crate::error::Result;

/// Storage backend of the hub.
#[derive(Clone)]
pub enum Storage {
    Local(LocalStorage),
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
    pub reader: tokio::io::Take<tokio::fs::File>,
    pub total_size: u64,
}

/// Key of an LFS object: one copy per sha256 for the whole hub.
pub fn lfs_key(oid: &str) -> String {
    format!("lfs/{}/{}/{}", &oid[0..2], &oid[2..4], oid)
}

/// Key of a git object of one repository (by database key, so renames touch only the DB).
pub fn git_object_key(repo_pk: i64, sha1: &str) -> String {
    format!("repos/{repo_pk}/objects/{}/{}", &sha1[0..2], &sha1[2..])
}

/// Prefix of everything a repository owns.
pub fn repo_prefix(repo_pk: i64) -> String {
    format!("repos/{repo_pk}/")
}

impl Storage {
    pub fn local(root: PathBuf) -> Result<Storage> {
        Ok(Storage::Local(LocalStorage::new(root)?))
    }

    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self {
            Storage::Local(s) => s.exists(key).await,
        }
    }

    pub async fn size(&self, key: &str) -> Result<Option<u64>> {
        match self {
            Storage::Local(s) => s.size(key).await,
        }
    }

    /// Write `data` under `key` unless it is already there (keys are content addresses).
    pub async fn put_bytes_if_absent(&self, key: &str, data: &[u8]) -> Result<()> {
        match self {
            Storage::Local(s) => s.put_bytes_if_absent(key, data).await,
        }
    }

    /// Read a small object whole.
    pub async fn read_all(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Storage::Local(s) => s.read_all(key).await,
        }
    }

    /// A reader over a whole object, for use on a blocking thread.
    pub fn open_blocking(&self, key: &str) -> Result<Option<Box<dyn std::io::Read + Send>>> {
        match self {
            Storage::Local(s) => Ok(s
                .open_blocking(key)?
                .map(|f| Box::new(f) as Box<dyn std::io::Read + Send>)),
        }
    }

    /// Read a small object whole from a blocking thread.
    pub fn read_all_blocking(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Storage::Local(s) => s.read_all_blocking(key),
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
        }
    }

    /// A fresh staging file path for an upload in flight.
    pub fn staging_path(&self) -> PathBuf {
        match self {
            Storage::Local(s) => s.staging_path(),
        }
    }

    /// Move a complete staged file into place under `key` (no-op if the key exists).
    pub async fn commit_staged(&self, staged: &std::path::Path, key: &str) -> Result<()> {
        match self {
            Storage::Local(s) => s.commit_staged(staged, key).await,
        }
    }

    /// Every object under `prefix` (for GC).
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        match self {
            Storage::Local(s) => s.list(prefix).await,
        }
    }

    /// Remove everything under `prefix` at once (a deleted repo's storage).
    pub async fn remove_prefix(&self, prefix: &str) -> Result<()> {
        match self {
            Storage::Local(s) => s.remove_dir(prefix).await,
        }
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        match self {
            Storage::Local(s) => s.delete(key).await,
        }
    }

    /// Directory for multi-part upload staging of one upload id.
    pub fn multipart_dir(&self, upload_id: &str) -> PathBuf {
        match self {
            Storage::Local(s) => s.multipart_dir(upload_id),
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
