//! The Git LFS batch API (`/{id}.git/info/lfs/objects/batch`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sign::Signer;
use crate::accounts::Caller;
use crate::db::now_str;
use crate::error::{Error, Result};
use crate::git::object::is_sha256_hex;
use crate::hub::Hub;
use crate::repos::Repo;
use crate::storage::lfs_upload_key;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Upload,
    Download,
}

#[derive(Debug, Deserialize)]
pub struct BatchObject {
    pub oid: String,
    pub size: i64,
}

#[derive(Debug, Deserialize)]
pub struct BatchRequest {
    pub operation: Operation,
    #[serde(default)]
    pub transfers: Vec<String>,
    pub objects: Vec<BatchObject>,
    pub hash_algo: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Action {
    pub href: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub header: BTreeMap<String, String>,
    pub expires_at: String,
}

#[derive(Debug, Serialize)]
pub struct ObjectError {
    pub code: u16,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct ObjectResponse {
    pub oid: String,
    pub size: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authenticated: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub actions: BTreeMap<String, Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ObjectError>,
}

#[derive(Debug, Serialize)]
pub struct BatchResponse {
    pub transfer: String,
    pub objects: Vec<ObjectResponse>,
    pub hash_algo: String,
}

const MAX_OBJECTS: usize = 1000;

/// An upload handed out by a batch answer, remembered until it is completed and verified.
struct Pending {
    upload_id: String,
    oid: String,
    size: u64,
    chunk: u64,
    /// Bucket key the client writes (direct uploads).
    key: Option<String>,
    /// The bucket's multipart upload id.
    backend: Option<String>,
}

fn expires(ttl: u64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(ttl as i64))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn obj_error(o: &BatchObject, code: u16, message: String) -> ObjectResponse {
    ObjectResponse {
        oid: o.oid.clone(),
        size: o.size,
        authenticated: None,
        actions: BTreeMap::new(),
        error: Some(ObjectError { code, message }),
    }
}

/// Answer a batch request. Permissions on the repo are checked by the caller of this function
/// (read for download, write for upload).
pub async fn batch(
    hub: &Hub,
    caller: Option<&Caller>,
    repo: &Repo,
    req: BatchRequest,
) -> Result<BatchResponse> {
    if req.hash_algo.as_deref().is_some_and(|h| h != "sha256") {
        return Err(Error::Unprocessable(
            "Only sha256 is supported as hash_algo".into(),
        ));
    }
    if req.objects.len() > MAX_OBJECTS {
        return Err(Error::PayloadTooLarge(format!(
            "At most {MAX_OBJECTS} objects per batch request"
        )));
    }
    if req.operation == Operation::Upload {
        let objs: Vec<(String, u64)> = req
            .objects
            .iter()
            .filter(|o| o.size >= 0 && is_sha256_hex(&o.oid.to_ascii_lowercase()))
            .map(|o| (o.oid.to_ascii_lowercase(), o.size as u64))
            .collect();
        let r = repo.clone();
        hub.db
            .call(move |c| {
                let extra = crate::quota::new_lfs_bytes(c, r.id, &objs)?;
                crate::quota::check_repo(c, &r, extra)
            })
            .await?;
    }
    let multipart_ok = req.transfers.is_empty() || req.transfers.iter().any(|t| t == "multipart");
    let signer = Signer::new(&hub.signing_key);
    let cfg = hub.config.clone();
    let caller = caller.cloned();
    let repo_id = repo.id;
    // Look everything up in one database round trip.
    let oids: Vec<String> = req
        .objects
        .iter()
        .map(|o| o.oid.to_ascii_lowercase())
        .collect();
    let c2 = caller.clone();
    let known = hub
        .db
        .call(move |c| {
            let mut out = Vec::new();
            for oid in oids {
                if !is_sha256_hex(&oid) {
                    out.push((None, false, false, false));
                    continue;
                }
                let stored = super::stored_object(c, &oid)?;
                let size = stored.as_ref().map(|s| s.0);
                let usable = match &c2 {
                    Some(caller) if size.is_some() => super::may_reference(c, caller, &oid)?,
                    _ => false,
                };
                let in_repo = super::repo_has_object(c, repo_id, &oid)?;
                let xet = crate::xet::store::xet_hash_of(c, &oid)?.is_some();
                out.push((stored, usable, in_repo, xet));
            }
            Ok(out)
        })
        .await?;

    let mut objects = Vec::with_capacity(req.objects.len());
    let mut pending: Vec<Pending> = Vec::new();
    let user_id = caller.as_ref().map(|c| c.user.id).unwrap_or(0);
    for (o, (stored, usable, in_repo, xet)) in req.objects.iter().zip(known) {
        let oid = o.oid.to_ascii_lowercase();
        if !is_sha256_hex(&oid) {
            objects.push(obj_error(
                o,
                422,
                format!("Invalid oid '{}': expected a sha256 hex digest", o.oid),
            ));
            continue;
        }
        if o.size < 0 {
            objects.push(obj_error(o, 422, "Invalid size".into()));
            continue;
        }
        let size = o.size as u64;
        match req.operation {
            Operation::Download => {
                let Some((real, key)) = stored.filter(|_| in_repo) else {
                    objects.push(obj_error(
                        o,
                        404,
                        format!("Object {oid} not found in this repository"),
                    ));
                    continue;
                };
                let ttl = cfg.download_url_expiry_secs;
                // A Xet-stored object is rebuilt by the hub, never read from the bucket.
                let href = match hub.storage.direct().filter(|_| !xet) {
                    Some(bucket) => bucket.presign_get(&key, ttl, None).await?,
                    None => {
                        let s = signer.sign("download", &[&oid, &repo_id.to_string()], ttl)?;
                        format!(
                            "{}/api/lfs/objects/{oid}?repo={repo_id}&exp={}&sig={}",
                            cfg.base_url, s.exp, s.sig
                        )
                    }
                };
                let mut actions = BTreeMap::new();
                actions.insert(
                    "download".into(),
                    Action {
                        href,
                        header: BTreeMap::new(),
                        expires_at: expires(ttl),
                    },
                );
                objects.push(ObjectResponse {
                    oid,
                    size: real as i64,
                    authenticated: Some(true),
                    actions,
                    error: None,
                });
            }
            Operation::Upload => {
                if let Some((real, _)) = stored {
                    if real != size {
                        objects.push(obj_error(
                            o,
                            422,
                            format!("Object {oid} exists with size {real}, not {size}"),
                        ));
                        continue;
                    }
                    if usable {
                        // Already here and the caller may use it: nothing to send.
                        objects.push(ObjectResponse {
                            oid,
                            size: o.size,
                            authenticated: Some(true),
                            actions: BTreeMap::new(),
                            error: None,
                        });
                        continue;
                    }
                }
                let ttl = cfg.upload_url_expiry_secs;
                let size_s = size.to_string();
                let user_s = user_id.to_string();
                let mut actions = BTreeMap::new();
                let mut upload_ref = String::new();
                let upload_id = uuid::Uuid::new_v4().simple().to_string();
                // With a bucket the bytes go straight there, under a key of this upload only.
                let bucket = hub.storage.direct();
                let key = bucket.map(|_| lfs_upload_key(&oid, &upload_id));
                // A single S3 PUT stops at 5 GiB: above that a bucket needs multipart.
                let threshold = match bucket {
                    Some(_) => cfg.lfs_multipart_threshold_bytes.min(5 << 30),
                    None => cfg.lfs_multipart_threshold_bytes,
                };
                if multipart_ok && size > threshold {
                    let (chunk, backend) = match (bucket, &key) {
                        (Some(b), Some(k)) => (
                            // S3 wants parts of at least 5 MiB and at most 10,000 of them.
                            cfg.lfs_multipart_chunk_bytes
                                .max(5 << 20)
                                .max(size.div_ceil(10_000)),
                            Some(b.create_multipart(k).await?),
                        ),
                        _ => (cfg.lfs_multipart_chunk_bytes, None),
                    };
                    let s = signer.sign("multipart", &[&upload_id], ttl)?;
                    let mut header = BTreeMap::new();
                    header.insert("chunk_size".to_string(), chunk.to_string());
                    for n in 1..=size.div_ceil(chunk) {
                        let url = match (bucket, &key, &backend) {
                            (Some(b), Some(k), Some(id)) => b.presign_part(k, id, n, ttl).await?,
                            _ => format!(
                                "{}/api/lfs/multipart/{upload_id}/{n}?exp={}&sig={}",
                                cfg.base_url, s.exp, s.sig
                            ),
                        };
                        header.insert(n.to_string(), url);
                    }
                    let href = format!(
                        "{}/api/lfs/multipart/{upload_id}?exp={}&sig={}",
                        cfg.base_url, s.exp, s.sig
                    );
                    actions.insert(
                        "upload".into(),
                        Action {
                            href,
                            header,
                            expires_at: expires(ttl),
                        },
                    );
                    pending.push(Pending {
                        upload_id: upload_id.clone(),
                        oid: oid.clone(),
                        size,
                        chunk,
                        key,
                        backend,
                    });
                    upload_ref = upload_id;
                } else if let (Some(b), Some(k)) = (bucket, key) {
                    actions.insert(
                        "upload".into(),
                        Action {
                            href: b.presign_put(&k, ttl).await?,
                            header: BTreeMap::new(),
                            expires_at: expires(ttl),
                        },
                    );
                    pending.push(Pending {
                        upload_id: upload_id.clone(),
                        oid: oid.clone(),
                        size,
                        chunk: size.max(1),
                        key: Some(k),
                        backend: None,
                    });
                    upload_ref = upload_id;
                } else {
                    let s = signer.sign("upload", &[&oid, &size_s, &user_s], ttl)?;
                    let href = format!(
                        "{}/api/lfs/upload/{oid}?size={size}&user={user_id}&exp={}&sig={}",
                        cfg.base_url, s.exp, s.sig
                    );
                    actions.insert(
                        "upload".into(),
                        Action {
                            href,
                            header: BTreeMap::new(),
                            expires_at: expires(ttl),
                        },
                    );
                }
                let v = signer.sign("verify", &[&oid, &size_s, &upload_ref], ttl)?;
                let href = format!(
                    "{}/api/lfs/verify/{oid}?size={size}&upload={upload_ref}&exp={}&sig={}",
                    cfg.base_url, v.exp, v.sig
                );
                actions.insert(
                    "verify".into(),
                    Action {
                        href,
                        header: BTreeMap::new(),
                        expires_at: expires(ttl),
                    },
                );
                objects.push(ObjectResponse {
                    oid,
                    size: o.size,
                    authenticated: Some(true),
                    actions,
                    error: None,
                });
            }
        }
    }
    if !pending.is_empty() {
        hub.db
            .call(move |c| {
                let now = now_str();
                for p in pending {
                    c.execute(
                        "INSERT INTO multipart_uploads (upload_id, oid, size, chunk_size, user_id, created_at, storage_key, backend_upload_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        crate::params![p.upload_id, p.oid, p.size as i64, p.chunk as i64, user_id, now, p.key, p.backend],
                    )?;
                }
                Ok(())
            })
            .await?;
    }
    Ok(BatchResponse {
        transfer: "basic".into(),
        objects,
        hash_algo: "sha256".into(),
    })
}
