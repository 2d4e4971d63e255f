//! Every API key in use cut out of text that came from a server, in every spelling a server
//! may use, by one automaton over all keys: the text is decoded first (see `decode`), and
//! every run of [`RUN`] consecutive characters of any key is cut from the original text, so
//! that no part of a key that long survives anywhere, whatever was cut around it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use secrecy::{ExposeSecret, SecretString};

use super::REDACTED;
use super::decode::{decode, may_be_encoded};

/// The longest run of a key's consecutive characters that may survive is `RUN - 1`.
pub const RUN: usize = 8;

/// Every API key in use. [`Redactor::redact`] finds each key (or any run of [`RUN`] of its
/// characters) as it is, JSON-escaped (also nested in a message's text), as HTML entities,
/// percent- and form-encoded, in any ASCII letter case. The automaton over every key is built
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
    /// The automaton, built at the first [`Redactor::redact`] after the last key was added
    /// (`None` when there is no key).
    matcher: OnceLock<Option<Arc<AhoCorasick>>>,
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

    fn matcher(&self) -> Option<&AhoCorasick> {
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
        let mut spans: Vec<(usize, usize)> = Vec::new();
        if may_be_encoded(text) {
            let decoded = decode(text);
            spans.extend(
                matcher
                    .find_overlapping_iter(decoded.text.as_str())
                    .map(|m| (decoded.origin[m.start()].0, decoded.origin[m.end() - 1].1)),
            );
        } else {
            spans.extend(
                matcher
                    .find_overlapping_iter(text)
                    .map(|m| (m.start(), m.end())),
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

/// The automaton over every run of [`RUN`] characters of every key (a shorter key whole), and
/// the same of the key with its spaces written `+` (form-encoding) and of the key decoded (a
/// key holding `%2B` written as it is is decoded in the text too), each once.
fn build(keys: &[SecretString]) -> Option<AhoCorasick> {
    let mut runs: std::collections::HashSet<String> = std::collections::HashSet::new();
    for key in keys {
        let key = key.expose_secret();
        let plus = key.contains(' ').then(|| key.replace(' ', "+"));
        let decoded = may_be_encoded(key).then(|| decode(key).text);
        for spelling in std::iter::once(key)
            .chain(plus.as_deref())
            .chain(decoded.as_deref())
        {
            let chars: Vec<(usize, char)> = spelling.char_indices().collect();
            if chars.len() <= RUN {
                runs.insert(spelling.to_string());
                continue;
            }
            for window in chars.windows(RUN + 1).map(|w| (w[0].0, w[RUN].0)) {
                runs.insert(spelling[window.0..window.1].to_string());
            }
            let last = chars[chars.len() - RUN].0;
            runs.insert(spelling[last..].to_string());
        }
    }
    if runs.is_empty() {
        return None;
    }
    let matcher = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(&runs);
    // The patterns are short and few per key: building does not exceed the automaton's
    // limits; if it ever did, every ASCII character would be cut rather than risk a key.
    matcher.ok().or_else(build_fallback)
}

/// An automaton that matches every ASCII character, used only if the real one could not be
/// built.
fn build_fallback() -> Option<AhoCorasick> {
    let all: Vec<String> = (0u8..=127).map(|b| char::from(b).to_string()).collect();
    AhoCorasick::new(all).ok()
}
