//! Per-repository git object store over [`Storage`], with a bounded cache of parsed objects.
//!
//! Objects are immutable, so caching them is always correct; the key includes the repo so a
//! repository can only ever see objects stored under its own prefix.

use std::io::Read;
use std::sync::{Arc, Mutex};

use super::cache::{string_weight, ByteLru, Weigh};
use super::commit::{Commit, Signature, Tag};
use super::object::{decode_loose, encode_loose, Kind};
use super::pointer::{Pointer, MAX_POINTER_SIZE};
use super::tree::{parse_tree, serialize_tree, TreeEntry};
use crate::error::{Error, Result};
use crate::storage::{git_object_key, Storage};

/// What the API needs to know about a blob without reading it whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// Size of the git blob itself.
    pub size: u64,
    /// Set when the blob is an LFS pointer.
    pub lfs: Option<Pointer>,
}

#[derive(Clone)]
enum Cached {
    Tree(Arc<Vec<TreeEntry>>),
    Commit(Arc<Commit>),
    Blob(BlobInfo),
}

fn signature_weight(s: &Signature) -> usize {
    string_weight(&s.name) + string_weight(&s.email) + string_weight(&s.tz) + 8
}

impl Weigh for Cached {
    fn weight(&self) -> usize {
        match self {
            Cached::Tree(t) => {
                32 + t
                    .iter()
                    .map(|e| {
                        string_weight(&e.mode) + string_weight(&e.name) + string_weight(&e.oid)
                    })
                    .sum::<usize>()
            }
            Cached::Commit(c) => {
                32 + string_weight(&c.tree)
                    + c.parents.iter().map(|p| string_weight(p)).sum::<usize>()
                    + signature_weight(&c.author)
                    + signature_weight(&c.committer)
                    + string_weight(&c.message)
            }
            Cached::Blob(b) => 32 + b.lfs.as_ref().map_or(0, |p| string_weight(&p.oid) + 8),
        }
    }
}

/// Reads and writes git objects of repositories.
#[derive(Clone)]
pub struct ObjectStore {
    storage: Storage,
    cache: Arc<Mutex<ByteLru<(i64, String), Cached>>>,
}

impl ObjectStore {
    /// A store whose parsed-object cache holds at most `cache_bytes` (estimated).
    pub fn new(storage: Storage, cache_bytes: u64) -> ObjectStore {
        let budget = usize::try_from(cache_bytes).unwrap_or(usize::MAX);
        ObjectStore {
            storage,
            cache: Arc::new(Mutex::new(ByteLru::new(budget))),
        }
    }

    fn cache_get(&self, repo: i64, oid: &str) -> Option<Cached> {
        self.cache
            .lock()
            .ok()?
            .get(&(repo, oid.to_string()))
            .cloned()
    }

    fn cache_put(&self, repo: i64, oid: &str, v: Cached) {
        if let Ok(mut c) = self.cache.lock() {
            c.put((repo, oid.to_string()), 8 + string_weight(oid), v);
        }
    }

    /// Store an object (idempotent) and return its id.
    pub async fn write(&self, repo: i64, kind: Kind, data: &[u8]) -> Result<String> {
        let (id, enc) = encode_loose(kind, data)?;
        self.storage
            .put_bytes_if_absent(&git_object_key(repo, &id), &enc)
            .await?;
        if kind == Kind::Blob {
            // Commits ask right away whether a new small blob is a pointer: answer from memory.
            let lfs = (data.len() <= MAX_POINTER_SIZE)
                .then(|| Pointer::parse(data))
                .flatten();
            self.cache_put(
                repo,
                &id,
                Cached::Blob(BlobInfo {
                    size: data.len() as u64,
                    lfs,
                }),
            );
        }
        Ok(id)
    }

    pub async fn has(&self, repo: i64, oid: &str) -> Result<bool> {
        if self.cache_get(repo, oid).is_some() {
            return Ok(true);
        }
        self.storage.exists(&git_object_key(repo, oid)).await
    }

    /// Read and verify an object whole.
    pub async fn read(&self, repo: i64, oid: &str) -> Result<Option<(Kind, Vec<u8>)>> {
        if !super::object::is_sha1_hex(oid) {
            return Ok(None);
        }
        match self.storage.read_all(&git_object_key(repo, oid)).await? {
            Some(bytes) => Ok(Some(decode_loose(&bytes, oid)?)),
            None => Ok(None),
        }
    }

    async fn read_kind(&self, repo: i64, oid: &str, want: Kind) -> Result<Vec<u8>> {
        match self.read(repo, oid).await? {
            Some((k, data)) if k == want => Ok(data),
            Some((k, _)) => Err(Error::internal(format!(
                "object {oid} is a {}, expected {}",
                k.as_str(),
                want.as_str()
            ))),
            None => Err(Error::internal(format!(
                "missing {} object {oid} in repo {repo}",
                want.as_str()
            ))),
        }
    }

    pub async fn tree(&self, repo: i64, oid: &str) -> Result<Arc<Vec<TreeEntry>>> {
        if let Some(Cached::Tree(t)) = self.cache_get(repo, oid) {
            return Ok(t);
        }
        let t = Arc::new(parse_tree(&self.read_kind(repo, oid, Kind::Tree).await?)?);
        self.cache_put(repo, oid, Cached::Tree(t.clone()));
        Ok(t)
    }

    pub async fn commit(&self, repo: i64, oid: &str) -> Result<Arc<Commit>> {
        if let Some(Cached::Commit(c)) = self.cache_get(repo, oid) {
            return Ok(c);
        }
        let c = Arc::new(Commit::parse(
            &self.read_kind(repo, oid, Kind::Commit).await?,
        )?);
        self.cache_put(repo, oid, Cached::Commit(c.clone()));
        Ok(c)
    }

    /// The commit an object id names, peeling annotated tags; `None` if it is not a commit.
    pub async fn peel_to_commit(&self, repo: i64, oid: &str) -> Result<Option<String>> {
        let mut cur = oid.to_string();
        for _ in 0..10 {
            if let Some(Cached::Commit(_)) = self.cache_get(repo, &cur) {
                return Ok(Some(cur));
            }
            match self.read(repo, &cur).await? {
                Some((Kind::Commit, data)) => {
                    let c = Arc::new(Commit::parse(&data)?);
                    self.cache_put(repo, &cur, Cached::Commit(c));
                    return Ok(Some(cur));
                }
                Some((Kind::Tag, data)) => cur = Tag::parse_target(&data)?,
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    pub async fn write_tree(&self, repo: i64, entries: &mut [TreeEntry]) -> Result<String> {
        let data = serialize_tree(entries)?;
        let id = self.write(repo, Kind::Tree, &data).await?;
        self.cache_put(repo, &id, Cached::Tree(Arc::new(entries.to_vec())));
        Ok(id)
    }

    pub async fn write_commit(&self, repo: i64, commit: &Commit) -> Result<String> {
        let id = self.write(repo, Kind::Commit, &commit.serialize()).await?;
        self.cache_put(repo, &id, Cached::Commit(Arc::new(commit.clone())));
        Ok(id)
    }

    /// Size and LFS pointer of a blob, decompressing only what is needed.
    pub async fn blob_info(&self, repo: i64, oid: &str) -> Result<BlobInfo> {
        if let Some(Cached::Blob(b)) = self.cache_get(repo, oid) {
            return Ok(b);
        }
        let key = git_object_key(repo, oid);
        let Some(compressed) = self.storage.read_prefix(&key, 64 * 1024).await? else {
            return Err(Error::internal(format!(
                "missing blob {oid} in repo {repo}"
            )));
        };
        let mut head = Vec::new();
        let mut dec = flate2::read::ZlibDecoder::new(&compressed[..]);
        let mut buf = [0u8; 2048];
        // Enough for "blob N\0" and a whole pointer.
        while head.len() < MAX_POINTER_SIZE + 32 {
            match dec.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
                Err(_) if !head.is_empty() => break,
                Err(e) => return Err(Error::internal(format!("corrupt blob {oid}: {e}"))),
            }
        }
        let nul = head
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| Error::internal("corrupt blob header"))?;
        let header = std::str::from_utf8(&head[..nul])
            .map_err(|_| Error::internal("corrupt blob header"))?;
        let size: u64 = header
            .strip_prefix("blob ")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::internal(format!("object {oid} is not a blob")))?;
        let body = &head[nul + 1..];
        let lfs = if size as usize <= MAX_POINTER_SIZE && body.len() as u64 == size {
            Pointer::parse(body)
        } else {
            None
        };
        let info = BlobInfo { size, lfs };
        self.cache_put(repo, oid, Cached::Blob(info.clone()));
        Ok(info)
    }

    /// Stream `[start, start+len)` of a blob's content, inflating on a blocking thread so a
    /// large blob is never held whole.
    pub fn blob_stream(
        &self,
        repo: i64,
        oid: &str,
        start: u64,
        len: u64,
    ) -> Result<crate::storage::ByteStream> {
        let storage = self.storage.clone();
        let key = git_object_key(repo, oid);
        let missing = format!("missing blob {oid} in repo {repo}");
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            // Opened here: a bucket-backed reader blocks on the network.
            let raw = match storage.open_blocking(&key) {
                Ok(Some(raw)) => raw,
                Ok(None) => {
                    let _ = tx.blocking_send(Err(std::io::Error::other(missing)));
                    return;
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            };
            let mut dec =
                flate2::read::ZlibDecoder::new(std::io::BufReader::with_capacity(256 * 1024, raw));
            // Skip the "blob N\0" header, then `start` bytes.
            let mut byte = [0u8; 1];
            loop {
                match dec.read(&mut byte) {
                    Ok(1) if byte[0] == 0 => break,
                    Ok(1) => {}
                    Ok(_) => return,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
            if let Err(e) = std::io::copy(&mut (&mut dec).take(start), &mut std::io::sink()) {
                let _ = tx.blocking_send(Err(e));
                return;
            }
            let mut left = len;
            let mut body = dec.take(len);
            while left > 0 {
                let mut buf = vec![0u8; left.min(256 * 1024) as usize];
                match body.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        left -= n as u64;
                        if tx.blocking_send(Ok(bytes::Bytes::from(buf))).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
        });
        Ok(crate::storage::ByteStream(rx))
    }

    /// Whole content of a (small) blob.
    pub async fn blob(&self, repo: i64, oid: &str) -> Result<Vec<u8>> {
        self.read_kind(repo, oid, Kind::Blob).await
    }

    /// Entry at `path` (slash separated) under the tree `root`.
    pub async fn entry_at(&self, repo: i64, root: &str, path: &str) -> Result<Option<TreeEntry>> {
        let mut tree = root.to_string();
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if parts.is_empty() {
            return Ok(Some(TreeEntry {
                mode: super::tree::MODE_TREE.into(),
                name: String::new(),
                oid: root.to_string(),
            }));
        }
        for (i, part) in parts.iter().enumerate() {
            let entries = self.tree(repo, &tree).await?;
            let Some(e) = entries.iter().find(|e| e.name == *part) else {
                return Ok(None);
            };
            if i + 1 == parts.len() {
                return Ok(Some(e.clone()));
            }
            if !e.is_tree() {
                return Ok(None);
            }
            tree = e.oid.clone();
        }
        Ok(None)
    }
}
