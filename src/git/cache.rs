//! A least-recently-used cache bounded by (estimated) bytes, not by entry count.
//!
//! Entry counts say nothing about memory when one tree has 20,000 entries and another three:
//! a hostile reader walking large trees of many revisions could hold gigabytes in a
//! count-bounded cache. Each value says what it weighs; the cache evicts until the total is
//! under its budget, and never admits a value bigger than a quarter of it.

use std::hash::Hash;

use lru::LruCache;

/// Approximate heap footprint of a cached value, allocator overhead included.
pub trait Weigh {
    fn weight(&self) -> usize;
}

/// Heap bytes a `String` of this length takes (header, allocation, allocator overhead).
pub fn string_weight(s: &str) -> usize {
    24 + s.len().next_multiple_of(16) + 16
}

pub struct ByteLru<K: Hash + Eq, V: Weigh> {
    map: LruCache<K, (V, usize)>,
    used: usize,
    budget: usize,
}

/// Per-entry bookkeeping of the map itself (hash slot, list links).
const ENTRY_OVERHEAD: usize = 64;

impl<K: Hash + Eq, V: Weigh> ByteLru<K, V> {
    pub fn new(budget: usize) -> Self {
        ByteLru {
            map: LruCache::unbounded(),
            used: 0,
            budget,
        }
    }

    pub fn get(&mut self, k: &K) -> Option<&V> {
        self.map.get(k).map(|(v, _)| v)
    }

    /// Insert (or replace) `v`, weighing `key_weight + v.weight()`; evicts the least recently
    /// used entries until the total fits.
    pub fn put(&mut self, k: K, key_weight: usize, v: V) {
        let w = key_weight + v.weight() + ENTRY_OVERHEAD;
        if w > self.budget / 4 {
            if let Some((_, old)) = self.map.pop(&k) {
                self.used -= old;
            }
            return;
        }
        if let Some((_, old)) = self.map.put(k, (v, w)) {
            self.used -= old;
        }
        self.used += w;
        while self.used > self.budget {
            match self.map.pop_lru() {
                Some((_, (_, old))) => self.used -= old,
                None => break,
            }
        }
    }

    /// Bytes held, as estimated.
    pub fn used(&self) -> usize {
        self.used
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Blob(usize);
    impl Weigh for Blob {
        fn weight(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn stays_within_its_budget_and_evicts_the_oldest() {
        let mut c = ByteLru::new(10_000);
        for i in 0..1000 {
            c.put(i, 8, Blob(500));
            assert!(c.used() <= 10_000);
        }
        assert!(c.len() < 20 && c.len() > 10);
        assert!(c.get(&999).is_some() && c.get(&0).is_none());
        // Too big for the cache: not admitted, and replaces nothing.
        c.put(5000, 8, Blob(5000));
        assert!(c.get(&5000).is_none());
        // Replacing an entry counts it once.
        let before = c.used();
        c.put(999, 8, Blob(500));
        assert_eq!(c.used(), before);
    }
}
