//! Walking history: commit listings and the last commit that touched a path.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use crate::error::Result;
use crate::git::Commit;
use crate::hub::Hub;

/// A commit with its id.
#[derive(Debug, Clone)]
pub struct CommitItem {
    pub id: String,
    pub commit: Arc<Commit>,
}

/// Commits reachable from `head`, newest first (by committer time), skipping `offset`.
/// Also returns whether more follow.
pub async fn list_commits(
    hub: &Hub,
    repo: i64,
    head: &str,
    offset: usize,
    limit: usize,
) -> Result<(Vec<CommitItem>, bool)> {
    let mut heap = BinaryHeap::new();
    let mut seen = HashSet::new();
    let first = hub.objects.commit(repo, head).await?;
    heap.push((first.committer.time, head.to_string()));
    seen.insert(head.to_string());
    let mut out = Vec::new();
    let mut index = 0usize;
    while let Some((_, id)) = heap.pop() {
        let commit = hub.objects.commit(repo, &id).await?;
        for p in &commit.parents {
            if seen.insert(p.clone()) {
                // A parent missing from storage (shallow history) ends that line.
                if let Ok(pc) = hub.objects.commit(repo, p).await {
                    heap.push((pc.committer.time, p.clone()));
                }
            }
        }
        if index >= offset {
            if out.len() == limit {
                return Ok((out, true));
            }
            out.push(CommitItem { id, commit });
        }
        index += 1;
    }
    Ok((out, false))
}

/// Number of commits reachable from `head`.
pub async fn count_commits(hub: &Hub, repo: i64, head: &str) -> Result<usize> {
    let mut stack = vec![head.to_string()];
    let mut seen: HashSet<String> = stack.iter().cloned().collect();
    while let Some(id) = stack.pop() {
        if let Ok(c) = hub.objects.commit(repo, &id).await {
            for p in &c.parents {
                if seen.insert(p.clone()) {
                    stack.push(p.clone());
                }
            }
        }
    }
    Ok(seen.len())
}

const MAX_WALK: usize = 2000;

/// For each path, the newest commit (along first parents) that changed it.
pub async fn last_commits(
    hub: &Hub,
    repo: i64,
    head: &str,
    paths: &[String],
) -> Result<HashMap<String, CommitItem>> {
    let mut result = HashMap::new();
    let mut pending: Vec<String> = paths.to_vec();
    let mut cur_id = head.to_string();
    let mut cur = hub.objects.commit(repo, &cur_id).await?;
    for _ in 0..MAX_WALK {
        if pending.is_empty() {
            break;
        }
        let parent = match cur.parents.first() {
            Some(p) => match hub.objects.commit(repo, p).await {
                Ok(c) => Some((p.clone(), c)),
                Err(_) => None,
            },
            None => None,
        };
        let mut still = Vec::new();
        for path in pending {
            let here = hub
                .objects
                .entry_at(repo, &cur.tree, &path)
                .await?
                .map(|e| e.oid);
            let before = match &parent {
                Some((_, pc)) => hub
                    .objects
                    .entry_at(repo, &pc.tree, &path)
                    .await?
                    .map(|e| e.oid),
                None => None,
            };
            if here != before || parent.is_none() {
                result.insert(
                    path,
                    CommitItem {
                        id: cur_id.clone(),
                        commit: cur.clone(),
                    },
                );
            } else {
                still.push(path);
            }
        }
        pending = still;
        match parent {
            Some((pid, pc)) => {
                cur_id = pid;
                cur = pc;
            }
            None => break,
        }
    }
    for path in pending {
        result.insert(
            path,
            CommitItem {
                id: cur_id.clone(),
                commit: cur.clone(),
            },
        );
    }
    Ok(result)
}
