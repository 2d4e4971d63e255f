//! Text from a server or from the input made safe to print and to record: every API key in
//! use cut out, control characters (and bidirectional overrides) escaped visibly, the length
//! capped. One call at every place that prints or records such text: [`safe_server_text`] for
//! what a server said, [`safe_input_text`] for what the input file holds. And durations as a
//! person writes them ([`human_duration`]), the one form every message uses.

use std::borrow::Cow;
use std::fmt::Write as _;

mod decode;
mod duration;
mod redact;

pub use duration::human_duration;
pub use redact::{RUN, Redactor};

/// The most characters of server or input text kept in files and output (escapes counted as
/// the characters they print); the rest is replaced by a marker saying how much was cut.
pub const MAX_CHARS: usize = 300;

/// What an API key is replaced with.
pub const REDACTED: &str = "<redacted>";

/// A path as printed: its unsafe characters escaped like any other text (a file name may
/// hold an escape sequence).
pub fn shown_path(path: &std::path::Path) -> String {
    escape_controls(&path.display().to_string()).into_owned()
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
    // Most texts (every field of every answer) are short with nothing to escape: as they are.
    if text.len() <= max_chars && !text.chars().any(is_unsafe_char) {
        return text.to_string();
    }
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
    use secrecy::SecretString;

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
    fn a_key_a_server_encoded_is_cut_out_in_every_encoding_and_case() {
        let key = "Ab+9/x=Qz-7Kp~1";
        let r = redactor(&[key]);
        let spellings = [
            // .NET's JSON: `+` as \u002B, also inside a message that was itself escaped.
            r"Ab\u002B9\/x\u003DQz-7Kp~1".to_string(),
            r"Ab\\u002b9\\/x\\u003dQz-7Kp~1".to_string(),
            // HTML numeric and named entities, nested in &amp;.
            "Ab&#43;9&#x2F;x&#61Qz&#45;7Kp~1".to_string(),
            "AB&plus;9&sol;X&equals;QZ-7KP~1".to_string(),
            "Ab&amp;#43;9/x=Qz-7Kp~1".to_string(),
            // Percent- and form-encoding, any case, nested.
            "ab%2b9%2Fx%3dqz-7kp%7E1".to_string(),
            "Ab%252B9%252Fx%253DQz-7Kp~1".to_string(),
        ];
        for spelling in spellings {
            let raw = format!("{{\"message\":\"bad request: api_key={spelling}; retry\"}}");
            let safe = safe_server_text(&raw, &r);
            assert_eq!(
                safe, "{\"message\":\"bad request: api_key=<redacted>; retry\"}",
                "{spelling}"
            );
        }
        // Text that only looks encoded is left as it was.
        let plain = r"100% sure &amp; \n %zz &nope; a+b";
        assert_eq!(r.redact(plain), Cow::Borrowed(plain));
    }

    #[test]
    fn no_run_of_eight_characters_of_a_key_survives() {
        let r = redactor(&[KEY]);
        // A key cut by a server's own limit: what is left of it, at either end.
        let head = format!("{}{}", " ".repeat(256 * 1024), &KEY[..12]);
        let safe = clean(&head, Some(&r), usize::MAX);
        assert!(safe.ends_with(REDACTED), "{}", &safe[safe.len() - 40..]);
        let tail = format!("{} then", &KEY[KEY.len() - 9..]);
        assert_eq!(r.redact(&tail), format!("{REDACTED} then"));
        // Seven characters are not a run: left as they are.
        let short = format!("id {}", &KEY[..7]);
        assert_eq!(r.redact(&short), short);
    }

    #[test]
    fn a_key_with_accents_is_cut_on_character_boundaries() {
        let key = "clé-ñandú-€-secreta";
        let r = redactor(&[key]);
        // Only a part of the key, starting inside nothing but ending mid-way.
        let part = &key[..key.char_indices().nth(9).unwrap().0];
        for raw in [
            format!("ü{key}ü"),
            format!("año {part}ñ"),
            format!("x%C3%A9{key}"),
        ] {
            let safe = safe_server_text(&raw, &r);
            assert!(safe.contains(REDACTED), "{raw} -> {safe}");
            assert!(!safe.contains("ñandú"), "{safe}");
        }
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
        let text = "quoted back: 9d3c8a52-6f0e-4b1a-8c47-0000000007cf, and 7c0e1f2a-99aa-4bbb-8ccc-dddddddddddd";
        assert_eq!(
            r.redact(text),
            "quoted back: <redacted>, and 7c0e1f2a-99aa-4bbb-8ccc-dddddddddddd"
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

    /// `text` as a server may write it: as it is, JSON `\u`-escaped, HTML entities, percent.
    fn encode(text: &str, how: usize) -> String {
        text.chars()
            .map(|c| match how {
                1 => format!("\\u{:04X}", u32::from(c)),
                2 => format!("&#{};", u32::from(c)),
                3 => format!("%{:02x}", u32::from(c)),
                _ => c.to_string(),
            })
            .collect()
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
                    (0usize..4, 0usize..40, 0u8..4).prop_map(|(i, at, how)| format!("#PART{i}.{at}.{how}#")),
                ],
                0..12,
            ),
            max in 0usize..400,
        ) {
            let raw: String = pieces
                .iter()
                .map(|piece| {
                    if let Some(i) = piece.strip_prefix("#KEY").and_then(|p| p.strip_suffix('#')) {
                        return keys[i.parse::<usize>().unwrap() % keys.len()].clone();
                    }
                    match piece.strip_prefix("#PART").and_then(|p| p.strip_suffix('#')) {
                        // A run of a key's characters from `at` on, encoded one of four ways.
                        Some(spec) => {
                            let n: Vec<usize> = spec.split('.').map(|n| n.parse().unwrap()).collect();
                            let key = &keys[n[0] % keys.len()];
                            let part = &key[n[1] % key.len()..];
                            encode(part, n[2])
                        }
                        None => piece.clone(),
                    }
                })
                .collect();
            let secrets: Vec<SecretString> = keys.iter().map(|k| SecretString::from(k.as_str())).collect();
            let r = Redactor::new(&secrets);
            for safe in [clean(&raw, Some(&r), max), safe_server_text(&raw, &r)] {
                prop_assert!(!safe.chars().any(is_unsafe_char), "{safe:?}");
                let lower = safe.to_ascii_lowercase();
                for key in &keys {
                    let key = key.to_ascii_lowercase();
                    for at in 0..=key.len().saturating_sub(RUN) {
                        let run = &key[at..(at + RUN).min(key.len())];
                        prop_assert!(!lower.contains(run), "{run} of {key} in {safe:?}");
                    }
                }
            }
        }
    }
}
