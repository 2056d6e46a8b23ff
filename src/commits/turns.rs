//! One commit at a time per branch in this process, in arrival order.
//!
//! Commits without `parentCommit` rebuild on the new head when they lose the ref's
//! compare-and-swap; letting every writer of a busy branch race would make most of them lose
//! again and again. Waiting for a turn (a fair, FIFO async mutex per branch) means writers of
//! one process never lose to each other, and only writers of other processes can make a CAS
//! fail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OwnedMutexGuard;

type Key = (i64, String);

/// The per-branch turns of this process. Entries live as long as someone holds or waits for
/// them, so the map is bounded by the commits in flight.
#[derive(Default)]
pub struct BranchTurns {
    map: Mutex<HashMap<Key, Weak<tokio::sync::Mutex<()>>>>,
}

/// Held while a commit reads the head, builds on it and moves the branch.
pub type Turn = OwnedMutexGuard<()>;

impl BranchTurns {
    /// Wait for this branch's turn.
    pub async fn wait(&self, repo_id: i64, branch: &str) -> Turn {
        let lock = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() >= 64 {
                map.retain(|_, w| w.strong_count() > 0);
            }
            let key = (repo_id, branch.to_string());
            match map.get(&key).and_then(Weak::upgrade) {
                Some(l) => l,
                None => {
                    let l = Arc::new(tokio::sync::Mutex::new(()));
                    map.insert(key, Arc::downgrade(&l));
                    l
                }
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_turn_at_a_time_in_order_and_entries_go_away() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let turns = Arc::new(BranchTurns::default());
            let order = Arc::new(Mutex::new(Vec::new()));
            let first = turns.wait(1, "refs/heads/main").await;
            let mut waiters = Vec::new();
            for i in 0..5 {
                let (t, o) = (turns.clone(), order.clone());
                waiters.push(tokio::spawn(async move {
                    let _turn = t.wait(1, "refs/heads/main").await;
                    o.lock().unwrap().push(i);
                }));
                tokio::task::yield_now().await;
            }
            // Another branch is not held up.
            drop(turns.wait(1, "refs/heads/other").await);
            assert!(order.lock().unwrap().is_empty());
            drop(first);
            for w in waiters {
                w.await.unwrap();
            }
            assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
            for i in 0..100 {
                drop(turns.wait(i, "b").await);
            }
            assert!(turns.map.lock().unwrap().len() <= 64);
        });
    }
}
