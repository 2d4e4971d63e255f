//! A compact table of the rows of a results file, for `--resume` and `report` of millions of
//! rows in bounded memory: a sorted `Vec` of fixed-size entries (a row's key and a small
//! value, 24 bytes) instead of a hash map of strings, built from the lines in file order so
//! that a later line is merged into what an earlier one said.

/// A row's key as 16 bytes (see [`super::reader::RowKey::packed`]).
pub type Key = [u64; 2];

/// How a later line's value combines with what earlier lines said about the same row.
pub trait Merge: Copy {
    /// Folds `newer` (from a later line) into `self`.
    fn merge(&mut self, newer: Self);
}

/// Lines noted since the last merge, at least this many before merging (then an eighth of
/// the table: the merges cost a pass over the table each, the notes memory).
const PENDING_MIN: usize = 1 << 16;

/// Keys and values, sorted by key, one entry per key; lines noted in file order.
#[derive(Debug)]
pub struct Table<V> {
    sorted: Vec<(Key, V)>,
    /// Noted since the last merge, in file order.
    pending: Vec<(Key, V)>,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            sorted: Vec::new(),
            pending: Vec::new(),
        }
    }
}

impl<V: Merge> Table<V> {
    /// Notes what a line says about the row `key`; lines must come in file order.
    pub fn note(&mut self, key: Key, value: V) {
        self.pending.push((key, value));
        if self.pending.len() >= PENDING_MIN.max(self.sorted.len() / 8) {
            self.merge_pending();
        }
    }

    /// Merges the lines noted into the table: call it once the lines are read, before
    /// looking anything up.
    pub fn finish(&mut self) {
        self.merge_pending();
        self.pending = Vec::new();
    }

    fn merge_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        // A stable sort keeps the file order of the lines of one row.
        self.pending.sort_by_key(|(key, _)| *key);
        self.pending.dedup_by(|newer, older| {
            if newer.0 == older.0 {
                older.1.merge(newer.1);
                true
            } else {
                false
            }
        });
        // Rows already in the table take the news in place; the others are inserted by one
        // merge from the back, so no second copy of the table is ever made.
        let mut fresh = 0;
        for i in 0..self.pending.len() {
            let (key, value) = self.pending[i];
            match self.sorted.binary_search_by_key(&key, |(k, _)| *k) {
                Ok(at) => self.sorted[at].1.merge(value),
                Err(_) => {
                    self.pending[fresh] = (key, value);
                    fresh += 1;
                }
            }
        }
        self.pending.truncate(fresh);
        let old = self.sorted.len();
        if fresh == 0 {
            self.pending.clear();
            return;
        }
        self.sorted.extend_from_slice(&self.pending[..fresh]);
        let (mut i, mut j, mut out) = (old, fresh, old + fresh);
        while j > 0 {
            out -= 1;
            if i > 0 && self.sorted[i - 1].0 > self.pending[j - 1].0 {
                self.sorted[out] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[out] = self.pending[j - 1];
                j -= 1;
            }
        }
        self.pending.clear();
    }

    /// What the lines said about `key`.
    pub fn get(&self, key: Key) -> Option<&V> {
        let at = self.sorted.binary_search_by_key(&key, |(k, _)| *k).ok()?;
        Some(&self.sorted[at].1)
    }

    /// What the lines said about `key`, to change.
    pub fn get_mut(&mut self, key: Key) -> Option<&mut V> {
        let at = self.sorted.binary_search_by_key(&key, |(k, _)| *k).ok()?;
        Some(&mut self.sorted[at].1)
    }

    /// Keeps only the rows whose value passes `keep`, and gives the memory of the others back.
    pub fn retain(&mut self, keep: impl Fn(&V) -> bool) {
        self.sorted.retain(|(_, v)| keep(v));
        self.sorted.shrink_to_fit();
    }

    /// The values, by key.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.sorted.iter().map(|(_, v)| v)
    }

    /// Rows in the table.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether the table has no row.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test's value: the lines seen, in order.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Last(u64);

    impl Merge for Last {
        fn merge(&mut self, newer: Self) {
            self.0 = newer.0;
        }
    }

    #[test]
    fn the_last_line_wins_across_merges_like_a_map() {
        // Many more lines than one merge holds, keys repeated far apart and close together.
        let mut table = Table::default();
        let mut map = std::collections::HashMap::new();
        let mut state = 12345u64;
        for line in 0..400_000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = [state >> 60, (state >> 20) % 90_000];
            table.note(key, Last(line));
            map.insert(key, line);
        }
        table.finish();
        assert_eq!(table.len(), map.len());
        for (key, line) in &map {
            assert_eq!(table.get(*key), Some(&Last(*line)));
        }
        assert_eq!(table.get([99, 99]), None);
        assert!(table.sorted.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
