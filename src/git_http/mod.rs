//! git's smart protocol as served over HTTP: ref advertisement, upload-pack (clone/fetch,
//! protocol v2 and v0/v1) and receive-pack (push). Produces bytes; the daemon adds HTTP.

pub mod receive_pack;
pub mod upload_pack;
pub mod walk;

use bytes::Bytes;

use crate::error::Result;
use crate::git::pack::PackWriter;
use crate::git::pktline::{self, FLUSH};
use crate::hub::Hub;
use crate::repos::refs::{list_refs, MAIN};
use crate::storage::ByteStream;

/// Server identification sent in capabilities.
pub fn agent() -> String {
    format!("agent=kohaku/{}", env!("CARGO_PKG_VERSION"))
}

/// A ref as advertised: its target and, for annotated tags, the peeled commit.
#[derive(Debug, Clone)]
pub struct AdvertisedRef {
    pub name: String,
    pub target: String,
    pub peeled: Option<String>,
}

/// All refs of a repo (branches and tags), sorted, with `HEAD`'s target (main) if any.
pub async fn advertised_refs(hub: &Hub, repo: i64) -> Result<(Vec<AdvertisedRef>, Option<String>)> {
    let rows = hub.db.call(move |c| list_refs(c, repo)).await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut head = None;
    for (name, target) in rows {
        if !(name.starts_with("refs/heads/") || name.starts_with("refs/tags/")) {
            continue;
        }
        if name == MAIN {
            head = Some(target.clone());
        }
        let peeled = match hub.objects.peel_to_commit(repo, &target).await? {
            Some(c) if c != target => Some(c),
            _ => None,
        };
        out.push(AdvertisedRef {
            name,
            target,
            peeled,
        });
    }
    Ok((out, head))
}

/// Pairs `(tag object, peeled commit)` for include-tag.
pub fn tag_pairs(refs: &[AdvertisedRef]) -> Vec<(String, String)> {
    refs.iter()
        .filter_map(|r| r.peeled.clone().map(|p| (r.target.clone(), p)))
        .collect()
}

/// Stream `prefix`, then a pack of `objects` (side-band framed when `sideband`), then a flush.
pub fn stream_pack(
    hub: Hub,
    repo: i64,
    objects: Vec<String>,
    prefix: Vec<u8>,
    sideband: bool,
    progress: bool,
) -> ByteStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    tokio::spawn(async move {
        let send = |buf: Vec<u8>| {
            let tx = tx.clone();
            async move { tx.send(Ok(Bytes::from(buf))).await.is_ok() }
        };
        let frame = |band: u8, data: &[u8]| {
            let mut out = Vec::with_capacity(data.len() + 16);
            if sideband {
                pktline::sideband(band, data, &mut out);
            } else if band == 1 {
                out.extend_from_slice(data);
            }
            out
        };
        if !send(prefix).await {
            return;
        }
        if sideband && progress {
            let msg = format!("Enumerating objects: {}, done.\n", objects.len());
            if !send(frame(2, msg.as_bytes())).await {
                return;
            }
        }
        let (mut w, head) = PackWriter::start(objects.len() as u32);
        let mut buf = head;
        for id in &objects {
            let entry = match hub.objects.read(repo, id).await {
                Ok(Some((kind, data))) => w.entry(kind, &data),
                Ok(None) => Err(crate::Error::internal(format!(
                    "object {id} missing from storage"
                ))),
                Err(e) => Err(e),
            };
            match entry {
                Ok(bytes) => buf.extend_from_slice(&bytes),
                Err(e) => {
                    tracing::error!(error = %e, "pack generation failed");
                    let _ = send(frame(3, format!("error: {e}\n").as_bytes())).await;
                    return;
                }
            }
            if buf.len() >= 256 * 1024 && !send(frame(1, &std::mem::take(&mut buf))).await {
                return;
            }
        }
        buf.extend_from_slice(&w.finish());
        if !send(frame(1, &buf)).await {
            return;
        }
        if sideband && progress {
            let msg = format!(
                "Total {} (delta 0), reused 0 (delta 0), pack-reused 0\n",
                objects.len()
            );
            let _ = send(frame(2, msg.as_bytes())).await;
        }
        if sideband {
            let _ = send(FLUSH.to_vec()).await;
        }
    });
    ByteStream(rx)
}
