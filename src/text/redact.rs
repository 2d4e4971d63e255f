//! Every API key in use cut out of text that came from a server, in every spelling a server
//! may use: the text is decoded first (see `decode`), and every run of [`RUN`] consecutive
//! bytes of any key is cut from the original text, so that no part of a key that long
//! survives anywhere, whatever was cut around it. One matcher over all keys, built once: a
//! set of every key's 8-byte runs (one lookup per byte of text, whatever the number of
//! keys), and an `aho-corasick` automaton for the rare keys shorter than that.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use secrecy::{ExposeSecret, SecretString};

use super::REDACTED;
use super::decode::{decode, may_be_encoded};

/// The longest run of a key's consecutive characters (bytes) that may survive is `RUN - 1`.
pub const RUN: usize = 8;

/// Every key in use, ready to search for.
#[derive(Default)]
struct Matcher {
    /// Every run of [`RUN`] bytes of every key's spellings, lower case, as a number.
    runs: HashSet<u64>,
    /// The spellings shorter than [`RUN`] bytes, whole.
    short: Option<AhoCorasick>,
}

impl Matcher {
    /// The spans of `hay` (lower case) that hold a key's run or a short key, in any order.
    fn find(&self, hay: &[u8], spans: &mut Vec<(usize, usize)>) {
        if !self.runs.is_empty() {
            for (at, window) in hay.windows(RUN).enumerate() {
                let run = u64::from_le_bytes(window.try_into().expect("windows of RUN bytes"));
                if self.runs.contains(&run) {
                    spans.push((at, at + RUN));
                }
            }
        }
        if let Some(short) = &self.short {
            spans.extend(
                short
                    .find_overlapping_iter(hay)
                    .map(|m| (m.start(), m.end())),
            );
        }
    }
}

/// Every API key in use. [`Redactor::redact`] finds each key (or any run of [`RUN`] of its
/// characters) as it is, JSON-escaped (also nested in a message's text), as HTML entities,
/// percent- and form-encoded, in any ASCII letter case. The matcher over every key is built
/// once, at the first use after the last key was added, so the time to redact a text does
/// not grow with the number of keys. Its `Debug` shows only how many keys it holds.
#[derive(Clone, Default)]
pub struct Redactor {
    /// The keys added, ASCII lower-case, each once.
    keys: Vec<SecretString>,
    /// The positions in `keys` by a keyed hash of the key (a hash only narrows the search).
    by_hash: HashMap<u64, Vec<usize>>,
    /// The hasher's random keys.
    hasher: std::hash::RandomState,
    /// The matcher, built at the first [`Redactor::redact`] after the last key was added
    /// (`None` when there is no key).
    matcher: OnceLock<Option<Arc<Matcher>>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor for these keys (empty keys are ignored).
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a SecretString>) -> Redactor {
        let mut redactor = Redactor::default();
        for key in keys {
            redactor.add(key);
        }
        redactor
    }

    /// Adds a key (for instance one read from the input's `api_key` column). Adding a key
    /// twice (in any case), or an empty key, changes nothing.
    pub fn add(&mut self, key: &SecretString) {
        let key = key.expose_secret();
        if key.is_empty() {
            return;
        }
        let lower = SecretString::from(key.to_ascii_lowercase());
        let hash = std::hash::BuildHasher::hash_one(&self.hasher, lower.expose_secret());
        let same = self.by_hash.entry(hash).or_default();
        if same
            .iter()
            .any(|&i| self.keys[i].expose_secret() == lower.expose_secret())
        {
            return;
        }
        same.push(self.keys.len());
        self.keys.push(lower);
        self.matcher = OnceLock::new();
    }

    /// How many distinct keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn matcher(&self) -> Option<&Matcher> {
        self.matcher
            .get_or_init(|| build(&self.keys).map(Arc::new))
            .as_deref()
    }

    /// `text` with every spelling of every key, and every run of [`RUN`] characters of one,
    /// replaced by [`REDACTED`], at full length.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if text.is_empty() {
            return Cow::Borrowed(text);
        }
        let Some(matcher) = self.matcher() else {
            return Cow::Borrowed(text);
        };
        // The keys are held in lower case and so is the text searched (ASCII lower-casing keeps
        // every byte offset).
        let mut spans: Vec<(usize, usize)> = Vec::new();
        // The text as it is, always: a run may also be spelled across an escape and plain
        // characters after it (`\u0073` then `=+-A+as` shows `3=+-A+as` to a reader).
        let lower = text.to_ascii_lowercase();
        matcher.find(lower.as_bytes(), &mut spans);
        // A run of bytes may begin or end inside a character: cut the whole character.
        for (start, end) in &mut spans {
            while !text.is_char_boundary(*start) {
                *start -= 1;
            }
            while !text.is_char_boundary(*end) {
                *end += 1;
            }
        }
        if may_be_encoded(text) {
            let mut decoded = decode(text);
            decoded.text.make_ascii_lowercase();
            let mut found = Vec::new();
            matcher.find(decoded.text.as_bytes(), &mut found);
            spans.extend(
                found
                    .into_iter()
                    .map(|(start, end)| (decoded.origin[start].0, decoded.origin[end - 1].1)),
            );
        }
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut done = 0;
        for (start, end) in spans {
            if end <= done {
                continue;
            }
            if start >= done {
                out.push_str(&text[done..start]);
                out.push_str(REDACTED);
            }
            // An overlapping match extends the cut already made.
            done = end;
        }
        out.push_str(&text[done..]);
        Cow::Owned(out)
    }
}

/// The matcher over every run of [`RUN`] bytes of every key (a shorter key whole), of the key
/// with its spaces written `+` (form-encoding) and of the key decoded (a key holding `%2B`
/// written as it is is decoded in the text too).
fn build(keys: &[SecretString]) -> Option<Matcher> {
    let mut matcher = Matcher::default();
    let mut short: Vec<String> = Vec::new();
    for key in keys {
        let key = key.expose_secret();
        let plus = key.contains(' ').then(|| key.replace(' ', "+"));
        let decoded = may_be_encoded(key).then(|| decode(key).text.to_ascii_lowercase());
        for spelling in std::iter::once(key)
            .chain(plus.as_deref())
            .chain(decoded.as_deref())
        {
            if spelling.len() < RUN {
                short.push(spelling.to_string());
                continue;
            }
            matcher.runs.extend(
                spelling
                    .as_bytes()
                    .windows(RUN)
                    .map(|w| u64::from_le_bytes(w.try_into().expect("windows of RUN bytes"))),
            );
        }
    }
    if matcher.runs.is_empty() && short.is_empty() {
        return None;
    }
    if !short.is_empty() {
        // A handful of short patterns: building cannot exceed the automaton's limits; if it
        // ever did, every ASCII character would be cut rather than risk a key.
        let all: Vec<String> = (0u8..=127).map(|b| char::from(b).to_string()).collect();
        matcher.short = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&short)
            .or_else(|_| AhoCorasick::new(all))
            .ok();
    }
    Some(matcher)
}
