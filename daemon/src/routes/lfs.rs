//! Git LFS: the batch API on repo paths, and the self-signed transfer URLs under `/api/lfs/`.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use kohaku::lfs::{self, BatchRequest, CompletePart, Operation, Signer};
use kohaku::perms::Access;
use kohaku::storage::lfs_key;
use kohaku::Error;
use serde::Deserialize;
use serde_json::json;
use tokio_util::io::ReaderStream;

use super::shapes::load_repo;
use super::{Ctx, RepoRef};
use crate::auth;
use crate::error::{header_safe, ApiResult};
use crate::request::{body_reader, drain, read_json};

const LFS_JSON: &str = "application/vnd.git-lfs+json";

fn lfs_json(status: StatusCode, v: serde_json::Value) -> Response {
    let mut r = (status, axum::Json(v)).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(LFS_JSON));
    r
}

/// `POST /{id}.git/info/lfs/objects/batch`
pub async fn batch(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let caller = auth::caller(&hub, &ctx.headers).await?;
    let req: BatchRequest = read_json(ctx.body, 16 << 20).await?;
    let need = match req.operation {
        Operation::Upload => Access::Write,
        Operation::Download => Access::Read,
    };
    if need == Access::Write && caller.is_none() {
        return Err(Error::Unauthorized("Authentication required to upload".into()).into());
    }
    let (repo, _) = load_repo(&hub, caller.as_ref(), &id, need).await?;
    let resp = lfs::batch(&hub, caller.as_ref(), &repo, req).await?;
    let v = serde_json::to_value(resp).map_err(Error::internal)?;
    Ok(lfs_json(StatusCode::OK, v))
}

/// `POST /{id}.git/info/lfs/locks/verify`: this hub has no file locking. git-lfs treats a 501
/// here as "locking not implemented", turns lock verification off for the remote and pushes
/// without a warning (a 200 or 404 would make it print advice on every first push).
pub async fn locks_verify(ctx: Ctx, id: RepoRef) -> ApiResult<Response> {
    let caller = auth::required(&ctx.hub, &ctx.headers).await?;
    load_repo(&ctx.hub, Some(&caller), &id, Access::Write).await?;
    Err(Error::NotImplemented("This hub does not implement Git LFS file locking".into()).into())
}

fn sig_params(ctx: &Ctx) -> Result<(i64, String), Error> {
    let exp = ctx
        .query
        .get("exp")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Forbidden("Missing URL signature".into()))?;
    let sig = ctx
        .query
        .get("sig")
        .ok_or_else(|| Error::Forbidden("Missing URL signature".into()))?;
    Ok((exp, sig.to_string()))
}

#[derive(Deserialize)]
struct CompleteBody {
    oid: String,
    parts: Vec<CompletePart>,
}

#[derive(Deserialize)]
struct VerifyBody {
    oid: String,
    size: u64,
}

/// `/api/lfs/...`: transfers authorised by the URL's own signature (no Authorization header).
pub async fn signed(ctx: Ctx, rest: &[&str]) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let signer = Signer::new(&hub.signing_key);
    let (exp, sig) = sig_params(&ctx)?;
    let m = ctx.method.clone();
    match (rest, m) {
        (["upload", oid], Method::PUT) => {
            let size = ctx.query.get("size").unwrap_or("");
            let user = ctx.query.get("user").unwrap_or("");
            signer.verify("upload", &[oid, size, user], exp, &sig)?;
            let size: u64 = size.parse().map_err(|_| Error::bad_request("bad size"))?;
            let user: i64 = user.parse().map_err(|_| Error::bad_request("bad user"))?;
            let mut reader = body_reader(ctx.body);
            if let Err(e) = lfs::receive_object(&hub, oid, size, user, &mut reader).await {
                // Let the client finish sending so that it reads the refusal.
                drain(&mut reader, 64 << 20).await;
                return Err(e.into());
            }
            Ok(StatusCode::OK.into_response())
        }
        (["multipart", upload_id, n], Method::PUT) => {
            signer.verify("multipart", &[upload_id], exp, &sig)?;
            let n: u64 = n
                .parse()
                .map_err(|_| Error::bad_request("bad part number"))?;
            let mut reader = body_reader(ctx.body);
            let etag = match lfs::receive_part(&hub, upload_id, n, &mut reader).await {
                Ok(t) => t,
                Err(e) => {
                    drain(&mut reader, 64 << 20).await;
                    return Err(e.into());
                }
            };
            let mut h = HeaderMap::new();
            h.insert("etag", header_safe(&etag));
            Ok((StatusCode::OK, h).into_response())
        }
        (["multipart", upload_id], Method::POST) => {
            signer.verify("multipart", &[upload_id], exp, &sig)?;
            let body: CompleteBody = read_json(ctx.body, 4 << 20).await?;
            lfs::complete_multipart(&hub, upload_id, &body.oid.to_ascii_lowercase(), &body.parts)
                .await?;
            Ok(lfs_json(StatusCode::OK, json!({"success": true})))
        }
        (["verify", oid], Method::POST) => {
            let size = ctx.query.get("size").unwrap_or("");
            let upload = ctx.query.get("upload").unwrap_or("");
            let user = ctx.query.get("user").unwrap_or("");
            signer.verify("verify", &[oid, size, upload, user], exp, &sig)?;
            let user: i64 = user.parse().map_err(|_| Error::bad_request("bad user"))?;
            let body: VerifyBody = read_json(ctx.body, 1 << 20).await?;
            if body.oid != *oid || body.size.to_string() != size {
                return Err(
                    Error::bad_request("Verify body does not match the signed object").into(),
                );
            }
            lfs::verify(&hub, upload, user, oid, body.size).await?;
            Ok(lfs_json(StatusCode::OK, json!({"success": true})))
        }
        (["objects", oid], Method::GET) => {
            let repo = ctx.query.get("repo").unwrap_or("");
            signer.verify("download", &[oid, repo], exp, &sig)?;
            let o = oid.to_string();
            let (stored, xet) = hub
                .db
                .call(move |c| {
                    let xet = kohaku::xet::store::plan_object(c, &o, 0, u64::MAX)?;
                    Ok((lfs::stored_object(c, &o)?, xet))
                })
                .await?;
            if let Some((plan, size)) = xet {
                let mut h = HeaderMap::new();
                h.insert("content-length", header_safe(&size.to_string()));
                h.insert(
                    "content-type",
                    HeaderValue::from_static("application/octet-stream"),
                );
                let body = kohaku::xet::cas::stream(&hub.storage, plan, size);
                return Ok((StatusCode::OK, h, Body::from_stream(body)).into_response());
            }
            let key = stored.map(|(_, key)| key).unwrap_or_else(|| lfs_key(oid));
            let Some(obj) = hub.storage.open_range(&key, 0, u64::MAX).await? else {
                return Err(Error::Gone(format!("LFS object {oid} is no longer stored")).into());
            };
            let mut h = HeaderMap::new();
            h.insert("content-length", header_safe(&obj.total_size.to_string()));
            h.insert(
                "content-type",
                HeaderValue::from_static("application/octet-stream"),
            );
            Ok((
                StatusCode::OK,
                h,
                Body::from_stream(ReaderStream::with_capacity(obj.reader, 256 * 1024)),
            )
                .into_response())
        }
        _ => Err(Error::no_route().into()),
    }
}
