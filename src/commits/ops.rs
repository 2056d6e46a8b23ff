//! The NDJSON commit payload, parsed as it streams in. Inline file contents are written as
//! blobs while parsing, so no more than one file is ever held in memory.

use base64::Engine;
use serde::Deserialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::error::{Error, Result};
use crate::git::commit::check_no_nul;
use crate::git::object::is_sha256_hex;
use crate::git::Kind;
use crate::hub::Hub;
use crate::names::validate_path;

/// Commit metadata from the `header` line.
#[derive(Debug, Clone, Default)]
pub struct Header {
    pub summary: String,
    pub description: String,
    pub parent_commit: Option<String>,
}

/// One change of a commit.
#[derive(Debug, Clone)]
pub enum Op {
    /// A regular file whose blob is already stored.
    AddBlob {
        path: String,
        oid: String,
        size: u64,
    },
    /// An LFS file; `size` is taken from the stored object when the line omits it.
    AddLfs {
        path: String,
        oid: String,
        size: Option<u64>,
    },
    DeleteFile {
        path: String,
    },
    DeleteFolder {
        path: String,
    },
    Copy {
        path: String,
        src_path: String,
        src_revision: Option<String>,
    },
}

/// A parsed commit request.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub header: Header,
    pub ops: Vec<Op>,
}

#[derive(Deserialize)]
struct Line {
    key: String,
    value: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeaderValue {
    summary: Option<String>,
    description: Option<String>,
    parent_commit: Option<String>,
}

#[derive(Deserialize)]
struct FileValue {
    path: String,
    content: String,
    encoding: Option<String>,
}

#[derive(Deserialize)]
struct LfsValue {
    path: String,
    algo: Option<String>,
    oid: String,
    size: Option<u64>,
}

#[derive(Deserialize)]
struct PathValue {
    path: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CopyValue {
    path: String,
    src_path: String,
    src_revision: Option<String>,
}

fn field<T: serde::de::DeserializeOwned>(key: &str, n: usize, v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v)
        .map_err(|e| Error::bad_request(format!("Invalid '{key}' value on line {n}: {e}")))
}

/// Read one `\n`-terminated line into `buf`, refusing lines longer than `max`.
async fn read_line_limited<R: AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<bool> {
    buf.clear();
    loop {
        let chunk = r
            .fill_buf()
            .await
            .map_err(|e| Error::bad_request(format!("Error reading request body: {e}")))?;
        if chunk.is_empty() {
            return Ok(!buf.is_empty());
        }
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if buf.len() + take > max {
            return Err(Error::PayloadTooLarge(format!(
                "A commit line is larger than {max} bytes"
            )));
        }
        buf.extend_from_slice(&chunk[..take]);
        r.consume(take);
        if done {
            return Ok(true);
        }
    }
}

/// Longest NDJSON line accepted: a base64 file a bit over the LFS threshold.
pub fn max_line_bytes(hub: &Hub) -> usize {
    let file = hub.config.lfs_threshold_bytes.max(16 * 1024 * 1024);
    (file / 3 * 4 + 1024 * 1024) as usize
}

/// Parse the NDJSON body, storing inline blobs in `repo_id` as they arrive.
pub async fn parse_commit<R: AsyncBufRead + Unpin>(
    hub: &Hub,
    repo_id: i64,
    mut body: R,
) -> Result<CommitRequest> {
    let max = max_line_bytes(hub);
    let mut buf = Vec::new();
    let mut header: Option<Header> = None;
    let mut ops = Vec::new();
    let mut writes = tokio::task::JoinSet::new();
    let mut n = 0usize;
    while read_line_limited(&mut body, &mut buf, max).await? {
        n += 1;
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let line: Line = serde_json::from_slice(text)
            .map_err(|e| Error::bad_request(format!("Invalid NDJSON on line {n}: {e}")))?;
        if header.is_none() && line.key != "header" {
            return Err(Error::bad_request(
                "The first line of a commit must be its header",
            ));
        }
        match line.key.as_str() {
            "header" => {
                if header.is_some() {
                    return Err(Error::bad_request(format!("Duplicate header on line {n}")));
                }
                let h: HeaderValue = field("header", n, line.value)?;
                let summary = h.summary.unwrap_or_default();
                if summary.trim().is_empty() {
                    return Err(Error::bad_request("The commit summary must not be empty"));
                }
                if summary.len() > 4096 || h.description.as_ref().is_some_and(|d| d.len() > 1 << 20)
                {
                    return Err(Error::bad_request("The commit message is too long"));
                }
                check_no_nul(summary.as_bytes(), "The commit summary")?;
                check_no_nul(
                    h.description.as_deref().unwrap_or("").as_bytes(),
                    "The commit description",
                )?;
                if let Some(p) = &h.parent_commit {
                    if !crate::git::object::is_sha1_hex(p) {
                        return Err(Error::bad_request(format!("Invalid parentCommit '{p}'")));
                    }
                }
                header = Some(Header {
                    summary,
                    description: h.description.unwrap_or_default(),
                    parent_commit: h.parent_commit,
                });
            }
            "file" => {
                let f: FileValue = field("file", n, line.value)?;
                let path = validate_path(&f.path)?;
                if f.encoding.as_deref().unwrap_or("base64") != "base64" {
                    return Err(Error::bad_request(format!(
                        "Unsupported encoding on line {n}: only base64"
                    )));
                }
                let data = base64::engine::general_purpose::STANDARD
                    .decode(f.content.as_bytes())
                    .map_err(|e| {
                        Error::bad_request(format!("Invalid base64 content for '{path}': {e}"))
                    })?;
                let size = data.len() as u64;
                let oid = crate::git::object::object_id(Kind::Blob, &data);
                // Written side by side: with a bucket each write is a round trip.
                if writes.len() >= PARALLEL_WRITES {
                    join_one(&mut writes).await?;
                }
                let store = hub.objects.clone();
                writes.spawn(async move { store.write(repo_id, Kind::Blob, &data).await });
                ops.push(Op::AddBlob { path, oid, size });
            }
            "lfsFile" => {
                let f: LfsValue = field("lfsFile", n, line.value)?;
                let path = validate_path(&f.path)?;
                if f.algo.as_deref().unwrap_or("sha256") != "sha256" {
                    return Err(Error::bad_request(format!(
                        "Unsupported LFS hash algorithm on line {n}"
                    )));
                }
                let oid = f.oid.to_ascii_lowercase();
                if !is_sha256_hex(&oid) {
                    return Err(Error::bad_request(format!(
                        "Invalid LFS oid '{}' for '{path}'",
                        f.oid
                    )));
                }
                ops.push(Op::AddLfs {
                    path,
                    oid,
                    size: f.size,
                });
            }
            "deletedFile" => {
                let f: PathValue = field("deletedFile", n, line.value)?;
                ops.push(Op::DeleteFile {
                    path: validate_path(&f.path)?,
                });
            }
            "deletedFolder" => {
                let f: PathValue = field("deletedFolder", n, line.value)?;
                ops.push(Op::DeleteFolder {
                    path: validate_path(&f.path)?,
                });
            }
            "copyFile" => {
                let f: CopyValue = field("copyFile", n, line.value)?;
                ops.push(Op::Copy {
                    path: validate_path(&f.path)?,
                    src_path: validate_path(&f.src_path)?,
                    src_revision: f.src_revision,
                });
            }
            other => {
                return Err(Error::bad_request(format!(
                    "Unknown commit operation '{other}' on line {n}"
                )))
            }
        }
        if ops.len() > 100_000 {
            return Err(Error::PayloadTooLarge(
                "Too many operations in one commit".into(),
            ));
        }
    }
    while !writes.is_empty() {
        join_one(&mut writes).await?;
    }
    let header = header
        .ok_or_else(|| Error::bad_request("Empty commit payload: a header line is required"))?;
    Ok(CommitRequest { header, ops })
}

/// Blob writes in flight at once while a commit is parsed.
const PARALLEL_WRITES: usize = 16;

/// Wait for one blob write; its failure fails the commit (dropping the set aborts the rest).
async fn join_one(writes: &mut tokio::task::JoinSet<Result<String>>) -> Result<()> {
    match writes.join_next().await {
        Some(Ok(r)) => r.map(|_| ()),
        Some(Err(e)) => Err(Error::internal(format!("blob write failed: {e}"))),
        None => Ok(()),
    }
}
