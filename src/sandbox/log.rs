//! The sandbox's record of what it received, for `/_sandbox/requests`: capped by count and
//! by bytes, oldest dropped first, so that large bodies cannot exhaust memory.

use std::collections::VecDeque;

use super::Received;

/// What an entry costs besides its body, in bytes (sequence, times, status, JSON framing).
const ENTRY_OVERHEAD: usize = 96;

/// Received requests, oldest first, within both caps.
#[derive(Debug)]
pub(super) struct RequestLog {
    entries: VecDeque<(Received, usize)>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl RequestLog {
    /// An empty log that keeps at most `max_entries` entries and `max_bytes` bytes.
    pub(super) fn new(max_entries: usize, max_bytes: usize) -> RequestLog {
        RequestLog {
            entries: VecDeque::new(),
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    /// Adds an entry whose body was `body_bytes` long, dropping the oldest to stay within
    /// the caps. An entry larger than the byte cap alone is not kept.
    pub(super) fn push(&mut self, entry: Received, body_bytes: usize) {
        let size = body_bytes.saturating_add(ENTRY_OVERHEAD);
        if self.max_entries == 0 || size > self.max_bytes {
            return;
        }
        while self.entries.len() >= self.max_entries || self.bytes + size > self.max_bytes {
            match self.entries.pop_front() {
                Some((_, dropped)) => self.bytes -= dropped,
                None => break,
            }
        }
        self.bytes += size;
        self.entries.push_back((entry, size));
    }

    /// The entries, oldest first.
    pub(super) fn entries(&self) -> Vec<Received> {
        self.entries.iter().map(|(e, _)| e.clone()).collect()
    }

    /// The bytes the entries are counted as.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Forgets every entry.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> Received {
        Received {
            seq,
            at_ms: 0.0,
            body: None,
            key_matched: None,
            status: 200,
        }
    }

    #[test]
    fn the_byte_cap_drops_the_oldest() {
        let mut log = RequestLog::new(100, 10 * (1000 + ENTRY_OVERHEAD));
        for seq in 1..=25 {
            log.push(entry(seq), 1000);
        }
        let seqs: Vec<u64> = log.entries().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (16..=25).collect::<Vec<_>>());
        assert!(log.bytes() <= 10 * (1000 + ENTRY_OVERHEAD));
    }

    #[test]
    fn the_count_cap_drops_the_oldest_and_oversized_entries_are_not_kept() {
        let mut log = RequestLog::new(3, 1 << 20);
        for seq in 1..=5 {
            log.push(entry(seq), 10);
        }
        log.push(entry(6), 2 << 20);
        let seqs: Vec<u64> = log.entries().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![3, 4, 5]);
        log.clear();
        assert!(log.entries().is_empty());
        assert_eq!(log.bytes(), 0);
        let mut none = RequestLog::new(0, 1 << 20);
        none.push(entry(1), 1);
        assert!(none.entries().is_empty());
    }
}
