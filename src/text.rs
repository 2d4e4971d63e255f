//! Text from a server or from the input made safe to print and to record: every API key in
//! use cut out, control characters (and bidirectional overrides) escaped visibly, the length
//! capped. One call at every place that prints or records such text: [`safe_server_text`] for
//! what a server said, [`safe_input_text`] for what the input file holds.

use std::borrow::Cow;
use std::fmt::Write as _;

use secrecy::{ExposeSecret, SecretString};

/// The most characters of server or input text kept in files and output (escapes counted as
/// the characters they print); the rest is replaced by a marker saying how much was cut.
pub const MAX_CHARS: usize = 300;

/// What an API key is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Every API key in use, to cut out of any text that came from a server before it is
/// written anywhere. Besides the key as it is, it finds the key written in other ways a
/// server may quote it back: JSON-escaped (also with `\/`), percent-encoded and
/// form-encoded, in any ASCII letter case. Its `Debug` shows only how many keys it holds.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Each key's spellings, ASCII lower-case (a key's own spellings without duplicates).
    spellings: Vec<SecretString>,
    /// The keys added, ASCII lower-case.
    keys: Vec<SecretString>,
    /// The positions in `keys` by a keyed hash of the key, so that adding the key of every
    /// row of a large file stays linear (a hash only narrows the search: keys are compared).
    by_hash: std::collections::HashMap<u64, Vec<usize>>,
    /// The hasher's random keys.
    hasher: std::hash::RandomState,
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
    /// twice, or an empty key, changes nothing.
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
        // Only this key's own spellings are compared, so that adding the keys of a large file
        // stays linear (another key's spelling seldom equals one, and a duplicate only costs
        // a second search). Their order does not
        // matter: `redact` cuts the union of every match, so a key inside another is cut whole.
        let mut own: Vec<String> = Vec::new();
        for spelling in spellings(key) {
            let spelling = spelling.to_ascii_lowercase();
            if !own.contains(&spelling) {
                own.push(spelling);
            }
        }
        self.spellings
            .extend(own.into_iter().map(SecretString::from));
    }

    /// How many distinct keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// `text` with every spelling of every key replaced by [`REDACTED`], at full length.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.spellings.is_empty() || text.is_empty() {
            return Cow::Borrowed(text);
        }
        // ASCII lower-casing keeps every byte offset, so matches map back onto `text`.
        let lower = text.to_ascii_lowercase();
        let mut found: Vec<(usize, usize)> = Vec::new();
        for spelling in &self.spellings {
            let spelling = spelling.expose_secret();
            found.extend(
                lower
                    .match_indices(spelling)
                    .map(|(at, _)| (at, at + spelling.len())),
            );
        }
        if found.is_empty() {
            return Cow::Borrowed(text);
        }
        found.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut done = 0;
        for (start, end) in found {
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

/// The ways a server may write `key` back: as it is, JSON-escaped (and with `\/`),
/// percent-encoded, form-encoded.
fn spellings(key: &str) -> Vec<String> {
    let json = serde_json::to_string(key).unwrap_or_default();
    let json = json
        .strip_prefix('"')
        .and_then(|j| j.strip_suffix('"'))
        .unwrap_or(key)
        .to_string();
    let json_slashes = json.replace('/', "\\/");
    let form: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
    let mut percent = String::with_capacity(key.len() * 3);
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            percent.push(char::from(byte));
        } else {
            let _ = write!(percent, "%{byte:02X}");
        }
    }
    vec![key.to_string(), json, json_slashes, form, percent]
}

/// Whether `c` must not reach a terminal as it is: C0 and C1 controls, DEL, the line and
/// paragraph separators, the bidirectional marks, embeddings, overrides and isolates
/// that can make text display in another order than it is read, and the invisible
/// characters that make a cell look like another (zero-width spaces and joiners, the
/// byte-order mark, no-break spaces, the soft hyphen).
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00A0}'
                | '\u{00AD}'
                | '\u{180E}'
                | '\u{2007}'
                | '\u{200B}'..='\u{200D}'
                | '\u{202F}'
                | '\u{2060}'..='\u{2064}'
                | '\u{FEFF}'
        )
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Appends the visible form of `c`: `\n`, `\r`, `\t`, or `\u{1b}` for other unsafe
/// characters; `c` itself when it is safe.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_unsafe_char(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// `text` with every unsafe character (see [`is_unsafe_char`]) escaped visibly, at full
/// length. Borrowed when there was nothing to escape.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// `text` escaped and cut to `max_chars` printed characters (an escape is never split),
/// followed, when cut, by `… (N more characters)` where N counts the characters of `text`
/// left out.
fn escape_and_cap(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    let mut printed = 0usize;
    let mut piece = String::new();
    for (at, c) in text.char_indices() {
        piece.clear();
        push_escaped(&mut piece, c);
        let width = piece.chars().count();
        if printed + width > max_chars {
            let rest = text[at..].chars().count();
            let _ = write!(out, "… ({rest} more characters)");
            return out;
        }
        out.push_str(&piece);
        printed += width;
    }
    out
}

/// Text made safe to print and to record: the keys cut out (when a redactor is given), the
/// unsafe characters escaped, the length capped at `max_chars` printed characters
/// (`usize::MAX` for no cap). The keys are cut from the whole text before it is cut to
/// length, so that no part of a key survives at the cut.
pub fn clean(raw: &str, redactor: Option<&Redactor>, max_chars: usize) -> String {
    let redacted = match redactor {
        Some(redactor) => redactor.redact(raw),
        None => Cow::Borrowed(raw),
    };
    let safe = escape_and_cap(&redacted, max_chars);
    match redactor {
        // A key spelled with a backslash could only be formed by the escapes themselves.
        Some(redactor) if safe.contains('\\') => redactor.redact(&safe).into_owned(),
        _ => safe,
    }
}

/// What a server said (an error message, a body, an echoed field), safe to print and to
/// record: every key in `redactor` cut out, control characters escaped, at most
/// [`MAX_CHARS`] characters.
pub fn safe_server_text(raw: &str, redactor: &Redactor) -> String {
    clean(raw, Some(redactor), MAX_CHARS)
}

/// Text from the input file (a cell, a header name), safe to print: control characters
/// escaped, at most [`MAX_CHARS`] characters. Never pass a key column through it: keys are
/// not printed at all.
pub fn safe_input_text(raw: &str) -> String {
    clean(raw, None, MAX_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &str = "9d3c8a52-6f0e-4b1a-8c47-2e5d7f1a0b63";

    fn redactor(keys: &[&str]) -> Redactor {
        let keys: Vec<SecretString> = keys.iter().map(|k| SecretString::from(*k)).collect();
        Redactor::new(&keys)
    }

    #[test]
    fn a_key_quoted_back_is_cut_out_in_every_spelling() {
        let other = "s3cr3t/k+y=";
        let r = redactor(&[KEY, other, ""]);
        assert_eq!(r.len(), 2);
        let upper = KEY.to_ascii_uppercase();
        let raw = format!(
            r#"{{"api_key":"{KEY}","b":"{upper}","c":"s3cr3t\/k+y=","d":"s3cr3t%2Fk%2By%3D","e":"s3cr3t%2fk%2by%3d"}}"#
        );
        let safe = safe_server_text(&raw, &r);
        assert_eq!(
            safe,
            r#"{"api_key":"<redacted>","b":"<redacted>","c":"<redacted>","d":"<redacted>","e":"<redacted>"}"#
        );
        assert_eq!(r.redact("nothing here"), Cow::Borrowed("nothing here"));
        assert!(!format!("{r:?}").contains("9d3c"), "{r:?}");
    }

    #[test]
    fn overlapping_keys_are_cut_whole() {
        let r = redactor(&["abcdef", "defghi"]);
        assert_eq!(r.redact("xxabcdefghiyy"), "xx<redacted>yy");
        assert_eq!(r.redact("abcdefabcdef"), "<redacted><redacted>");
        let mut again = r.clone();
        again.add(&SecretString::from("ABCDEF"));
        assert_eq!(again.len(), 2, "a key added twice (any case) counts once");
    }

    #[test]
    fn the_keys_of_a_large_file_are_each_kept_once() {
        let mut r = Redactor::default();
        for row in 0..20_000u32 {
            // Every row's key, as the scan adds them: 2,000 customers, ten rows each.
            let key = format!("9d3c8a52-6f0e-4b1a-8c47-{:012x}", row % 2_000);
            r.add(&SecretString::from(key.to_ascii_uppercase()));
        }
        assert_eq!(r.len(), 2_000);
        let text = "quoted back: 9d3c8a52-6f0e-4b1a-8c47-0000000007cf, and 9d3c8a52-6f0e-4b1a-8c47-0000000007d0";
        assert_eq!(
            r.redact(text),
            "quoted back: <redacted>, and 9d3c8a52-6f0e-4b1a-8c47-0000000007d0"
        );
    }

    #[test]
    fn controls_and_bidi_are_escaped_visibly() {
        let hostile =
            "\u{1b}]0;pwned\u{7}\u{1b}[2JBad\r\nSummary: ok\t\u{7f}\u{85}\u{202e}x\u{2066}";
        assert_eq!(
            safe_input_text(hostile),
            r"\u{1b}]0;pwned\u{7}\u{1b}[2JBad\r\nSummary: ok\t\u{7f}\u{85}\u{202e}x\u{2066}"
        );
        assert_eq!(
            escape_controls("plain, ñ and 日本"),
            Cow::Borrowed("plain, ñ and 日本")
        );
        assert_eq!(
            escape_controls("C:\\dir\\file"),
            "C:\\dir\\file",
            "a backslash is not a control"
        );
    }

    #[test]
    fn long_text_is_cut_with_a_marker_and_never_inside_an_escape() {
        let huge = "E".repeat(200_000);
        let safe = safe_input_text(&huge);
        assert_eq!(
            safe,
            format!("{}… (199700 more characters)", "E".repeat(MAX_CHARS))
        );
        assert_eq!(
            safe_input_text(&"E".repeat(MAX_CHARS)),
            "E".repeat(MAX_CHARS)
        );
        // 298 letters, then an escape of 6 characters that does not fit: cut before it.
        let raw = format!("{}\u{1b}tail", "a".repeat(298));
        assert_eq!(
            safe_input_text(&raw),
            format!("{}… (5 more characters)", "a".repeat(298))
        );
        assert_eq!(clean(&huge, None, usize::MAX).len(), 200_000);
    }

    #[test]
    fn a_key_at_the_cut_is_cut_out_whole_first() {
        let r = redactor(&[KEY]);
        let raw = format!("{}{KEY}", "x".repeat(MAX_CHARS - 10));
        let safe = safe_server_text(&raw, &r);
        assert!(!safe.contains(&KEY[..10]), "{safe}");
        assert!(safe.contains("<redac"), "{safe}");
    }

    /// Keys as they come: UUIDs, base64 and hex tokens.
    fn key() -> impl Strategy<Value = String> {
        "[A-Za-z0-9+/=_.~-]{8,40}"
    }

    proptest! {
        #[test]
        fn output_never_holds_a_control_character_or_a_key(
            keys in prop::collection::vec(key(), 1..4),
            pieces in prop::collection::vec(
                prop_oneof![
                    any::<String>(),
                    "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{202a}-\\u{202e}]{1,5}",
                    (0usize..4).prop_map(|i| format!("#KEY{i}#")),
                ],
                0..12,
            ),
            max in 0usize..400,
        ) {
            let raw: String = pieces
                .iter()
                .map(|piece| match piece.strip_prefix("#KEY").and_then(|p| p.strip_suffix('#')) {
                    Some(i) => keys[i.parse::<usize>().unwrap() % keys.len()].clone(),
                    None => piece.clone(),
                })
                .collect();
            let secrets: Vec<SecretString> = keys.iter().map(|k| SecretString::from(k.as_str())).collect();
            let r = Redactor::new(&secrets);
            for safe in [clean(&raw, Some(&r), max), safe_server_text(&raw, &r)] {
                prop_assert!(!safe.chars().any(is_unsafe_char), "{safe:?}");
                let lower = safe.to_ascii_lowercase();
                for key in &keys {
                    prop_assert!(!lower.contains(&key.to_ascii_lowercase()), "{key} in {safe:?}");
                }
            }
        }
    }
}
