//! git's smart protocol as served over HTTP: ref advertisement, upload-pack (clone/fetch,
//! protocol v2 and v0/v1) and receive-pack (push). Produces bytes; the daemon adds HTTP.

pub mod receive_pack;
pub mod upload_pack;
pub mod walk;

use bytes::Bytes;

use crate::error::Result;
use crate::git::object::decode_loose_unverified;
use crate::git::pack::PackWriter;
use crate::git::pktline::{self, FLUSH};
use crate::hub::Hub;
use crate::repos::refs::{list_refs, MAIN};
use crate::storage::{git_object_key, ByteStream};

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

/// Objects read ahead of pack generation when storage is a bucket.
const PREFETCH: usize = 16;

/// Pairs `(tag object, peeled commit)` for include-tag.
pub fn tag_pairs(refs: &[AdvertisedRef]) -> Vec<(String, String)> {
    refs.iter()
        .filter_map(|r| r.peeled.clone().map(|p| (r.target.clone(), p)))
        .collect()
}

/// Stream `prefix`, then a pack of `objects` (side-band framed when `sideband`), then a flush.
/// The pack is built on a blocking thread: reading, inflating and deflating thousands of small
/// objects costs far less there than one reactor round trip per object.
pub fn stream_pack(
    hub: Hub,
    repo: i64,
    objects: Vec<String>,
    prefix: Vec<u8>,
    sideband: bool,
    progress: bool,
) -> ByteStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    // With a bucket every object is a round trip: fetch ahead, several at a time, in order.
    let mut prefetched = hub.storage.direct().map(|_| {
        let (ptx, prx) = tokio::sync::mpsc::channel::<crate::Result<Option<Vec<u8>>>>(64);
        let (hub, objects) = (hub.clone(), objects.clone());
        tokio::spawn(async move {
            let mut reads = futures_util::StreamExt::buffered(
                futures_util::stream::iter(objects.into_iter().map(|id| {
                    let hub = hub.clone();
                    async move { hub.storage.read_all(&git_object_key(repo, &id)).await }
                })),
                PREFETCH,
            );
            while let Some(r) = futures_util::StreamExt::next(&mut reads).await {
                if ptx.send(r).await.is_err() {
                    return;
                }
            }
        });
        prx
    });
    tokio::task::spawn_blocking(move || {
        let send = |buf: Vec<u8>| tx.blocking_send(Ok(Bytes::from(buf))).is_ok();
        let frame = |band: u8, data: &[u8]| {
            let mut out = Vec::with_capacity(data.len() + 16);
            if sideband {
                pktline::sideband(band, data, &mut out);
            } else if band == 1 {
                out.extend_from_slice(data);
            }
            out
        };
        if !send(prefix) {
            return;
        }
        if sideband
            && progress
            && !send(frame(
                2,
                format!("Enumerating objects: {}, done.\n", objects.len()).as_bytes(),
            ))
        {
            return;
        }
        let (mut w, head) = PackWriter::start(objects.len() as u32);
        let mut buf = head;
        for id in &objects {
            let raw = match prefetched.as_mut() {
                Some(rx) => rx
                    .blocking_recv()
                    .unwrap_or_else(|| Err(crate::Error::internal("object prefetch stopped"))),
                None => hub.storage.read_all_blocking(&git_object_key(repo, id)),
            };
            let entry = raw
                .and_then(|raw| {
                    raw.ok_or_else(|| {
                        crate::Error::internal(format!("object {id} missing from storage"))
                    })
                })
                .and_then(|raw| decode_loose_unverified(&raw, id))
                .and_then(|(kind, data)| w.entry(kind, &data));
            match entry {
                Ok(bytes) => buf.extend_from_slice(&bytes),
                Err(e) => {
                    tracing::error!(error = %e, "pack generation failed");
                    let _ = send(frame(3, format!("error: {e}\n").as_bytes()));
                    return;
                }
            }
            if buf.len() >= 256 * 1024 && !send(frame(1, &std::mem::take(&mut buf))) {
                return;
            }
        }
        buf.extend_from_slice(&w.finish());
        if !send(frame(1, &buf)) {
            return;
        }
        if sideband && progress {
            let msg = format!(
                "Total {} (delta 0), reused 0 (delta 0), pack-reused 0\n",
                objects.len()
            );
            let _ = send(frame(2, msg.as_bytes()));
        }
        if sideband {
            let _ = send(FLUSH.to_vec());
        }
    });
    ByteStream(rx)
}
