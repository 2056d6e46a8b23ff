//! S3-compatible backend (MinIO, R2, AWS, Garage, ...). The hub talks to `endpoint`; URLs it
//! hands to clients are presigned for `public_endpoint`, so large transfers skip the hub.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use s3::creds::Credentials;
use s3::error::S3Error;
use s3::serde_types::Part;
use s3::{Bucket, Region};

use super::{ByteStream, ObjectMeta};
use crate::config::S3Config;
use crate::error::{Error, Result};

/// Size of each ranged GET when the hub itself streams an object.
const RANGE_CHUNK: u64 = 4 << 20;

/// Ranged GETs in flight for one stream.
const RANGES_IN_FLIGHT: usize = 4;
/// Files uploaded to the bucket at once by this process (see [`S3Storage::put_file`]).
const PUTS_IN_FLIGHT: usize = 4;
static PUT_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(PUTS_IN_FLIGHT);

#[derive(Clone)]
pub struct S3Storage {
    /// Requests with a timeout (metadata, small objects).
    bucket: Box<Bucket>,
    /// Same bucket without a whole-request timeout, for long streams.
    streaming: Box<Bucket>,
    /// Same credentials, public endpoint: only used to presign.
    public: Box<Bucket>,
    /// Where staged uploads wait on local disk before they are sent (hub-proxied uploads).
    staging: PathBuf,
    endpoint: String,
    name: String,
}

fn bucket_for(cfg: &S3Config, endpoint: &str) -> Result<Box<Bucket>> {
    let region = Region::Custom {
        region: cfg.region.clone(),
        endpoint: endpoint.to_string(),
    };
    let creds = Credentials::new(
        Some(&cfg.access_key),
        Some(&cfg.secret_key),
        None,
        None,
        None,
    )
    .map_err(|e| Error::internal(format!("S3 credentials: {e}")))?;
    let mut b = Bucket::new(&cfg.bucket, region, creds).map_err(s3_err)?;
    if cfg.path_style {
        b.set_path_style();
    }
    Ok(b)
}

fn s3_err(e: S3Error) -> Error {
    if is_out_of_space(&e) {
        return Error::InsufficientStorage(format!("object storage: {}", describe(&e)));
    }
    Error::internal(format!("object storage: {}", describe(&e)))
}

/// The bucket's own "full" answers: HTTP 507 (MinIO's `XMinioStorageFull`) or a quota
/// refusal (`QuotaExceeded`, Ceph RGW).
fn is_out_of_space(e: &S3Error) -> bool {
    match e {
        S3Error::HttpFailWithBody(507, _) => true,
        S3Error::HttpFailWithBody(_, body) => {
            matches!(error_code(body), "XMinioStorageFull" | "QuotaExceeded")
        }
        _ => false,
    }
}

/// The `<Code>` of an S3 error body ("" when there is none).
fn error_code(body: &str) -> &str {
    body.split("<Code>")
        .nth(1)
        .and_then(|r| r.split("</Code>").next())
        .unwrap_or("")
}

/// A one-line, secret-free account of an S3 failure.
pub fn describe(e: &S3Error) -> String {
    match e {
        S3Error::HttpFailWithBody(code, body) => match (*code, error_code(body)) {
            (_, "NoSuchBucket") => "the bucket does not exist (NoSuchBucket)".into(),
            (403, t) | (_, t @ ("SignatureDoesNotMatch" | "InvalidAccessKeyId")) => {
                format!(
                    "access denied ({}): check the access and secret keys",
                    if t.is_empty() { "403" } else { t }
                )
            }
            (c, "") => format!("HTTP {c}"),
            (c, t) => format!("HTTP {c} {t}"),
        },
        S3Error::Reqwest(r) if r.is_connect() || r.is_timeout() => {
            format!("cannot connect: {r}")
        }
        other => other.to_string(),
    }
}

fn is_not_found(e: &S3Error) -> bool {
    matches!(e, S3Error::HttpFailWithBody(404, _))
}

fn path(key: &str) -> Result<String> {
    if key
        .split('/')
        .any(|s| s.is_empty() || s == ".." || s == ".")
    {
        return Err(Error::internal(format!("invalid storage key {key}")));
    }
    Ok(format!("/{key}"))
}

fn ttl(secs: u64) -> u32 {
    // S3 refuses presigned URLs valid for more than 7 days.
    secs.clamp(1, 7 * 24 * 3600) as u32
}

impl S3Storage {
    pub fn new(cfg: &S3Config, staging: PathBuf) -> Result<S3Storage> {
        std::fs::create_dir_all(&staging)?;
        let bucket = bucket_for(cfg, &cfg.endpoint)?;
        let mut streaming = bucket.clone();
        streaming.set_request_timeout(None);
        let mut bucket = bucket;
        bucket.set_request_timeout(Some(Duration::from_secs(60)));
        Ok(S3Storage {
            public: bucket_for(cfg, &cfg.public_endpoint)?,
            bucket,
            streaming,
            staging,
            endpoint: cfg.endpoint.clone(),
            name: cfg.bucket.clone(),
        })
    }

    /// Human description for messages: `bucket 'b' at http://host`.
    pub fn location(&self) -> String {
        format!("bucket '{}' at {}", self.name, self.endpoint)
    }

    pub async fn size(&self, key: &str) -> Result<Option<u64>> {
        match self.bucket.head_object(path(key)?).await {
            Ok((h, _)) => Ok(Some(h.content_length.unwrap_or(0).max(0) as u64)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(s3_err(e)),
        }
    }

    pub async fn put_bytes(&self, key: &str, data: &[u8]) -> Result<()> {
        self.bucket
            .put_object(path(key)?, data)
            .await
            .map_err(s3_err)?;
        Ok(())
    }

    /// Upload a local file under `key` (streamed; multipart above the client's 8 MiB chunk
    /// size). One part in flight per upload and [`PUTS_IN_FLIGHT`] uploads at once: left to
    /// itself the client sizes its part concurrency from the machine's free memory, which
    /// concurrent Xet uploads multiplied into half a gigabyte.
    pub async fn put_file(&self, file: &Path, key: &str) -> Result<()> {
        let _slot = PUT_SLOTS.acquire().await.map_err(crate::Error::internal)?;
        let mut f = tokio::fs::File::open(file).await?;
        self.streaming
            .put_object_stream_builder(path(key)?)
            .with_max_concurrent_chunks(1)
            .execute_stream(&mut f)
            .await
            .map_err(s3_err)?;
        Ok(())
    }

    pub async fn read_all(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self.bucket.get_object(path(key)?).await {
            Ok(r) => Ok(Some(r.to_vec())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(s3_err(e)),
        }
    }

    /// The whole object as a stream of chunks, `None` if it is missing.
    pub async fn stream_all(&self, key: &str) -> Result<Option<ByteStream>> {
        let resp = match self.streaming.get_object_stream(path(key)?).await {
            Ok(r) => r,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(s3_err(e)),
        };
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut bytes = resp.bytes;
            while let Some(chunk) = bytes.next().await {
                let item = chunk.map_err(|e| std::io::Error::other(describe(&e)));
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    return;
                }
            }
        });
        Ok(Some(ByteStream(rx)))
    }

    /// `[start, start+len)` of an object as consecutive ranged GETs (bounded memory).
    pub async fn stream_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<ByteStream>> {
        Ok(self.sized_range(key, start, len).await?.map(|(_, s)| s))
    }

    /// The object's total size and a stream of `[start, start+len)` of it.
    pub async fn sized_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<(u64, ByteStream)>> {
        let Some(total) = self.size(key).await? else {
            return Ok(None);
        };
        let end = start.saturating_add(len).min(total);
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let bucket = self.streaming.clone();
        let p = path(key)?;
        tokio::spawn(async move {
            // Several ranges in flight, delivered in order: one connection rarely fills the
            // link, and memory stays at RANGES_IN_FLIGHT × RANGE_CHUNK.
            let ranges: Vec<(u64, u64)> = (start..end)
                .step_by(RANGE_CHUNK as usize)
                .map(|pos| (pos, (pos + RANGE_CHUNK).min(end) - 1))
                .collect();
            let reads = futures_util::stream::iter(ranges.into_iter().map(|(first, last)| {
                let (bucket, p) = (bucket.clone(), p.clone());
                async move {
                    bucket
                        .get_object_range(&p, first, Some(last))
                        .await
                        .map(|r| r.bytes().clone())
                        .map_err(|e| std::io::Error::other(describe(&e)))
                }
            }));
            let mut reads = reads.buffered(RANGES_IN_FLIGHT);
            while let Some(item) = reads.next().await {
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    return;
                }
            }
        });
        Ok(Some((total, ByteStream(rx))))
    }

    pub fn staging_path(&self) -> PathBuf {
        self.staging.join(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn staging_dir(&self) -> PathBuf {
        self.staging.clone()
    }

    pub fn multipart_dir(&self, upload_id: &str) -> PathBuf {
        self.staging.join("multipart").join(upload_id)
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let prefix = format!("{}/", prefix.trim_end_matches('/'));
        let pages = self.bucket.list(prefix, None).await.map_err(s3_err)?;
        let mut out = Vec::new();
        for page in pages {
            for o in page.contents {
                let modified = chrono::DateTime::parse_from_rfc3339(&o.last_modified)
                    .map(std::time::SystemTime::from)
                    .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
                out.push(ObjectMeta {
                    key: o.key,
                    size: o.size,
                    modified,
                });
            }
        }
        Ok(out)
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        match self.bucket.delete_object(path(key)?).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(s3_err(e)),
        }
    }

    pub async fn remove_prefix(&self, prefix: &str) -> Result<()> {
        let objects = self.list(prefix).await?;
        let mut deletes = futures_util::stream::iter(objects.iter().map(|o| self.delete(&o.key)))
            .buffer_unordered(8);
        while let Some(r) = deletes.next().await {
            r?;
        }
        Ok(())
    }

    /// The first `n` bytes of an object (all of it if shorter), in one request.
    pub async fn read_prefix(&self, key: &str, n: u64) -> Result<Option<Vec<u8>>> {
        match self
            .bucket
            .get_object_range(path(key)?, 0, Some(n.max(1) - 1))
            .await
        {
            Ok(r) => Ok(Some(r.to_vec())),
            Err(e) if is_not_found(&e) => Ok(None),
            // An empty object has no byte 0: S3 answers 416.
            Err(S3Error::HttpFailWithBody(416, _)) => Ok(Some(Vec::new())),
            Err(e) => Err(s3_err(e)),
        }
    }

    /// A GET URL for `key` that clients can use without credentials until it expires.
    pub async fn presign_get(
        &self,
        key: &str,
        expiry_secs: u64,
        disposition: Option<String>,
    ) -> Result<String> {
        let q =
            disposition.map(|d| HashMap::from([("response-content-disposition".to_string(), d)]));
        self.public
            .presign_get(path(key)?, ttl(expiry_secs), q)
            .await
            .map_err(s3_err)
    }

    pub async fn presign_put(&self, key: &str, expiry_secs: u64) -> Result<String> {
        self.public
            .presign_put(path(key)?, ttl(expiry_secs), None, None)
            .await
            .map_err(s3_err)
    }

    /// Start a multipart upload; returns the storage's upload id.
    pub async fn create_multipart(&self, key: &str) -> Result<String> {
        let r = self
            .bucket
            .initiate_multipart_upload(&path(key)?, "application/octet-stream")
            .await
            .map_err(s3_err)?;
        Ok(r.upload_id)
    }

    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part: u64,
        expiry_secs: u64,
    ) -> Result<String> {
        let q = HashMap::from([
            ("partNumber".to_string(), part.to_string()),
            ("uploadId".to_string(), upload_id.to_string()),
        ]);
        self.public
            .presign_put(path(key)?, ttl(expiry_secs), None, Some(q))
            .await
            .map_err(s3_err)
    }

    /// Assemble the parts the client uploaded; the storage checks each ETag.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<(u64, String)>,
    ) -> Result<()> {
        let parts = parts
            .into_iter()
            .map(|(n, etag)| Part {
                part_number: n as u32,
                etag,
            })
            .collect();
        match self
            .streaming
            .complete_multipart_upload(&path(key)?, upload_id, parts)
            .await
        {
            Ok(_) => Ok(()),
            Err(S3Error::HttpFailWithBody(c, body)) if (400..500).contains(&c) => {
                Err(Error::bad_request(format!(
                    "The storage refused to assemble the parts: {}",
                    describe(&S3Error::HttpFailWithBody(c, body))
                )))
            }
            Err(e) => Err(s3_err(e)),
        }
    }

    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        match self.bucket.abort_upload(&path(key)?, upload_id).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(s3_err(e)),
        }
    }

    /// Start-up check: the bucket answers, and the hub may write, read and delete in it.
    pub async fn check_writable(&self) -> std::result::Result<(), String> {
        let key = format!("tmp/probe-{}", uuid::Uuid::new_v4().simple());
        let p = format!("/{key}");
        let body = b"kohaku storage probe";
        // Listing first: some servers create a missing bucket on the first PUT.
        self.bucket
            .list_page("tmp/".into(), None, None, None, Some(1))
            .await
            .map_err(|e| format!("cannot list {}: {}", self.location(), describe(&e)))?;
        self.bucket
            .put_object(&p, body)
            .await
            .map_err(|e| format!("cannot write to {}: {}", self.location(), describe(&e)))?;
        let got = self
            .bucket
            .get_object(&p)
            .await
            .map_err(|e| format!("cannot read from {}: {}", self.location(), describe(&e)))?;
        if got.as_slice() != body {
            return Err(format!(
                "{} returned different bytes than were written",
                self.location()
            ));
        }
        self.bucket
            .delete_object(&p)
            .await
            .map_err(|e| format!("cannot delete in {}: {}", self.location(), describe(&e)))?;
        Ok(())
    }
}

/// One step of `kohaku storage check`.
pub struct CheckStep {
    pub name: &'static str,
    pub outcome: std::result::Result<String, String>,
}

impl S3Storage {
    /// Connectivity, permissions and a presigned round trip through the public endpoint,
    /// step by step; stops at the first failure.
    pub async fn check_steps(&self) -> Vec<CheckStep> {
        let mut steps = Vec::new();
        let key = format!("tmp/check-{}", uuid::Uuid::new_v4().simple());
        let body = format!("kohaku storage check {key}").into_bytes();
        let client = self.bucket.http_client();
        macro_rules! step {
            ($name:expr, $fut:expr) => {{
                let outcome: std::result::Result<String, String> = $fut.await;
                let failed = outcome.is_err();
                steps.push(CheckStep {
                    name: $name,
                    outcome,
                });
                if failed {
                    let _ = self.delete(&key).await;
                    return steps;
                }
            }};
        }
        step!("list bucket", async {
            self.bucket
                .list_page("tmp/".into(), None, None, None, Some(1))
                .await
                .map(|_| self.location())
                .map_err(|e| describe(&e))
        });
        step!("write object", async {
            self.put_bytes(&key, &body)
                .await
                .map(|_| format!("{} bytes", body.len()))
                .map_err(|e| e.to_string())
        });
        step!("read object", async {
            match self.read_all(&key).await {
                Ok(Some(b)) if b == body => Ok("same bytes".to_string()),
                Ok(Some(_)) => Err("different bytes came back".to_string()),
                Ok(None) => Err("the object is missing after writing it".to_string()),
                Err(e) => Err(e.to_string()),
            }
        });
        step!("presigned GET (public endpoint)", async {
            let url = self
                .presign_get(&key, 300, None)
                .await
                .map_err(|e| e.to_string())?;
            let r = client
                .get(&url)
                .send()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            let status = r.status();
            let got = r.bytes().await.map_err(|e| e.to_string())?;
            if status.is_success() && got[..] == body[..] {
                Ok(format!("HTTP {status}"))
            } else {
                Err(format!(
                    "HTTP {status} from {}",
                    url.split('?').next().unwrap_or("")
                ))
            }
        });
        step!("presigned PUT (public endpoint)", async {
            let url = self
                .presign_put(&key, 300)
                .await
                .map_err(|e| e.to_string())?;
            let r = client
                .put(&url)
                .body(b"presigned".to_vec())
                .send()
                .await
                .map_err(|e| format!("{e}"))?;
            let status = r.status();
            match self.read_all(&key).await {
                Ok(Some(b)) if status.is_success() && b == b"presigned" => {
                    Ok(format!("HTTP {status}"))
                }
                _ => Err(format!("HTTP {status}; the object did not change")),
            }
        });
        step!("delete object", async {
            self.delete(&key)
                .await
                .map(|_| "deleted".to_string())
                .map_err(|e| e.to_string())
        });
        steps
    }

    /// Does `key` exist with exactly `size` bytes? (Resumable copies skip such keys.)
    pub async fn has_exact(&self, key: &str, size: u64) -> Result<bool> {
        Ok(self.size(key).await? == Some(size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_is_out_of_space() {
        let body = |code: &str| format!("<Error><Code>{code}</Code><Message>m</Message></Error>");
        let full = S3Error::HttpFailWithBody(507, body("XMinioStorageFull"));
        assert!(matches!(s3_err(full), Error::InsufficientStorage(_)));
        let quota = S3Error::HttpFailWithBody(403, body("QuotaExceeded"));
        assert!(matches!(s3_err(quota), Error::InsufficientStorage(_)));
        let denied = S3Error::HttpFailWithBody(403, body("AccessDenied"));
        assert!(matches!(s3_err(denied), Error::Internal(_)));
    }
}
