//! receive-pack: a push. The pack is read and fully checked (every object parses, everything
//! referenced is present, LFS pointers name objects the pusher may use) before any object is
//! stored, and refs then move by compare-and-swap, with the same index updates as API commits.

use std::collections::{HashMap, HashSet};

use crate::accounts::Caller;
use crate::commits::apply::LfsAdded;
use crate::commits::pipeline::{self, RefMove, Refused, Source};
use crate::error::{Error, Result};
use crate::git::commit::check_no_nul;
use crate::git::object::is_sha1_hex;
use crate::git::pack::{read_pack, PackObject, ReadOutcome};
use crate::git::pktline::{self, Pkt, PktReader, FLUSH};
use crate::git::tree::{parse_tree, MODE_EXEC, MODE_FILE, MODE_SUBMODULE, MODE_SYMLINK, MODE_TREE};
use crate::git::{Commit, Kind, Pointer, Tag};
use crate::hub::Hub;
use crate::names::{check_path_component, validate_ref_name};
use crate::repos::refs::{get_ref, MAIN};
use crate::repos::Repo;

/// Blob and tree writes in flight at once while a push is stored.
const PARALLEL_WRITES: usize = 16;

const ZERO: &str = "0000000000000000000000000000000000000000";
const MAX_OBJECTS: u32 = 5_000_000;

/// One ref update of a push.
#[derive(Debug, Clone)]
pub struct Command {
    pub old: String,
    pub new: String,
    pub name: String,
}

/// A parsed push request.
#[derive(Debug)]
pub struct PushRequest<'a> {
    pub commands: Vec<Command>,
    pub sideband: bool,
    pub atomic: bool,
    pub report_status: bool,
    pub pack: &'a [u8],
}

/// Parse the command list and locate the pack.
pub fn parse_request(body: &[u8]) -> Result<PushRequest<'_>> {
    let mut r = PktReader::new(body);
    let mut commands = Vec::new();
    let mut caps = String::new();
    loop {
        match r.next_pkt()? {
            Some(Pkt::Flush) => break,
            Some(p @ Pkt::Data(_)) => {
                let Pkt::Data(raw) = p else { continue };
                let (line, c) = match raw.iter().position(|b| *b == 0) {
                    Some(i) => (&raw[..i], Some(&raw[i + 1..])),
                    None => (raw, None),
                };
                if let Some(c) = c {
                    caps = String::from_utf8_lossy(c).trim().to_string();
                }
                let line = std::str::from_utf8(line)
                    .map_err(|_| Error::bad_request("push command is not UTF-8"))?;
                let line = line.trim_end_matches('\n');
                if line.starts_with("shallow ") {
                    return Err(Error::bad_request(
                        "pushing from a shallow clone is not supported",
                    ));
                }
                let mut parts = line.splitn(3, ' ');
                let (Some(old), Some(new), Some(name)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(Error::bad_request(format!(
                        "malformed push command '{line}'"
                    )));
                };
                if !is_sha1_hex(old) || !is_sha1_hex(new) {
                    return Err(Error::bad_request(format!(
                        "malformed object id in '{line}'"
                    )));
                }
                commands.push(Command {
                    old: old.into(),
                    new: new.into(),
                    name: name.into(),
                });
            }
            Some(_) => return Err(Error::bad_request("unexpected packet in push commands")),
            None => {
                if commands.is_empty() {
                    break;
                }
                return Err(Error::bad_request(
                    "push commands not terminated by a flush",
                ));
            }
        }
    }
    let has = |c: &str| caps.split(' ').any(|x| x == c);
    Ok(PushRequest {
        sideband: has("side-band-64k") || has("side-band"),
        atomic: has("atomic"),
        report_status: has("report-status") || has("report-status-v2"),
        commands,
        pack: r.rest(),
    })
}

/// The outcome: unpack status and one result per ref.
#[derive(Debug)]
pub struct Report {
    pub unpack: Result<(), String>,
    pub refs: Vec<(String, Result<(), String>)>,
}

impl Report {
    /// Encode as report-status, side-band framed when asked.
    pub fn render(&self, sideband: bool) -> Vec<u8> {
        let mut inner = Vec::new();
        match &self.unpack {
            Ok(()) => inner.extend(pktline::line("unpack ok")),
            Err(e) => inner.extend(pktline::line(&format!("unpack {}", one_line(e)))),
        }
        for (name, r) in &self.refs {
            match r {
                Ok(()) => inner.extend(pktline::line(&format!("ok {name}"))),
                Err(e) => inner.extend(pktline::line(&format!("ng {name} {}", one_line(e)))),
            }
        }
        inner.extend_from_slice(FLUSH);
        if !sideband {
            return inner;
        }
        let mut out = Vec::new();
        pktline::sideband(1, &inner, &mut out);
        out.extend_from_slice(FLUSH);
        out
    }
}

/// A report line ends at the first newline: keep a reason on one line.
fn one_line(reason: &str) -> String {
    reason
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn check_object(o: &PackObject) -> Result<()> {
    let bad =
        |why: String| Error::bad_request(format!("invalid {} {}: {why}", o.kind.as_str(), o.id));
    match o.kind {
        Kind::Blob => Ok(()),
        Kind::Commit => {
            check_no_nul(&o.data, "the commit").map_err(|e| bad(e.to_string()))?;
            let c = Commit::parse(&o.data).map_err(|e| bad(e.to_string()))?;
            if !is_sha1_hex(&c.tree) || c.parents.iter().any(|p| !is_sha1_hex(p)) {
                return Err(bad("bad tree or parent id".into()));
            }
            Ok(())
        }
        Kind::Tree => {
            let entries = parse_tree(&o.data).map_err(|e| bad(e.to_string()))?;
            let mut names = HashSet::new();
            for e in &entries {
                if ![
                    MODE_FILE,
                    MODE_EXEC,
                    MODE_SYMLINK,
                    MODE_TREE,
                    MODE_SUBMODULE,
                ]
                .contains(&e.mode.as_str())
                {
                    return Err(bad(format!("bad mode {} for '{}'", e.mode, e.name)));
                }
                // The same rule as API paths, so no revision is accepted that git would refuse
                // to check out.
                check_path_component(&e.name, e.mode == MODE_SYMLINK)
                    .map_err(|why| bad(format!("bad entry name {:?}: {why}", e.name)))?;
                if !names.insert(e.name.clone()) {
                    return Err(bad(format!("duplicate entry '{}'", e.name)));
                }
            }
            Ok(())
        }
        Kind::Tag => {
            check_no_nul(&o.data, "the tag").map_err(|e| bad(e.to_string()))?;
            let target = Tag::parse_target(&o.data).map_err(|e| bad(e.to_string()))?;
            if !is_sha1_hex(&target) {
                return Err(bad("bad target id".into()));
            }
            Ok(())
        }
    }
}

/// Objects of the pack by id, plus lookups into the store for the rest.
struct View<'a> {
    hub: &'a Hub,
    repo: i64,
    pack: HashMap<String, &'a PackObject>,
}

impl View<'_> {
    async fn kind(&self, id: &str) -> Result<Option<Kind>> {
        if let Some(o) = self.pack.get(id) {
            return Ok(Some(o.kind));
        }
        Ok(self.hub.objects.read(self.repo, id).await?.map(|(k, _)| k))
    }

    /// Everything `tip` needs is present. Stored objects are complete by construction (objects
    /// are only stored after this check, dependencies first), so the walk stops at them.
    async fn check_connected(&self, tip: &str) -> Result<()> {
        let mut stack = vec![tip.to_string()];
        let mut seen = HashSet::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let Some(o) = self.pack.get(&id) else {
                if !self.hub.objects.has(self.repo, &id).await? {
                    return Err(Error::bad_request(format!("missing object {id}")));
                }
                continue;
            };
            match o.kind {
                Kind::Blob => {}
                Kind::Commit => {
                    let c = Commit::parse(&o.data)?;
                    stack.push(c.tree);
                    stack.extend(c.parents);
                }
                Kind::Tree => {
                    for e in parse_tree(&o.data)? {
                        if e.mode == MODE_SUBMODULE {
                            continue;
                        }
                        let want = if e.is_tree() { Kind::Tree } else { Kind::Blob };
                        match self.kind(&e.oid).await? {
                            Some(k) if k == want => {}
                            Some(k) => {
                                return Err(Error::bad_request(format!(
                                    "entry '{}' is a {}, not a {}",
                                    e.name,
                                    k.as_str(),
                                    want.as_str()
                                )))
                            }
                            None => {
                                return Err(Error::bad_request(format!(
                                    "missing object {} ('{}')",
                                    e.oid, e.name
                                )))
                            }
                        }
                        stack.push(e.oid);
                    }
                }
                Kind::Tag => stack.push(Tag::parse_target(&o.data)?),
            }
        }
        Ok(())
    }

    /// LFS files added by the pushed commits (pointer blobs from the pack), with their paths.
    async fn lfs_added(&self, tip: &str) -> Result<Vec<LfsAdded>> {
        let mut out = Vec::new();
        let mut commits = vec![tip.to_string()];
        let mut seen = HashSet::new();
        while let Some(id) = commits.pop() {
            let Some(o) = self.pack.get(&id).filter(|o| o.kind == Kind::Commit) else {
                continue;
            };
            if !seen.insert(id.clone()) {
                continue;
            }
            let c = Commit::parse(&o.data)?;
            let mut trees = vec![(String::new(), c.tree.clone())];
            while let Some((dir, t)) = trees.pop() {
                let Some(to) = self.pack.get(&t) else {
                    continue;
                };
                for e in parse_tree(&to.data)? {
                    let path = if dir.is_empty() {
                        e.name.clone()
                    } else {
                        format!("{dir}/{}", e.name)
                    };
                    if e.is_tree() {
                        trees.push((path, e.oid));
                    } else if let Some(p) =
                        self.pack.get(&e.oid).and_then(|b| Pointer::parse(&b.data))
                    {
                        out.push(LfsAdded {
                            path,
                            oid: p.oid,
                            size: p.size,
                        });
                    }
                }
            }
            commits.extend(c.parents);
        }
        out.sort_by(|a, b| (&a.path, &a.oid).cmp(&(&b.path, &b.oid)));
        out.dedup_by(|a, b| a.path == b.path && a.oid == b.oid);
        Ok(out)
    }
}

/// Is `new` a descendant of `old`?
async fn descends(view: &View<'_>, new: &str, old: &str) -> Result<bool> {
    let mut stack = vec![new.to_string()];
    let mut seen = HashSet::new();
    while let Some(id) = stack.pop() {
        if id == old {
            return Ok(true);
        }
        if !seen.insert(id.clone()) || seen.len() > 1_000_000 {
            continue;
        }
        let data = match view.pack.get(&id) {
            Some(o) => Some(o.data.clone()),
            None => match view.hub.objects.read(view.repo, &id).await? {
                Some((Kind::Commit, d)) => Some(d),
                _ => None,
            },
        };
        if let Some(d) = data {
            stack.extend(Commit::parse(&d)?.parents);
        }
    }
    Ok(false)
}

/// Apply a push. The caller has checked write access. Refusals of the pack as a whole come
/// back in `Report::unpack`; per-ref refusals in `Report::refs`.
pub async fn receive(
    hub: &Hub,
    caller: &Caller,
    repo: &Repo,
    req: PushRequest<'_>,
) -> Result<Report> {
    let fail_all = |msg: String, cmds: &[Command]| Report {
        unpack: Err(msg.clone()),
        refs: cmds
            .iter()
            .map(|c| (c.name.clone(), Err(format!("unpacker error: {msg}"))))
            .collect(),
    };
    // Read the pack (fetching delta bases from the store for thin packs).
    let only_deletes = req.commands.iter().all(|c| c.new == ZERO);
    let objects = if req.pack.is_empty() {
        if !only_deletes {
            return Ok(fail_all("missing pack".into(), &req.commands));
        }
        Vec::new()
    } else {
        let mut external = HashMap::new();
        loop {
            match read_pack(req.pack, &external, MAX_OBJECTS) {
                Ok(ReadOutcome::Objects(o)) => break o,
                Ok(ReadOutcome::NeedBases(ids)) => {
                    let before = external.len();
                    for id in ids {
                        if let Some((k, d)) = hub.objects.read(repo.id, &id).await? {
                            external.insert(id, (k, d));
                        }
                    }
                    if external.len() == before {
                        return Ok(fail_all(
                            "pack refers to delta bases this repository does not have".into(),
                            &req.commands,
                        ));
                    }
                }
                Err(e) => return Ok(fail_all(e.to_string(), &req.commands)),
            }
        }
    };
    for o in &objects {
        if let Err(e) = check_object(o) {
            return Ok(fail_all(e.to_string(), &req.commands));
        }
    }
    let view = View {
        hub,
        repo: repo.id,
        pack: objects.iter().map(|o| (o.id.clone(), o)).collect(),
    };

    // LFS pointers must name objects the hub has and the pusher may use.
    let mut pointers = Vec::new();
    for o in &objects {
        if o.kind == Kind::Blob {
            if let Some(p) = Pointer::parse(&o.data) {
                pointers.push(p);
            }
        }
    }
    if !pointers.is_empty() {
        let oids: Vec<String> = pointers.iter().map(|p| p.oid.clone()).collect();
        crate::lfs::settle_pending(hub, caller.user.id, &oids).await?;
        let caller_c = caller.clone();
        let missing = hub
            .db
            .call(move |c| {
                let mut missing = Vec::new();
                for p in pointers {
                    let ok = crate::lfs::stored_size(c, &p.oid)? == Some(p.size)
                        && crate::lfs::may_reference(c, &caller_c, &p.oid)?;
                    if !ok {
                        missing.push(p.oid);
                    }
                }
                Ok(missing)
            })
            .await?;
        if let Some(oid) = missing.first() {
            return Ok(fail_all(
                format!(
                    "LFS object {oid} is not on the hub (push LFS objects first: git lfs push)"
                ),
                &req.commands,
            ));
        }
    }

    // Quota: regular blobs of the pack plus LFS objects new to this repository.
    let regular: u64 = objects
        .iter()
        .filter(|o| o.kind == Kind::Blob && Pointer::parse(&o.data).is_none())
        .map(|o| o.data.len() as u64)
        .sum();
    let lfs_objs: Vec<(String, u64)> = objects
        .iter()
        .filter(|o| o.kind == Kind::Blob)
        .filter_map(|o| Pointer::parse(&o.data))
        .map(|p| (p.oid, p.size))
        .collect();
    if let Err(e) = pipeline::precheck(hub, repo, regular, lfs_objs).await {
        return Ok(fail_all(e.to_string(), &req.commands));
    }

    // Per-ref checks, including connectivity of each new tip.
    let mut results: Vec<(String, Result<(), String>)> = Vec::new();
    for cmd in &req.commands {
        let r = check_command(&view, cmd).await;
        results.push((cmd.name.clone(), r));
    }
    if req.atomic && results.iter().any(|(_, r)| r.is_err()) {
        let refs = results
            .into_iter()
            .map(|(n, r)| {
                (
                    n,
                    Err(r.err().unwrap_or_else(|| "atomic push failed".into())),
                )
            })
            .collect();
        return Ok(Report {
            unpack: Ok(()),
            refs,
        });
    }

    // Store objects, dependencies first, so a stored commit always has its whole closure.
    for kind in [Kind::Blob, Kind::Tree, Kind::Commit, Kind::Tag] {
        let mut batch: Vec<&PackObject> = objects.iter().filter(|o| o.kind == kind).collect();
        if kind == Kind::Commit {
            batch = topo_parents_first(&batch)?;
        }
        if kind == Kind::Commit {
            for o in batch {
                hub.objects.write(repo.id, o.kind, &o.data).await?;
            }
            continue;
        }
        // Blobs and trees need no order among themselves: write them side by side (a round
        // trip each with a bucket); every one is stored before the first commit.
        let writes: Vec<_> = batch
            .into_iter()
            .map(|o| hub.objects.write(repo.id, o.kind, &o.data))
            .collect();
        let mut writes = futures_util::StreamExt::buffer_unordered(
            futures_util::stream::iter(writes),
            PARALLEL_WRITES,
        );
        while let Some(r) = futures_util::StreamExt::next(&mut writes).await {
            r?;
        }
    }

    // Move refs through the pipeline, in one transaction (undone as a whole when atomic).
    let mut moves = Vec::new();
    for (cmd, (_, r)) in req.commands.iter().zip(&results) {
        if r.is_ok() {
            let lfs = if cmd.new != ZERO && cmd.name.starts_with("refs/heads/") {
                view.lfs_added(&cmd.new).await?
            } else {
                Vec::new()
            };
            let old = (cmd.old != ZERO).then_some(cmd.old.as_str());
            let new = (cmd.new != ZERO).then_some(cmd.new.as_str());
            moves.push(RefMove::prepare(hub, repo.id, &cmd.name, old, new, lfs).await?);
        }
    }
    let (repo_id, atomic) = (repo.id, req.atomic);
    let names: Vec<String> = moves.iter().map(|m| m.name.clone()).collect();
    let outcomes = hub
        .db
        .call(move |c| pipeline::apply(c, repo_id, &moves, atomic, Source::Push))
        .await?;
    let refused = |r: &Refused| match r {
        Refused::Moved => {
            "failed to update ref: it moved since you fetched (fetch first)".to_string()
        }
        Refused::Conflict(message) => message.clone(),
    };
    let failed_atomic = atomic && outcomes.iter().any(|o| o.is_err());
    if failed_atomic {
        // Nothing moved: the refusing ref says why, the others that the push was atomic.
        let why = outcomes.iter().find_map(|o| o.as_ref().err()).map(refused);
        let failing = names.get(outcomes.len().saturating_sub(1)).cloned();
        let refs = names
            .into_iter()
            .map(|n| {
                let r = match (&why, Some(&n) == failing.as_ref()) {
                    (Some(w), true) => w.clone(),
                    _ => "atomic push failed".to_string(),
                };
                (n, Err(r))
            })
            .collect();
        return Ok(Report {
            unpack: Ok(()),
            refs,
        });
    }
    for (name, outcome) in names.iter().zip(&outcomes) {
        match outcome {
            Ok(event) => tracing::debug!(?event, "ref moved by a push"),
            Err(r) => {
                if let Some(slot) = results.iter_mut().find(|(n, _)| n == name) {
                    slot.1 = Err(refused(r));
                }
            }
        }
    }
    Ok(Report {
        unpack: Ok(()),
        refs: results,
    })
}

async fn check_command(view: &View<'_>, cmd: &Command) -> Result<(), String> {
    let short = if let Some(b) = cmd.name.strip_prefix("refs/heads/") {
        b
    } else if let Some(t) = cmd.name.strip_prefix("refs/tags/") {
        t
    } else {
        return Err("only refs/heads/* and refs/tags/* can be pushed".into());
    };
    validate_ref_name(short).map_err(|e| e.to_string())?;
    if cmd.new == ZERO {
        if cmd.name == MAIN {
            return Err("cannot delete the default branch refs/heads/main".into());
        }
        return Ok(());
    }
    let kind = view.kind(&cmd.new).await.map_err(|e| e.to_string())?;
    match (kind, cmd.name.starts_with("refs/heads/")) {
        (None, _) => return Err(format!("missing object {}", cmd.new)),
        (Some(Kind::Commit), _) => {}
        (Some(Kind::Tag), false) => {}
        (Some(k), true) => {
            return Err(format!(
                "a branch must point at a commit, not a {}",
                k.as_str()
            ))
        }
        (Some(k), false) => {
            return Err(format!(
                "a tag must point at a commit or tag, not a {}",
                k.as_str()
            ))
        }
    }
    view.check_connected(&cmd.new)
        .await
        .map_err(|e| e.to_string())?;
    // The current value must be what the client saw (CAS happens again at the move).
    let current = get_current(view, &cmd.name)
        .await
        .map_err(|e| e.to_string())?;
    let expected = (cmd.old != ZERO).then(|| cmd.old.clone());
    if current != expected {
        return Err("stale info: the ref moved since you fetched (fetch first)".into());
    }
    if let (Some(old), true) = (&expected, cmd.name.starts_with("refs/heads/")) {
        // Non-fast-forward updates arrive only when the client forced them; they need the
        // same write access as any push, which the caller already has.
        if !descends(view, &cmd.new, old)
            .await
            .map_err(|e| e.to_string())?
        {
            tracing::info!(r#ref = %cmd.name, "forced non-fast-forward update");
        }
    }
    Ok(())
}

async fn get_current(view: &View<'_>, name: &str) -> Result<Option<String>> {
    let (id, n) = (view.repo, name.to_string());
    view.hub.db.call(move |c| get_ref(c, id, &n)).await
}

/// Order commits so that parents present in `batch` come before their children.
fn topo_parents_first<'a>(batch: &[&'a PackObject]) -> Result<Vec<&'a PackObject>> {
    let by_id: HashMap<&str, &PackObject> = batch.iter().map(|o| (o.id.as_str(), *o)).collect();
    let mut done: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(batch.len());
    for o in batch {
        let mut stack = vec![(o.id.as_str(), false)];
        while let Some((id, expanded)) = stack.pop() {
            if done.contains(id) {
                continue;
            }
            let Some(obj) = by_id.get(id) else { continue };
            if expanded {
                done.insert(id);
                out.push(*obj);
                continue;
            }
            stack.push((id, true));
            for p in Commit::parse(&obj.data)?.parents {
                if let Some((pid, _)) = by_id.get_key_value(p.as_str()) {
                    if !done.contains(pid) {
                        stack.push((pid, false));
                    }
                }
            }
        }
    }
    Ok(out)
}
