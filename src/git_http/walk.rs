//! Which objects a fetch must send: everything reachable from the wants that the client does
//! not already have (reachable from its common haves), optionally cut at a depth.

use std::collections::{HashSet, VecDeque};

use crate::error::Result;
use crate::git::tree::MODE_SUBMODULE;
use crate::git::{Kind, Tag};
use crate::hub::Hub;

/// The objects to pack and the shallow boundary to report.
#[derive(Debug, Default)]
pub struct FetchPlan {
    pub objects: Vec<String>,
    pub shallow: Vec<String>,
    pub commits: HashSet<String>,
}

/// Haves the repository knows as commits.
pub async fn common_commits(hub: &Hub, repo: i64, haves: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for h in haves {
        if crate::git::object::is_sha1_hex(h)
            && hub.objects.has(repo, h).await?
            && hub.objects.commit(repo, h).await.is_ok()
        {
            out.push(h.clone());
        }
    }
    Ok(out)
}

async fn tree_closure(
    hub: &Hub,
    repo: i64,
    root: &str,
    skip: &HashSet<String>,
    seen: &mut HashSet<String>,
    out: &mut Vec<String>,
) -> Result<()> {
    let mut stack = vec![root.to_string()];
    while let Some(t) = stack.pop() {
        if skip.contains(&t) || !seen.insert(t.clone()) {
            continue;
        }
        out.push(t.clone());
        let entries = hub.objects.tree(repo, &t).await?;
        for e in entries.iter() {
            if e.mode == MODE_SUBMODULE {
                continue;
            }
            if e.is_tree() {
                stack.push(e.oid.clone());
            } else if !skip.contains(&e.oid) && seen.insert(e.oid.clone()) {
                out.push(e.oid.clone());
            }
        }
    }
    Ok(())
}

/// Plan a fetch. `depth` (from `deepen N`) cuts history N commits below each want.
pub async fn plan_fetch(
    hub: &Hub,
    repo: i64,
    wants: &[String],
    common: &[String],
    depth: Option<u32>,
    include_tags: &[(String, String)],
) -> Result<FetchPlan> {
    // Commits the client has: the common haves and all their ancestors.
    let mut have_commits: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<String> = common.iter().cloned().collect();
    while let Some(c) = queue.pop_front() {
        if !have_commits.insert(c.clone()) {
            continue;
        }
        if let Ok(commit) = hub.objects.commit(repo, &c).await {
            queue.extend(commit.parents.iter().cloned());
        }
    }
    // Trees and blobs the client has: those of its tips.
    let mut have_objects = HashSet::new();
    let mut scratch = Vec::new();
    for c in common {
        let tree = hub.objects.commit(repo, c).await?.tree.clone();
        tree_closure(
            hub,
            repo,
            &tree,
            &HashSet::new(),
            &mut have_objects,
            &mut scratch,
        )
        .await?;
    }

    let mut plan = FetchPlan::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut starts = Vec::new();
    for w in wants {
        let mut cur = w.clone();
        // Peel annotated tags, sending the tag objects themselves.
        for _ in 0..8 {
            match hub.objects.read(repo, &cur).await? {
                Some((Kind::Tag, data)) => {
                    if seen.insert(cur.clone()) {
                        plan.objects.push(cur.clone());
                    }
                    cur = Tag::parse_target(&data)?;
                }
                Some((Kind::Commit, _)) => {
                    starts.push(cur);
                    break;
                }
                Some((Kind::Tree, _)) => {
                    tree_closure(hub, repo, &cur, &have_objects, &mut seen, &mut plan.objects)
                        .await?;
                    break;
                }
                Some((Kind::Blob, _)) => {
                    if seen.insert(cur.clone()) {
                        plan.objects.push(cur);
                    }
                    break;
                }
                None => break,
            }
        }
    }
    let mut queue: VecDeque<(String, u32)> = starts.into_iter().map(|c| (c, 1)).collect();
    let mut visited = HashSet::new();
    while let Some((c, d)) = queue.pop_front() {
        if have_commits.contains(&c) || !visited.insert(c.clone()) {
            continue;
        }
        let commit = hub.objects.commit(repo, &c).await?;
        plan.objects.push(c.clone());
        plan.commits.insert(c.clone());
        tree_closure(
            hub,
            repo,
            &commit.tree,
            &have_objects,
            &mut seen,
            &mut plan.objects,
        )
        .await?;
        match depth {
            Some(limit) if d >= limit => {
                if !commit.parents.is_empty() {
                    plan.shallow.push(c.clone());
                }
            }
            _ => {
                for p in &commit.parents {
                    if hub.objects.has(repo, p).await? {
                        queue.push_back((p.clone(), d + 1));
                    }
                }
            }
        }
    }
    // include-tag: annotated tags whose commit is being sent.
    for (tag_obj, peeled) in include_tags {
        if tag_obj != peeled && plan.commits.contains(peeled) && seen.insert(tag_obj.clone()) {
            plan.objects.push(tag_obj.clone());
        }
    }
    Ok(plan)
}
