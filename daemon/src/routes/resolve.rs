//! `HEAD`/`GET /{prefix}{id}/resolve/{rev}/{path}`: file downloads with the metadata headers
//! the HF client needs, and byte ranges.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use kohaku::perms;
use kohaku::repos::{self, refs, Lookup};
use kohaku::storage::lfs_key;
use kohaku::Error;

use super::{Ctx, RepoRef};
use crate::auth;
use crate::error::{header_safe, ApiError, ApiResult};

/// A parsed single `Range` header, clamped to `size`.
fn parse_range(h: Option<&HeaderValue>, size: u64) -> Result<Option<(u64, u64)>, Error> {
    let Some(v) = h.and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: answer with the whole file
    }
    let unsatisfiable = || Error::RangeNotSatisfiable {
        message: format!("Range {v} not satisfiable for {size} bytes"),
        size,
    };
    let (a, b) = spec.split_once('-').ok_or_else(unsatisfiable)?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| unsatisfiable())?;
            if n == 0 || size == 0 {
                return Err(unsatisfiable());
            }
            (size.saturating_sub(n), size - 1)
        }
        (s, "") => (
            s.parse().map_err(|_| unsatisfiable())?,
            size.saturating_sub(1),
        ),
        (s, e) => {
            let s: u64 = s.parse().map_err(|_| unsatisfiable())?;
            let e: u64 = e.parse().map_err(|_| unsatisfiable())?;
            if e < s {
                return Err(unsatisfiable());
            }
            (s, e.min(size.saturating_sub(1)))
        }
    };
    if start >= size {
        return Err(unsatisfiable());
    }
    Ok(Some((start, end)))
}

fn gone(path: &str, oid: &str) -> ApiError {
    ApiError(Error::Gone(format!(
        "The content of '{path}' at this revision is no longer stored (LFS object {oid} was removed by retention); download a newer revision"
    )))
}

/// Does `If-None-Match` name `etag` (weak or strong, or `*`)?
fn matches_if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all("if-none-match")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.trim_start_matches("W/").trim_matches('"') == etag)
}

fn hv(s: &str) -> HeaderValue {
    header_safe(s)
}

pub async fn resolve(ctx: Ctx, id: RepoRef, rev: &str, path: &str) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let caller = auth::caller(&hub, &ctx.headers).await?;
    let (t, ns, name) = id.clone();
    let c2 = caller.clone();
    let rev_s = rev.to_string();
    // One database round trip: the repo, the caller's access, and the ref.
    let (lookup, found) = hub
        .db
        .call(move |c| {
            let l = repos::find_repo(c, t, &ns, &name)?;
            let found = match &l {
                Lookup::Found(r) | Lookup::Moved(r) => {
                    perms::require_read(c, r, c2.as_ref())?;
                    refs::lookup_rev(c, r.id, &rev_s)?
                }
                Lookup::Missing => return Err(Error::repo_not_found()),
            };
            Ok((l, found))
        })
        .await?;
    let repo = match lookup {
        Lookup::Found(r) => r,
        Lookup::Moved(r) => {
            // The old id keeps working: send the client to the new one.
            let raw_tail = ctx.path.split_once("/resolve/").map(|x| x.1).unwrap_or("");
            let query = ctx
                .raw_query
                .as_deref()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            let loc = format!("{}/resolve/{raw_tail}{query}", r.web_path());
            let mut h = HeaderMap::new();
            h.insert("location", hv(&loc));
            return Ok((StatusCode::TEMPORARY_REDIRECT, h).into_response());
        }
        Lookup::Missing => return Err(ApiError(Error::repo_not_found())),
    };
    let resolved = refs::finish_resolve(&hub, &repo, rev, found).await?;
    let commit = hub.objects.commit(repo.id, &resolved.commit).await?;
    let mut headers = HeaderMap::new();
    headers.insert("x-repo-commit", hv(&resolved.commit));
    let entry = hub.objects.entry_at(repo.id, &commit.tree, path).await?;
    let Some(entry) = entry.filter(|e| e.is_blob()) else {
        let mut resp = ApiError(Error::entry_not_found(path)).into_response();
        resp.headers_mut()
            .insert("x-repo-commit", hv(&resolved.commit));
        return Ok(resp);
    };
    let info = hub.objects.blob_info(repo.id, &entry.oid).await?;
    let (size, etag) = match &info.lfs {
        Some(p) => (p.size, p.oid.clone()),
        None => (info.size, entry.oid.clone()),
    };
    headers.insert("etag", hv(&format!("\"{etag}\"")));
    headers.insert("accept-ranges", HeaderValue::from_static("bytes"));
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/octet-stream"),
    );
    // An LFS file uploaded through Xet: its bytes are rebuilt from chunks, and hf_xet clients
    // are told where to fetch those chunks themselves.
    let xet = kohaku::xet::cas::xet_hash_of_pointer(&hub, info.lfs.as_ref()).await?;
    if let Some(x) = &xet {
        headers.insert("x-xet-hash", hv(x));
        let route = hub.url(&format!(
            "/api/{}/{}/{}/xet-read-token/{}",
            repo.repo_type.plural(),
            repo.namespace,
            repo.name,
            resolved.commit
        ));
        headers.insert("x-xet-refresh-route", hv(&route));
        headers.insert("link", hv(&format!("<{route}>; rel=\"xet-auth\"")));
    }
    if info.lfs.is_some() {
        headers.insert("x-linked-etag", hv(&format!("\"{etag}\"")));
        headers.insert("x-linked-size", hv(&size.to_string()));
        headers.insert("x-lfs-size", hv(&size.to_string()));
    }
    // The client's copy is current: no body, no redirect, no download counted.
    if matches_if_none_match(&ctx.headers, &etag) {
        headers.remove("content-type");
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    let file_name = path.rsplit('/').next().unwrap_or(path).replace('"', "");
    headers.insert(
        "content-disposition",
        hv(&format!("inline; filename=\"{file_name}\"")),
    );

    if let (Some(p), Some(bucket), None) = (&info.lfs, hub.storage.direct(), &xet) {
        // The bytes come straight from the bucket; the metadata rides on the redirect.
        let oid = p.oid.clone();
        let Some((_, key)) = hub
            .db
            .call(move |c| kohaku::lfs::stored_object(c, &oid))
            .await?
        else {
            return Err(gone(path, &p.oid));
        };
        let disposition = format!(
            "inline; filename*=UTF-8''{}",
            percent_encoding::utf8_percent_encode(&file_name, percent_encoding::NON_ALPHANUMERIC)
        );
        let url = bucket
            .presign_get(&key, hub.config.download_url_expiry_secs, Some(disposition))
            .await?;
        headers.remove("content-type");
        headers.remove("accept-ranges");
        headers.insert("location", hv(&url));
        headers.insert("content-length", HeaderValue::from_static("0"));
        if ctx.method == Method::GET {
            let session = super::social::download_session(caller.as_ref(), &ctx.headers, ctx.peer);
            super::social::record(&hub, repo.id, &session, path).await;
            if let Some(c) = session.set_cookie {
                headers.insert("set-cookie", c);
            }
        }
        return Ok((StatusCode::FOUND, headers).into_response());
    }
    let range = parse_range(ctx.headers.get("range"), size)?;
    let (status, start, len) = match range {
        Some((s, e)) => {
            headers.insert("content-range", hv(&format!("bytes {s}-{e}/{size}")));
            (StatusCode::PARTIAL_CONTENT, s, e - s + 1)
        }
        None => (StatusCode::OK, 0, size),
    };
    headers.insert("content-length", hv(&len.to_string()));

    if ctx.method == Method::HEAD {
        return Ok((status, headers).into_response());
    }
    let body = match &info.lfs {
        Some(p) if xet.is_some() => {
            let oid = p.oid.clone();
            let plan = hub
                .db
                .call(move |c| kohaku::xet::store::plan_object(c, &oid, start, start + len))
                .await?
                .ok_or_else(|| gone(path, &p.oid))?;
            Body::from_stream(kohaku::xet::cas::stream(&hub.storage, plan.0, len))
        }
        Some(p) => {
            let stream = hub
                .storage
                .stream_range(&lfs_key(&p.oid), start, len)
                .await?;
            let Some(stream) = stream else {
                return Err(gone(path, &p.oid));
            };
            Body::from_stream(stream)
        }
        None => Body::from_stream(hub.objects.blob_stream(repo.id, &entry.oid, start, len)?),
    };
    let session = super::social::download_session(caller.as_ref(), &ctx.headers, ctx.peer);
    super::social::record(&hub, repo.id, &session, path).await;
    if let Some(c) = session.set_cookie {
        headers.insert("set-cookie", c);
    }
    Ok((status, headers, body).into_response())
}
