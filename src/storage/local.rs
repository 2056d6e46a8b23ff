//! Local-directory backend. Files are written in `tmp/` and renamed into place.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::ObjectReader;
use crate::error::{Error, Result};

/// Read size of streamed downloads.
/// Read size of streamed objects: small enough that many concurrent downloads stay small
/// (a stream holds at most a few of these), large enough for full disk speed.
const CHUNK: usize = 256 << 10;

#[derive(Clone)]
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    pub fn new(root: PathBuf) -> Result<LocalStorage> {
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(LocalStorage { root })
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        if key
            .split('/')
            .any(|s| s.is_empty() || s == ".." || s == ".")
        {
            return Err(Error::internal(format!("invalid storage key {key}")));
        }
        Ok(self.root.join(key))
    }

    pub async fn exists(&self, key: &str) -> Result<bool> {
        Ok(tokio::fs::try_exists(self.path(key)?).await?)
    }

    pub async fn size(&self, key: &str) -> Result<Option<u64>> {
        match tokio::fs::metadata(self.path(key)?).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn staging_path(&self) -> PathBuf {
        self.root
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn multipart_dir(&self, upload_id: &str) -> PathBuf {
        self.root.join("tmp").join("multipart").join(upload_id)
    }

    pub async fn put_bytes_if_absent(&self, key: &str, data: &[u8]) -> Result<()> {
        let dest = self.path(key)?;
        if tokio::fs::try_exists(&dest).await? {
            // Freshen it: GC spares recent objects, and this one is about to be referenced.
            let _ = self.touch(key).await;
            return Ok(());
        }
        let staged = self.staging_path();
        let written = async {
            let mut f = tokio::fs::File::create(&staged).await?;
            f.write_all(data).await?;
            super::sync_staged(&mut f).await
        }
        .await;
        if let Err(e) = written {
            // A short file must never be committed; nor left to fill the disk further.
            let _ = tokio::fs::remove_file(&staged).await;
            return Err(e);
        }
        self.commit_staged(&staged, key).await
    }

    pub async fn commit_staged(&self, staged: &Path, key: &str) -> Result<()> {
        let dest = self.path(key)?;
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        if tokio::fs::try_exists(&dest).await? {
            let _ = tokio::fs::remove_file(staged).await;
            return Ok(());
        }
        tokio::fs::rename(staged, &dest).await?;
        Ok(())
    }

    /// A blocking reader over a whole object (streamed decompression on a blocking thread).
    pub fn open_blocking(&self, key: &str) -> Result<Option<std::fs::File>> {
        match std::fs::File::open(self.path(key)?) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Blocking read, for loops that run on a blocking thread (pack generation).
    pub fn read_all_blocking(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(key)?) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn read_all(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn open_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<ObjectReader>> {
        let mut f = match tokio::fs::File::open(self.path(key)?).await {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let total_size = f.metadata().await?.len();
        if start > 0 {
            f.seek(std::io::SeekFrom::Start(start)).await?;
        }
        Ok(Some(ObjectReader {
            reader: Box::pin(f.take(len)),
            total_size,
        }))
    }

    pub async fn stream_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<super::ByteStream>> {
        use std::io::{Read, Seek};
        let path = self.path(key)?;
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let mut file = file;
            if let Err(e) = file.seek(std::io::SeekFrom::Start(start)) {
                let _ = tx.blocking_send(Err(e));
                return;
            }
            let mut left = len;
            while left > 0 {
                let n = left.min(CHUNK as u64) as usize;
                let mut buf = bytes::BytesMut::zeroed(n);
                match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(got) => {
                        buf.truncate(got);
                        left -= got as u64;
                        if tx.blocking_send(Ok(buf.freeze())).is_err() {
                            return; // client went away
                        }
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
        });
        Ok(Some(super::ByteStream(rx)))
    }

    /// Set an object's modification time to now.
    pub async fn touch(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let f = std::fs::File::options().append(true).open(path)?;
            f.set_modified(std::time::SystemTime::now())
        })
        .await
        .map_err(Error::internal)??;
        Ok(())
    }

    /// Every object under `prefix` with its size and modification time.
    pub async fn list(&self, prefix: &str) -> Result<Vec<super::ObjectMeta>> {
        let root = self.root.clone();
        let start = root.join(prefix.trim_end_matches('/'));
        tokio::task::spawn_blocking(move || -> Result<Vec<super::ObjectMeta>> {
            let mut out = Vec::new();
            let mut stack = vec![start];
            while let Some(dir) = stack.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                for entry in entries {
                    let entry = entry?;
                    let meta = entry.metadata()?;
                    if meta.is_dir() {
                        stack.push(entry.path());
                    } else if let Ok(rel) = entry.path().strip_prefix(&root) {
                        out.push(super::ObjectMeta {
                            key: rel.to_string_lossy().replace('\\', "/"),
                            size: meta.len(),
                            modified: meta.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH),
                        });
                    }
                }
            }
            Ok(out)
        })
        .await
        .map_err(Error::internal)?
    }

    /// Remove an empty directory tree left behind (best effort).
    pub async fn remove_dir(&self, prefix: &str) -> Result<()> {
        let p = self.root.join(prefix.trim_end_matches('/'));
        match tokio::fs::remove_dir_all(p).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
