//! Xet: the token endpoints on repository paths, and the CAS under `/api/xet` (the `casUrl`
//! the tokens name), authorised by those tokens.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use kohaku::lfs::Signer;
use kohaku::perms::Access;
use kohaku::xet::token::{self, CasToken, Scope};
use kohaku::xet::{access, cas, shard, store, xorb};
use kohaku::{Error, Hub};
use serde_json::json;

use super::shapes::load_repo;
use super::{Ctx, RepoRef};
use crate::auth;
use crate::error::{header_safe, ApiResult};
use crate::request::{body_reader, drain, read_body_draining};

/// Lifetime of a signed xorb range URL (local storage).
const XORB_URL_TTL_SECS: u64 = 3600;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `GET /api/{type}s/{id}/xet-read-token/{rev}` and `.../xet-write-token/{rev}`: a CAS token
/// for this repository, in the JSON body (hf_xet) and in `X-Xet-*` headers (huggingface_hub).
pub async fn token(ctx: Ctx, id: RepoRef, scope: Scope) -> ApiResult<Response> {
    let hub = &ctx.hub;
    let caller = auth::caller(hub, &ctx.headers).await?;
    let need = match scope {
        Scope::Read => Access::Read,
        Scope::Write => Access::Write,
    };
    if scope == Scope::Write && caller.is_none() {
        return Err(Error::Unauthorized("Authentication required to upload".into()).into());
    }
    let (repo, _) = load_repo(hub, caller.as_ref(), &id, need).await?;
    let t = token::issue(hub, repo.id, caller.map(|c| c.user.id), scope)?;
    let mut h = HeaderMap::new();
    h.insert("x-xet-cas-url", header_safe(&t.cas_url));
    h.insert("x-xet-access-token", header_safe(&t.access_token));
    h.insert("x-xet-token-expiration", header_safe(&t.exp.to_string()));
    Ok((
        h,
        axum::Json(json!({"accessToken": t.access_token, "exp": t.exp, "casUrl": t.cas_url})),
    )
        .into_response())
}

fn cas_token(hub: &Hub, headers: &HeaderMap, wanted: Scope) -> Result<CasToken, Error> {
    let raw = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| Error::Unauthorized("A Xet token is required".into()))?;
    let t = token::verify(&hub.signing_key, raw.trim(), now())?;
    if !t.scope.allows(wanted) {
        return Err(Error::Forbidden("This Xet token is read-only".into()));
    }
    Ok(t)
}

fn octets(data: Vec<u8>) -> Response {
    (
        [("content-type", "application/octet-stream")],
        Body::from(data),
    )
        .into_response()
}

/// `/api/xet/...`: the CAS.
pub async fn cas(ctx: Ctx, rest: &[&str]) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let m = ctx.method.clone();
    match (rest, m) {
        (["xorb", hash], Method::GET | Method::HEAD) => xorb_range(ctx, hash).await,
        (["v1", "chunks", _prefix, chunk], Method::GET) => {
            // Asked while uploading; readers have no use for it.
            let t = cas_token(&hub, &ctx.headers, Scope::Write)?;
            match cas::dedup_answer(&hub, t.user_id, chunk).await? {
                Some(shard) => Ok(octets(shard)),
                None => Err(Error::EntryNotFound("No xorb holds this chunk".into()).into()),
            }
        }
        (["v1", "xorb-grants", _prefix, hash], Method::POST) => {
            // 200: stored already, skip it; 404: upload it with POST /v1/xorbs (this hub
            // validates every xorb on the way in, so it hands out no direct-upload grants).
            // Stored but not readable by this user looks absent: it must send the bytes.
            let t = cas_token(&hub, &ctx.headers, Scope::Write)?;
            if visible(&hub, &t, hash).await? {
                Ok(axum::Json(json!({})).into_response())
            } else {
                Err(Error::EntryNotFound("Upload this xorb with POST /v1/xorbs".into()).into())
            }
        }
        (["v1", "xorbs", _prefix, hash], Method::HEAD) => {
            let t = cas_token(&hub, &ctx.headers, Scope::Read)?;
            if visible(&hub, &t, hash).await? {
                Ok(StatusCode::OK.into_response())
            } else {
                Ok(StatusCode::NOT_FOUND.into_response())
            }
        }
        (["v1", "xorbs", _prefix, hash], Method::POST) => {
            let t = cas_token(&hub, &ctx.headers, Scope::Write)?;
            let user_id = t
                .user_id
                .ok_or_else(|| Error::Unauthorized("Authentication required to upload".into()))?;
            xorb::parse_hash(hash)?;
            let declared = ctx
                .headers
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > xorb::MAX_XORB_BYTES as u64 + (1 << 20)) {
                return Err(Error::PayloadTooLarge(format!(
                    "a xorb is at most {} bytes",
                    xorb::MAX_XORB_BYTES
                ))
                .into());
            }
            let mut body = body_reader(ctx.body);
            let inserted = match cas::put_xorb(&hub, user_id, hash, &mut body).await {
                Ok(i) => i,
                Err(e) => {
                    // Let the client finish sending so that it reads the refusal.
                    drain(&mut body, 256 << 20).await;
                    return Err(e.into());
                }
            };
            drain(&mut body, 256 << 20).await;
            Ok(axum::Json(json!({"was_inserted": inserted})).into_response())
        }
        ([v @ ("v1" | "v2"), "shards"], Method::POST) => {
            let t = cas_token(&hub, &ctx.headers, Scope::Write)?;
            let body = read_body_draining(ctx.body, shard::MAX_SHARD_BYTES, 256 << 20).await?;
            cas::register_shard(&hub, t.user_id, body).await?;
            if *v == "v1" {
                Ok(axum::Json(json!({"result": 1})).into_response())
            } else {
                Ok((
                    [("content-type", "application/x-ndjson")],
                    "{\"type\":\"result\"}\n",
                )
                    .into_response())
            }
        }
        ([v @ ("v1" | "v2"), "reconstructions", file_hash], Method::GET) => {
            let t = cas_token(&hub, &ctx.headers, Scope::Read)?;
            reconstruction(ctx, t, file_hash, *v == "v2").await
        }
        (["v1", "telemetry"], Method::POST) => Ok(StatusCode::OK.into_response()),
        _ => Err(Error::no_route().into()),
    }
}

/// Does the token's user know this xorb (stored, and sent by it or readable whole)?
async fn visible(hub: &Hub, t: &CasToken, hash: &str) -> Result<bool, Error> {
    xorb::parse_hash(hash)?;
    let (h, user) = (hash.to_string(), t.user_id);
    hub.db
        .call(move |c| {
            let caller = access::caller_of(c, user)?;
            access::may_read_xorb(c, caller.as_ref(), &h)
        })
        .await
}

/// `GET /v{1,2}/reconstructions/{file}`: the terms that rebuild the file (or the `Range`
/// asked for) and where to fetch each xorb range. Only files in the token's repository.
async fn reconstruction(ctx: Ctx, t: CasToken, file_hash: &str, v2: bool) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    xorb::parse_hash(file_hash)?;
    let range = match ctx.headers.get("range") {
        None => None,
        Some(v) => Some(parse_range(v)?),
    };
    let fh = file_hash.to_string();
    let plan = hub
        .db
        .call(move |c| {
            let not_found = || Error::EntryNotFound(format!("No file {fh} in this repository"));
            let file = store::file(c, &fh)?.ok_or_else(not_found)?;
            if !kohaku::lfs::repo_has_object(c, t.repo_id, &file.sha256)? {
                return Err(not_found());
            }
            let (start, end) = range.unwrap_or((0, file.size));
            store::plan(c, &file, start, end)
        })
        .await?;
    let mut terms = Vec::with_capacity(plan.terms.len());
    let mut fetch: std::collections::BTreeMap<String, Vec<serde_json::Value>> =
        std::collections::BTreeMap::new();
    let mut bucket_ok: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    for term in &plan.terms {
        terms.push(json!({
            "hash": term.xorb,
            "unpacked_length": term.unpacked,
            "range": {"start": term.chunk_start, "end": term.chunk_end},
        }));
        let url = xorb_url(&hub, t.repo_id, term, &mut bucket_ok).await?;
        let chunks = json!({"start": term.chunk_start, "end": term.chunk_end});
        let bytes = json!({"start": term.byte_start, "end": term.byte_end - 1});
        let entry = if v2 {
            json!({"url": url, "ranges": [{"chunks": chunks, "bytes": bytes}]})
        } else {
            json!({"range": chunks, "url": url, "url_range": bytes})
        };
        fetch.entry(term.xorb.clone()).or_default().push(entry);
    }
    let key = if v2 { "xorbs" } else { "fetch_info" };
    Ok(axum::Json(json!({
        "offset_into_first_range": plan.offset_into_first,
        "terms": terms,
        key: fetch,
    }))
    .into_response())
}

/// `bytes=a-b` (inclusive) → `[a, b + 1)`.
fn parse_range(v: &HeaderValue) -> Result<(u64, u64), Error> {
    let bad = || Error::bad_request("Range must be bytes=START-END");
    let spec = v
        .to_str()
        .ok()
        .and_then(|s| s.trim().strip_prefix("bytes="))
        .ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = match b.trim() {
        "" => u64::MAX - 1,
        b => b.parse().map_err(|_| bad())?,
    };
    if b < a {
        return Err(bad());
    }
    Ok((a, b + 1))
}

/// Where a client reads a term's bytes of a stored xorb: a URL on the hub signed for exactly
/// that byte range, or, in S3 mode when every chunk of the xorb belongs to files of the token's
/// repository, a presigned bucket URL (which cannot be limited to a range). A xorb may also hold
/// chunks of files this reader may not read.
async fn xorb_url(
    hub: &Hub,
    repo_id: i64,
    term: &store::Term,
    bucket_ok: &mut std::collections::HashMap<String, bool>,
) -> Result<String, Error> {
    if let Some(bucket) = hub.storage.direct() {
        let whole = match bucket_ok.get(&term.xorb) {
            Some(w) => *w,
            None => {
                let x = term.xorb.clone();
                let w = hub
                    .db
                    .call(move |c| access::whole_xorb_in_repo(c, repo_id, &x))
                    .await?;
                bucket_ok.insert(term.xorb.clone(), w);
                w
            }
        };
        if whole {
            return bucket
                .presign_get(&store::xorb_key(&term.xorb), XORB_URL_TTL_SECS, None)
                .await;
        }
    }
    let (start, end) = (term.byte_start.to_string(), term.byte_end.to_string());
    let s = Signer::new(&hub.signing_key).sign(
        "xet-xorb",
        &[&term.xorb, &start, &end],
        XORB_URL_TTL_SECS,
    )?;
    Ok(hub.url(&format!(
        "/api/xet/xorb/{}?start={start}&end={end}&exp={}&sig={}",
        term.xorb, s.exp, s.sig
    )))
}

/// `GET /api/xet/xorb/{hash}?start&end&exp&sig` with one `Range` inside `[start, end)`: bytes
/// of a stored xorb, only those the signature grants.
async fn xorb_range(ctx: Ctx, hash: &str) -> ApiResult<Response> {
    let hub = &ctx.hub;
    xorb::parse_hash(hash)?;
    let exp: i64 = ctx
        .query
        .get("exp")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Forbidden("Missing URL signature".into()))?;
    let sig = ctx.query.get("sig").unwrap_or("");
    let (start_s, end_s) = (
        ctx.query.get("start").unwrap_or(""),
        ctx.query.get("end").unwrap_or(""),
    );
    Signer::new(&hub.signing_key).verify("xet-xorb", &[hash, start_s, end_s], exp, sig)?;
    let (Ok(granted_start), Ok(granted_end)) = (start_s.parse::<u64>(), end_s.parse::<u64>())
    else {
        return Err(Error::Forbidden("Bad URL signature".into()).into());
    };
    let key = store::xorb_key(hash);
    let Some(size) = hub.storage.size(&key).await? else {
        return Err(Error::EntryNotFound(format!("xorb {hash} is not stored")).into());
    };
    // Only the granted window is served; the rest of the object stays unknown.
    let granted_end = granted_end.min(size);
    let (start, end) = match ctx.headers.get("range") {
        Some(v) => parse_range(v)?,
        None => (granted_start, granted_end),
    };
    let end = end.min(granted_end);
    if start < granted_start || start >= end {
        return Err(Error::RangeNotSatisfiable {
            message: format!(
                "this URL grants bytes {granted_start}-{} only",
                granted_end.saturating_sub(1)
            ),
            size: granted_end,
        }
        .into());
    }
    let mut h = HeaderMap::new();
    h.insert("content-length", header_safe(&(end - start).to_string()));
    h.insert(
        "content-type",
        HeaderValue::from_static("application/octet-stream"),
    );
    let status = if ctx.headers.contains_key("range") {
        h.insert(
            "content-range",
            header_safe(&format!("bytes {start}-{}/*", end - 1)),
        );
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    if ctx.method == Method::HEAD {
        return Ok((status, h).into_response());
    }
    // hf_xet fetches many ranges at once: small reads keep each one's memory small.
    let Some(obj) = hub.storage.open_range(&key, start, end - start).await? else {
        return Err(Error::EntryNotFound(format!("xorb {hash} is not stored")).into());
    };
    let stream = tokio_util::io::ReaderStream::with_capacity(obj.reader, 256 << 10);
    Ok((status, h, Body::from_stream(stream)).into_response())
}
