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
pub struct BatchRef {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct BatchRequest {
    pub operation: Operation,
    #[serde(default)]
    pub transfers: Vec<String>,
    pub objects: Vec<BatchObject>,
    pub hash_algo: Option<String>,
    /// The branch the objects are for (git-lfs and the JS client send it).
    #[serde(rename = "ref")]
    pub git_ref: Option<BatchRef>,
}

/// The spellings of sha256 clients send as `hash_algo`: git-lfs's, and the JS client's
/// (`@huggingface/hub` sends `sha_256`).
fn is_sha256_algo(name: &str) -> bool {
    matches!(name, "sha256" | "sha_256")
}

#[derive(Debug, Clone, Serialize)]
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
/// S3's limit, kept everywhere: a bigger object gets bigger parts.
const MAX_PARTS_PER_OBJECT: u64 = 10_000;
/// Part URLs in one answer, whatever the objects announce (about 300 bytes each).
const MAX_PARTS_PER_ANSWER: u64 = 50_000;
/// S3 refuses parts above 5 GiB.
const MAX_BUCKET_PART: u64 = 5 << 30;

/// How large multipart parts are for this answer: the configured size, at least 5 MiB with a
/// bucket, never more than [`MAX_PARTS_PER_OBJECT`] parts per object, and grown as a whole when
/// the objects together would need more than [`MAX_PARTS_PER_ANSWER`] part URLs.
struct PartPlan {
    /// Objects above this size get multipart uploads.
    threshold: u64,
    base: u64,
    scale: u64,
}

impl PartPlan {
    /// `xet`: the answer hands out no part URLs (the bytes go to the CAS), nothing to plan.
    fn new(hub: &Hub, req: &BatchRequest, xet: bool) -> Result<PartPlan> {
        let cfg = &hub.config;
        let bucket = hub.storage.direct().is_some();
        let threshold = if bucket {
            cfg.lfs_multipart_threshold_bytes.min(MAX_BUCKET_PART)
        } else {
            cfg.lfs_multipart_threshold_bytes
        };
        let base = if bucket {
            cfg.lfs_multipart_chunk_bytes.max(5 << 20)
        } else {
            cfg.lfs_multipart_chunk_bytes.max(1)
        };
        let mut plan = PartPlan {
            threshold,
            base,
            scale: 1,
        };
        if req.operation != Operation::Upload || xet {
            return Ok(plan);
        }
        let sizes: Vec<u64> = req
            .objects
            .iter()
            .filter_map(|o| u64::try_from(o.size).ok())
            .filter(|s| *s > threshold)
            .collect();
        let total = |p: &PartPlan| -> u64 { sizes.iter().map(|s| s.div_ceil(p.chunk(*s))).sum() };
        while total(&plan) > MAX_PARTS_PER_ANSWER
            && plan.base.saturating_mul(plan.scale) < u64::MAX / 2
        {
            plan.scale *= 2;
        }
        let too_big = |p: &PartPlan| {
            bucket && sizes.iter().any(|s| p.chunk(*s) > MAX_BUCKET_PART)
                || total(p) > MAX_PARTS_PER_ANSWER
        };
        if too_big(&plan) {
            return Err(Error::PayloadTooLarge(format!(
                "These objects need more than {MAX_PARTS_PER_ANSWER} upload parts together: send fewer large objects per batch request"
            )));
        }
        Ok(plan)
    }

    /// The part size for an object of `size` bytes.
    fn chunk(&self, size: u64) -> u64 {
        self.base
            .saturating_mul(self.scale)
            .max(size.div_ceil(MAX_PARTS_PER_OBJECT))
    }
}

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
    if req.hash_algo.as_deref().is_some_and(|h| !is_sha256_algo(h)) {
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
        if let Some(o) = req
            .objects
            .iter()
            .find(|o| u64::try_from(o.size).is_ok_and(|n| n > hub.config.max_file_bytes))
        {
            return Err(Error::PayloadTooLarge(format!(
                "Object {} announces {} bytes; this hub accepts files of at most {} bytes",
                o.oid, o.size, hub.config.max_file_bytes
            )));
        }
    }
    let multipart_ok = req.transfers.is_empty() || req.transfers.iter().any(|t| t == "multipart");
    // A client that offers Xet (the JS client) uploads to the CAS: each object to send gets a
    // write token and the route that renews it instead of upload URLs.
    let xet_upload = match req.operation {
        Operation::Upload if req.transfers.iter().any(|t| t == "xet") => {
            Some(xet_upload_action(hub, caller, repo, req.git_ref.as_ref())?)
        }
        _ => None,
    };
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

    // Quota: bytes that come through Xet count after dedup, at the commit (as for hf_xet, which
    // never calls the batch); otherwise here, before they come in.
    if req.operation == Operation::Upload && xet_upload.is_none() {
        // What the caller may not know of counts as announced (it has to send it).
        let mut announced = 0u64;
        let mut known_objs = Vec::new();
        for (o, (_, usable, _, _)) in req.objects.iter().zip(&known) {
            let oid = o.oid.to_ascii_lowercase();
            let Ok(size) = u64::try_from(o.size) else {
                continue;
            };
            if !is_sha256_hex(&oid) {
                continue;
            }
            if *usable {
                known_objs.push((oid, size));
            } else {
                announced = announced.saturating_add(size);
            }
        }
        let r = repo.clone();
        hub.db
            .call(move |c| {
                let extra = crate::quota::new_lfs_bytes(c, r.id, &known_objs)?;
                crate::quota::check_repo(c, &r, extra.saturating_add(announced))
            })
            .await?;
    }
    let plan = PartPlan::new(hub, &req, xet_upload.is_some())?;

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
                            hub.base_url(),
                            s.exp,
                            s.sig
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
                // Stored but not the caller's to know: answered exactly as an unknown object.
                if let Some((real, _)) = stored.filter(|_| usable) {
                    if real != size {
                        objects.push(obj_error(
                            o,
                            422,
                            format!("Object {oid} exists with size {real}, not {size}"),
                        ));
                        continue;
                    }
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
                if let Some(action) = &xet_upload {
                    objects.push(ObjectResponse {
                        oid,
                        size: o.size,
                        authenticated: Some(true),
                        actions: BTreeMap::from([("upload".to_string(), action.clone())]),
                        error: None,
                    });
                    continue;
                }
                let ttl = cfg.upload_url_expiry_secs;
                let size_s = size.to_string();
                let user_s = user_id.to_string();
                let upload_ref_user = user_s.clone();
                let mut actions = BTreeMap::new();
                let mut upload_ref = String::new();
                let upload_id = uuid::Uuid::new_v4().simple().to_string();
                // With a bucket the bytes go straight there, under a key of this upload only.
                let bucket = hub.storage.direct();
                let key = bucket.map(|_| lfs_upload_key(&oid, &upload_id));
                // A single S3 PUT stops at 5 GiB: above that a bucket needs multipart.
                if multipart_ok && size > plan.threshold {
                    let chunk = plan.chunk(size);
                    let backend = match (bucket, &key) {
                        (Some(b), Some(k)) => Some(b.create_multipart(k).await?),
                        _ => None,
                    };
                    let s = signer.sign("multipart", &[&upload_id], ttl)?;
                    let mut header = BTreeMap::new();
                    header.insert("chunk_size".to_string(), chunk.to_string());
                    for n in 1..=size.div_ceil(chunk) {
                        let url = match (bucket, &key, &backend) {
                            (Some(b), Some(k), Some(id)) => b.presign_part(k, id, n, ttl).await?,
                            _ => format!(
                                "{}/api/lfs/multipart/{upload_id}/{n}?exp={}&sig={}",
                                hub.base_url(),
                                s.exp,
                                s.sig
                            ),
                        };
                        header.insert(n.to_string(), url);
                    }
                    let href = format!(
                        "{}/api/lfs/multipart/{upload_id}?exp={}&sig={}",
                        hub.base_url(),
                        s.exp,
                        s.sig
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
                        hub.base_url(),
                        s.exp,
                        s.sig
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
                let v = signer.sign(
                    "verify",
                    &[&oid, &size_s, &upload_ref, &upload_ref_user],
                    ttl,
                )?;
                let href = format!(
                    "{}/api/lfs/verify/{oid}?size={size}&upload={upload_ref}&user={user_id}&exp={}&sig={}",
                    hub.base_url(), v.exp, v.sig
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
        transfer: if xet_upload.is_some() { "xet" } else { "basic" }.into(),
        objects,
        hash_algo: "sha256".into(),
    })
}

/// The upload action of a Xet answer, as huggingface.co gives it: `href` is the
/// `xet-write-token` route of the repository (the client GETs it with its own token to renew
/// the CAS token), and the headers carry a CAS write token and where the CAS is. The caller has
/// write access to `repo` (checked before [`batch`]).
fn xet_upload_action(
    hub: &Hub,
    caller: Option<&Caller>,
    repo: &Repo,
    git_ref: Option<&BatchRef>,
) -> Result<Action> {
    let user = caller
        .map(|c| c.user.id)
        .ok_or_else(|| Error::Unauthorized("Authentication required to upload".into()))?;
    let token =
        crate::xet::token::issue(hub, repo.id, Some(user), crate::xet::token::Scope::Write)?;
    let rev = git_ref
        .map(|r| r.name.strip_prefix("refs/heads/").unwrap_or(&r.name))
        .filter(|r| !r.is_empty())
        .unwrap_or("main");
    let rev = percent_encoding::utf8_percent_encode(rev, percent_encoding::NON_ALPHANUMERIC);
    let href = hub.url(&format!(
        "/api/{}/{}/{}/xet-write-token/{rev}",
        repo.repo_type.plural(),
        repo.namespace,
        repo.name
    ));
    let header = BTreeMap::from([
        ("X-Xet-Cas-Url".to_string(), token.cas_url),
        ("X-Xet-Access-Token".to_string(), token.access_token),
        ("X-Xet-Token-Expiration".to_string(), token.exp.to_string()),
    ]);
    Ok(Action {
        href,
        header,
        expires_at: expires(crate::xet::token::TOKEN_TTL_SECS as u64),
    })
}
