//! `HEAD`/`GET /{prefix}{id}/resolve/{rev}/{path}`: file downloads with the metadata headers
//! the HF client needs, and byte ranges; `.../raw/{rev}/{path}`: the git blob as stored (an
//! LFS file's pointer text), as on huggingface.co.

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
        "The content of '{path}' at this revision is no longer stored (LFS object {oid} was removed by retention or deleted from this repository); download a newer revision"
    )))
}

/// The part of a `size`-byte file a request asks for (`Range`, else all of it), with the
/// status and the `Content-Range` / `Content-Length` headers that answer it.
fn byte_range(
    req: &HeaderMap,
    headers: &mut HeaderMap,
    size: u64,
) -> ApiResult<(StatusCode, u64, u64)> {
    let answer = match parse_range(req.get("range"), size)? {
        Some((s, e)) => {
            headers.insert("content-range", hv(&format!("bytes {s}-{e}/{size}")));
            (StatusCode::PARTIAL_CONTENT, s, e - s + 1)
        }
        None => (StatusCode::OK, 0, size),
    };
    headers.insert("content-length", hv(&answer.2.to_string()));
    Ok(answer)
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

/// What a `resolve` or `raw` URL names: the file, or an answer already decided (a moved
/// repository's redirect, a path that is no file at the revision).
enum Located {
    File(Box<FileAt>),
    Answer(Response),
}

/// A file at a resolved revision, and who asked.
struct FileAt {
    repo: repos::Repo,
    caller: Option<kohaku::accounts::Caller>,
    commit: String,
    /// The git blob's id.
    blob: String,
    info: kohaku::git::store::BlobInfo,
}

/// The parts of a request [`locate`] reads (a `Ctx` holds the body, which is not `Sync`).
struct Req<'a> {
    hub: &'a kohaku::Hub,
    headers: &'a HeaderMap,
    path: &'a str,
    raw_query: Option<&'a str>,
}

impl<'a> Req<'a> {
    fn of(ctx: &'a Ctx) -> Req<'a> {
        Req {
            hub: &ctx.hub,
            headers: &ctx.headers,
            path: &ctx.path,
            raw_query: ctx.raw_query.as_deref(),
        }
    }
}

/// Find the blob at `path` in `rev` for a caller who may read the repository (others get 404
/// `RepoNotFound`); `view` is the URL segment (`resolve` or `raw`), for a moved repo's redirect.
async fn locate(
    req: Req<'_>,
    id: RepoRef,
    rev: &str,
    path: &str,
    view: &str,
) -> ApiResult<Located> {
    let hub = req.hub.clone();
    let caller = auth::caller(&hub, req.headers).await?;
    let (t, ns, name) = id;
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
            let marker = format!("/{view}/");
            let raw_tail = req.path.split_once(&marker).map(|x| x.1).unwrap_or("");
            let query = req.raw_query.map(|q| format!("?{q}")).unwrap_or_default();
            let loc = format!("{}/{view}/{raw_tail}{query}", r.web_path());
            let mut h = HeaderMap::new();
            h.insert("location", hv(&loc));
            return Ok(Located::Answer(
                (StatusCode::TEMPORARY_REDIRECT, h).into_response(),
            ));
        }
        Lookup::Missing => return Err(ApiError(Error::repo_not_found())),
    };
    let resolved = refs::finish_resolve(&hub, &repo, rev, found).await?;
    let commit = hub.objects.commit(repo.id, &resolved.commit).await?;
    let entry = hub.objects.entry_at(repo.id, &commit.tree, path).await?;
    let Some(entry) = entry.filter(|e| e.is_blob()) else {
        let mut resp = ApiError(Error::entry_not_found(path)).into_response();
        resp.headers_mut()
            .insert("x-repo-commit", hv(&resolved.commit));
        return Ok(Located::Answer(resp));
    };
    let info = hub.objects.blob_info(repo.id, &entry.oid).await?;
    Ok(Located::File(Box::new(FileAt {
        repo,
        caller,
        commit: resolved.commit,
        blob: entry.oid,
        info,
    })))
}

/// Does the client ask for the Xet file info (`Accept: application/vnd.xet-fileinfo+json`,
/// what the JS client sends) rather than the bytes?
fn wants_xet_fileinfo(headers: &HeaderMap) -> bool {
    headers
        .get_all("accept")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case(XET_FILEINFO))
        })
}

const XET_FILEINFO: &str = "application/vnd.xet-fileinfo+json";

pub async fn resolve(ctx: Ctx, id: RepoRef, rev: &str, path: &str) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let file = match locate(Req::of(&ctx), id, rev, path, "resolve").await? {
        Located::File(f) => *f,
        Located::Answer(r) => return Ok(r),
    };
    let FileAt {
        repo,
        caller,
        commit,
        blob,
        info,
    } = file;
    if let Some(p) = &info.lfs {
        // A pointer serves only an object this repository's history holds: not one another
        // repo stored (a hand-written pointer would read it), nor one its owner deleted.
        let (oid, repo_id) = (p.oid.clone(), repo.id);
        if !hub
            .db
            .call(move |c| kohaku::lfs::repo_has_object(c, repo_id, &oid))
            .await?
        {
            return Err(gone(path, &p.oid));
        }
    }
    let mut headers = HeaderMap::new();
    headers.insert("x-repo-commit", hv(&commit));
    let (size, etag) = match &info.lfs {
        Some(p) => (p.size, p.oid.clone()),
        None => (info.size, blob.clone()),
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
    let mut xet_links = None;
    if let Some(x) = &xet {
        headers.insert("x-xet-hash", hv(x));
        let route = hub.url(&format!(
            "/api/{}/{}/{}/xet-read-token/{}",
            repo.repo_type.plural(),
            repo.namespace,
            repo.name,
            commit
        ));
        let reconstruction = hub.url(&format!("/api/xet/v1/reconstructions/{x}"));
        headers.insert("x-xet-refresh-route", hv(&route));
        headers.insert(
            "link",
            hv(&format!(
                "<{route}>; rel=\"xet-auth\", <{reconstruction}>; rel=\"xet-reconstruction-info\""
            )),
        );
        xet_links = Some((route, reconstruction));
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
    if let (Some(x), Some((route, reconstruction))) = (&xet, xet_links) {
        if wants_xet_fileinfo(&ctx.headers) {
            // Where to read the file through Xet instead of its bytes; the client takes the
            // metadata from the headers, the body says the same.
            headers.insert("content-type", HeaderValue::from_static(XET_FILEINFO));
            if ctx.method == Method::HEAD {
                return Ok((StatusCode::OK, headers).into_response());
            }
            let body = serde_json::json!({
                "hash": x,
                "size": size,
                "etag": etag,
                "refreshUrl": route,
                "reconstructionUrl": reconstruction,
                "casUrl": hub.url("/api/xet"),
            });
            let session = super::social::download_session(caller.as_ref(), &ctx.headers, ctx.peer);
            super::social::record(&hub, repo.id, &session, path).await;
            if let Some(c) = session.set_cookie {
                headers.insert("set-cookie", c);
            }
            return Ok((StatusCode::OK, headers, axum::Json(body)).into_response());
        }
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
    let (status, start, len) = byte_range(&ctx.headers, &mut headers, size)?;

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
        None => Body::from_stream(hub.objects.blob_stream(repo.id, &blob, start, len)?),
    };
    let session = super::social::download_session(caller.as_ref(), &ctx.headers, ctx.peer);
    super::social::record(&hub, repo.id, &session, path).await;
    if let Some(c) = session.set_cookie {
        headers.insert("set-cookie", c);
    }
    Ok((status, headers, body).into_response())
}

/// `GET`/`HEAD /{prefix}{id}/raw/{rev}/{path}`: the git blob as stored — an LFS file's pointer
/// text, a regular file's content — with `X-Repo-Commit`, the blob id as `ETag` and single byte
/// ranges, as `resolve` answers a regular file. Not a download (no statistics).
pub async fn raw(ctx: Ctx, id: RepoRef, rev: &str, path: &str) -> ApiResult<Response> {
    let hub = ctx.hub.clone();
    let file = match locate(Req::of(&ctx), id, rev, path, "raw").await? {
        Located::File(f) => *f,
        Located::Answer(r) => return Ok(r),
    };
    let mut headers = HeaderMap::new();
    headers.insert("x-repo-commit", hv(&file.commit));
    headers.insert("etag", hv(&format!("\"{}\"", file.blob)));
    headers.insert("accept-ranges", HeaderValue::from_static("bytes"));
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/octet-stream"),
    );
    let file_name = path.rsplit('/').next().unwrap_or(path).replace('"', "");
    headers.insert(
        "content-disposition",
        hv(&format!("inline; filename=\"{file_name}\"")),
    );
    let size = file.info.size;
    let (status, start, len) = byte_range(&ctx.headers, &mut headers, size)?;
    if ctx.method == Method::HEAD {
        return Ok((status, headers).into_response());
    }
    let body = hub
        .objects
        .blob_stream(file.repo.id, &file.blob, start, len)?;
    Ok((status, headers, Body::from_stream(body)).into_response())
}
