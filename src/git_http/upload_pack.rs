//! upload-pack: ref advertisement and fetch negotiation, protocol v2 and v0/v1.

use super::walk::{common_commits, plan_fetch};
use super::{advertised_refs, agent, stream_pack, tag_pairs};
use crate::error::{Error, Result};
use crate::git::object::is_sha1_hex;
use crate::git::pktline::{self, Pkt, PktReader, DELIM, FLUSH};
use crate::hub::Hub;
use crate::storage::ByteStream;

const ZERO: &str = "0000000000000000000000000000000000000000";

/// A response body: small and whole, or a streamed pack.
pub enum Response {
    Bytes(Vec<u8>),
    Stream(ByteStream),
}

/// The v2 capability advertisement (`info/refs` with `Git-Protocol: version=2`).
pub fn v2_capabilities() -> Vec<u8> {
    let mut out = pktline::line("version 2");
    for cap in [
        agent().as_str(),
        "ls-refs=unborn",
        "fetch=shallow",
        "server-option",
        "object-format=sha1",
    ] {
        out.extend(pktline::line(cap));
    }
    out.extend_from_slice(FLUSH);
    out
}

/// The v0 advertisement of `service` (`git-upload-pack` or `git-receive-pack`).
pub async fn v0_advertisement(hub: &Hub, repo: i64, service: &str) -> Result<Vec<u8>> {
    let (refs, head) = advertised_refs(hub, repo).await?;
    let caps = if service == "git-upload-pack" {
        let mut c = format!(
            "side-band-64k ofs-delta shallow no-progress include-tag {} object-format=sha1",
            agent()
        );
        if head.is_some() {
            c.push_str(" symref=HEAD:refs/heads/main");
        }
        c
    } else {
        format!("report-status delete-refs side-band-64k quiet atomic ofs-delta no-thin {} object-format=sha1", agent())
    };
    let mut out = pktline::line(&format!("# service={service}"));
    out.extend_from_slice(FLUSH);
    let mut lines: Vec<String> = Vec::new();
    if service == "git-upload-pack" {
        if let Some(h) = &head {
            lines.push(format!("{h} HEAD"));
        }
    }
    for r in &refs {
        lines.push(format!("{} {}", r.target, r.name));
        if service == "git-upload-pack" {
            if let Some(p) = &r.peeled {
                lines.push(format!("{p} {}^{{}}", r.name));
            }
        }
    }
    if lines.is_empty() {
        lines.push(format!("{ZERO} capabilities^{{}}"));
    }
    for (i, l) in lines.iter().enumerate() {
        if i == 0 {
            out.extend(pktline::pkt(format!("{l}\0{caps}\n").as_bytes()));
        } else {
            out.extend(pktline::line(l));
        }
    }
    out.extend_from_slice(FLUSH);
    Ok(out)
}

fn oid_arg<'a>(line: &'a str, prefix: &str) -> Result<Option<&'a str>> {
    match line.strip_prefix(prefix) {
        Some(rest) => {
            let id = rest.split(' ').next().unwrap_or("");
            if !is_sha1_hex(id) {
                return Err(Error::bad_request(format!("Invalid object id in '{line}'")));
            }
            Ok(Some(id))
        }
        None => Ok(None),
    }
}

/// Wants must name objects the client may fetch: here, anything in the repo's store.
async fn check_wants(hub: &Hub, repo: i64, wants: &[String]) -> Result<()> {
    if wants.is_empty() {
        return Err(Error::bad_request("fetch without any want"));
    }
    for w in wants {
        if !hub.objects.has(repo, w).await? {
            return Err(Error::bad_request(format!("not our ref {w}")));
        }
    }
    Ok(())
}

/// A protocol v2 request (`command=ls-refs` or `command=fetch`).
pub async fn handle_v2(hub: &Hub, repo: i64, body: &[u8]) -> Result<Response> {
    let mut r = PktReader::new(body);
    let mut command = None;
    while let Some(p) = r.next_pkt()? {
        match p {
            Pkt::Delim | Pkt::Flush => break,
            Pkt::Data(_) => {
                let t = p.text().unwrap_or("");
                if let Some(c) = t.strip_prefix("command=") {
                    command = Some(c.to_string());
                }
            }
            Pkt::ResponseEnd => return Err(Error::bad_request("unexpected response-end packet")),
        }
    }
    let mut args = Vec::new();
    while let Some(p) = r.next_pkt()? {
        match p {
            Pkt::Flush => break,
            Pkt::Data(_) => args.push(
                p.text()
                    .ok_or_else(|| Error::bad_request("argument is not UTF-8"))?
                    .to_string(),
            ),
            _ => return Err(Error::bad_request("unexpected packet in arguments")),
        }
    }
    match command.as_deref() {
        Some("ls-refs") => ls_refs(hub, repo, &args).await.map(Response::Bytes),
        Some("fetch") => fetch_v2(hub, repo, &args).await,
        Some(other) => Err(Error::bad_request(format!("unknown command '{other}'"))),
        None => Err(Error::bad_request("missing command")),
    }
}

async fn ls_refs(hub: &Hub, repo: i64, args: &[String]) -> Result<Vec<u8>> {
    let (refs, head) = advertised_refs(hub, repo).await?;
    let peel = args.iter().any(|a| a == "peel");
    let symrefs = args.iter().any(|a| a == "symrefs");
    let unborn = args.iter().any(|a| a == "unborn");
    let prefixes: Vec<&str> = args
        .iter()
        .filter_map(|a| a.strip_prefix("ref-prefix "))
        .collect();
    let wanted = |name: &str| prefixes.is_empty() || prefixes.iter().any(|p| name.starts_with(p));
    let mut out = Vec::new();
    if wanted("HEAD") {
        match &head {
            Some(h) => {
                let mut l = format!("{h} HEAD");
                if symrefs {
                    l.push_str(" symref-target:refs/heads/main");
                }
                out.extend(pktline::line(&l));
            }
            None if unborn && symrefs => {
                out.extend(pktline::line("unborn HEAD symref-target:refs/heads/main"))
            }
            None => {}
        }
    }
    for r in refs.iter().filter(|r| wanted(&r.name)) {
        let mut l = format!("{} {}", r.target, r.name);
        if peel {
            if let Some(p) = &r.peeled {
                l.push_str(&format!(" peeled:{p}"));
            }
        }
        out.extend(pktline::line(&l));
    }
    out.extend_from_slice(FLUSH);
    Ok(out)
}

async fn fetch_v2(hub: &Hub, repo: i64, args: &[String]) -> Result<Response> {
    let mut wants = Vec::new();
    let mut haves = Vec::new();
    let mut done = false;
    let mut depth = None;
    let mut include_tag = false;
    let mut progress = true;
    for a in args {
        if let Some(id) = oid_arg(a, "want ")? {
            wants.push(id.to_string());
        } else if let Some(id) = oid_arg(a, "have ")? {
            haves.push(id.to_string());
        } else if oid_arg(a, "shallow ")?.is_some() {
            // The client's shallow boundary: nothing to do, history below it is not sent.
        } else if let Some(n) = a.strip_prefix("deepen ") {
            depth = Some(
                n.parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Error::bad_request(format!("invalid deepen '{n}'")))?,
            );
        } else if a == "done" {
            done = true;
        } else if a == "include-tag" {
            include_tag = true;
        } else if a == "no-progress" {
            progress = false;
        } else if a.starts_with("deepen-since")
            || a.starts_with("deepen-not")
            || a.starts_with("filter")
            || a.starts_with("want-ref")
        {
            return Err(Error::bad_request(format!(
                "unsupported fetch argument '{a}'"
            )));
        }
        // thin-pack, ofs-delta, deepen-relative, sideband-all: accepted, no effect.
    }
    check_wants(hub, repo, &wants).await?;
    let common = common_commits(hub, repo, &haves).await?;
    let mut prefix = Vec::new();
    if !done {
        prefix.extend(pktline::line("acknowledgments"));
        if common.is_empty() {
            prefix.extend(pktline::line("NAK"));
        }
        for c in &common {
            prefix.extend(pktline::line(&format!("ACK {c}")));
        }
        if common.is_empty() && !haves.is_empty() {
            // Not ready: let the client send older haves (or `done`).
            prefix.extend_from_slice(FLUSH);
            return Ok(Response::Bytes(prefix));
        }
        prefix.extend(pktline::line("ready"));
        prefix.extend_from_slice(DELIM);
    }
    let tags = if include_tag {
        tag_pairs(&advertised_refs(hub, repo).await?.0)
    } else {
        Vec::new()
    };
    let plan = plan_fetch(hub, repo, &wants, &common, depth, &tags).await?;
    if depth.is_some() {
        prefix.extend(pktline::line("shallow-info"));
        for s in &plan.shallow {
            prefix.extend(pktline::line(&format!("shallow {s}")));
        }
        prefix.extend_from_slice(DELIM);
    }
    prefix.extend(pktline::line("packfile"));
    Ok(Response::Stream(stream_pack(
        hub.clone(),
        repo,
        plan.objects,
        prefix,
        true,
        progress,
    )))
}

/// A v0/v1 stateless upload-pack request: wants, flush, haves, then flush or `done`.
pub async fn handle_v0(hub: &Hub, repo: i64, body: &[u8]) -> Result<Response> {
    let mut r = PktReader::new(body);
    let mut wants = Vec::new();
    let mut caps = String::new();
    let mut depth = None;
    while let Some(p) = r.next_pkt()? {
        match p {
            Pkt::Flush => break,
            Pkt::Data(_) => {
                let t = p
                    .text()
                    .ok_or_else(|| Error::bad_request("request line is not UTF-8"))?;
                if let Some(id) = oid_arg(t, "want ")? {
                    if wants.is_empty() {
                        caps = t.get(46..).unwrap_or("").to_string();
                    }
                    wants.push(id.to_string());
                } else if let Some(n) = t.strip_prefix("deepen ") {
                    depth = Some(
                        n.trim()
                            .parse::<u32>()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or_else(|| Error::bad_request("invalid deepen"))?,
                    );
                } else if oid_arg(t, "shallow ")?.is_some() {
                } else {
                    return Err(Error::bad_request(format!("unexpected line '{t}'")));
                }
            }
            _ => return Err(Error::bad_request("unexpected packet")),
        }
    }
    check_wants(hub, repo, &wants).await?;
    let sideband = caps
        .split(' ')
        .any(|c| c == "side-band-64k" || c == "side-band");
    let progress = !caps.split(' ').any(|c| c == "no-progress");
    let include_tag = caps.split(' ').any(|c| c == "include-tag");
    let mut out = Vec::new();
    let mut have_ids = Vec::new();
    let mut done = false;
    let mut acked = false;
    while let Some(p) = r.next_pkt()? {
        match p {
            Pkt::Data(_) => {
                let t = p.text().unwrap_or("");
                if t == "done" {
                    done = true;
                    break;
                }
                let Some(id) = oid_arg(t, "have ")? else {
                    return Err(Error::bad_request(format!("unexpected line '{t}'")));
                };
                have_ids.push(id.to_string());
                if !acked
                    && !common_commits(hub, repo, &[id.to_string()])
                        .await?
                        .is_empty()
                {
                    out.extend(pktline::line(&format!("ACK {id}")));
                    acked = true;
                }
            }
            Pkt::Flush => {
                if !acked {
                    out.extend(pktline::line("NAK"));
                }
            }
            _ => return Err(Error::bad_request("unexpected packet")),
        }
    }
    let mut shallow_info = Vec::new();
    let common = common_commits(hub, repo, &have_ids).await?;
    let tags = if include_tag {
        tag_pairs(&advertised_refs(hub, repo).await?.0)
    } else {
        Vec::new()
    };
    let plan = plan_fetch(hub, repo, &wants, &common, depth, &tags).await?;
    if depth.is_some() {
        for s in &plan.shallow {
            shallow_info.extend(pktline::line(&format!("shallow {s}")));
        }
        shallow_info.extend_from_slice(FLUSH);
    }
    let mut prefix = shallow_info;
    prefix.extend(out);
    if !done {
        return Ok(Response::Bytes(prefix));
    }
    if !acked {
        prefix.extend(pktline::line("NAK"));
    }
    Ok(Response::Stream(stream_pack(
        hub.clone(),
        repo,
        plan.objects,
        prefix,
        sideband,
        progress,
    )))
}
