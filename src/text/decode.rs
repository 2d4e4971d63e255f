//! What a server may have encoded undone, keeping where each character came from: JSON `\u`
//! escapes (also escaped again, `\\u002B`) and `\/`, HTML numeric and named entities, percent-
//! and form-encoding, nested (`%252B`, `&amp;#43;`) up to a few layers. The redactor matches
//! keys in the decoded text and cuts the original spans they came from.

/// How many layers of encoding are undone.
const MAX_LAYERS: usize = 4;

/// Text decoded, with, for each byte of it, the span of the original text it came from.
pub(super) struct Decoded {
    /// The decoded text.
    pub text: String,
    /// `origin[i]`: the span of the original text that byte `i` of `text` came from.
    pub origin: Vec<(usize, usize)>,
}

/// Whether `text` holds anything [`decode`] would change.
pub(super) fn may_be_encoded(text: &str) -> bool {
    text.bytes().any(|b| matches!(b, b'\\' | b'&' | b'%'))
}

/// `text` with every layer of encoding undone (at most [`MAX_LAYERS`]).
pub(super) fn decode(text: &str) -> Decoded {
    let mut decoded = Decoded {
        text: text.to_string(),
        origin: text
            .char_indices()
            .flat_map(|(at, c)| std::iter::repeat_n((at, at + c.len_utf8()), c.len_utf8()))
            .collect(),
    };
    for _ in 0..MAX_LAYERS {
        match layer(&decoded) {
            Some(next) => decoded = next,
            None => break,
        }
    }
    decoded
}

/// One layer undone, or `None` when there was nothing to undo.
fn layer(input: &Decoded) -> Option<Decoded> {
    if !may_be_encoded(&input.text) {
        return None;
    }
    let text = input.text.as_str();
    let bytes = text.as_bytes();
    let mut out = Decoded {
        text: String::with_capacity(text.len()),
        origin: Vec::with_capacity(text.len()),
    };
    let mut changed = false;
    let mut at = 0;
    while at < text.len() {
        let (c, used) = match bytes[at] {
            b'\\' => json_escape(&text[at..]),
            b'&' => html_entity(&text[at..]),
            b'%' => percent(&text[at..]),
            _ => None,
        }
        .unwrap_or_else(|| {
            let c = text[at..].chars().next().expect("at is a char boundary");
            (c, c.len_utf8())
        });
        if used != c.len_utf8() || !text[at..].starts_with(c) {
            changed = true;
        }
        let span = (input.origin[at].0, input.origin[at + used - 1].1);
        out.text.push(c);
        out.origin.extend(std::iter::repeat_n(span, c.len_utf8()));
        at += used;
    }
    changed.then_some(out)
}

fn hex(text: &str) -> Option<u32> {
    u32::from_str_radix(text, 16).ok()
}

/// `\uXXXX` (after any number of backslashes: the text of a message that was itself
/// JSON-escaped), `\/`, `\"`, `\'`.
fn json_escape(text: &str) -> Option<(char, usize)> {
    let slashes = text.bytes().take_while(|&b| b == b'\\').count();
    let rest = &text[slashes..];
    let first = rest.chars().next()?;
    match first {
        'u' | 'U' => {
            let digits = rest.get(1..5)?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let c = char::from_u32(hex(digits)?).unwrap_or(char::REPLACEMENT_CHARACTER);
            Some((c, slashes + 5))
        }
        '/' | '"' | '\'' => Some((first, slashes + 1)),
        _ => None,
    }
}

/// Named entities that spell the characters a key is made of (and `&amp;`, for nesting).
const NAMED: &[(&str, char)] = &[
    ("amp", '&'),
    ("quot", '"'),
    ("apos", '\''),
    ("lt", '<'),
    ("gt", '>'),
    ("plus", '+'),
    ("sol", '/'),
    ("equals", '='),
    ("period", '.'),
    ("lowbar", '_'),
    ("hyphen", '-'),
    ("dash", '-'),
    ("minus", '-'),
    ("colon", ':'),
    ("num", '#'),
    ("percnt", '%'),
    ("commat", '@'),
    ("excl", '!'),
    ("quest", '?'),
    ("dollar", '$'),
    ("ast", '*'),
    ("comma", ','),
    ("semi", ';'),
    ("bsol", '\\'),
    ("nbsp", ' '),
];

/// `&#43;`, `&#x2B;` (the `;` optional), or a named entity of [`NAMED`] (any case).
fn html_entity(text: &str) -> Option<(char, usize)> {
    let rest = &text[1..];
    if let Some(number) = rest.strip_prefix('#') {
        let (radix, digits_at) = match number.as_bytes().first() {
            Some(b'x' | b'X') => (16, 1),
            _ => (10, 0),
        };
        let digits = &number[digits_at..];
        let len = digits
            .bytes()
            .take_while(|b| match radix {
                16 => b.is_ascii_hexdigit(),
                _ => b.is_ascii_digit(),
            })
            .take(8)
            .count();
        if len == 0 {
            return None;
        }
        let value = u32::from_str_radix(&digits[..len], radix).ok()?;
        let c = char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER);
        let semi = usize::from(digits[len..].starts_with(';'));
        return Some((c, 2 + digits_at + len + semi));
    }
    let name_len = rest
        .bytes()
        .take_while(u8::is_ascii_alphabetic)
        .take(8)
        .count();
    if !rest[name_len..].starts_with(';') {
        return None;
    }
    let name = &rest[..name_len];
    NAMED
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, c)| (c, name_len + 2))
}

/// `%XX` (any case), or the `%XX` bytes of one UTF-8 character.
fn percent(text: &str) -> Option<(char, usize)> {
    let byte = |i: usize| -> Option<u8> {
        let part = text.get(i * 3..i * 3 + 3)?;
        let digits = part.strip_prefix('%')?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u8::try_from(hex(digits)?).ok()
    };
    let lead = byte(0)?;
    let len = match lead {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let mut buf = [0u8; 4];
    for (i, slot) in buf.iter_mut().enumerate().take(len) {
        *slot = byte(i)?;
    }
    let c = std::str::from_utf8(&buf[..len]).ok()?.chars().next()?;
    Some((c, len * 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> String {
        decode(text).text
    }

    #[test]
    fn every_spelling_is_undone_with_its_origin() {
        assert_eq!(plain(r"a\u002Bb \\u002b \/ \u00e9"), "a+b + / é");
        assert_eq!(
            plain("&#43;&#x2B;&#X2b&plus;&SOL;&amp;#43;&amp;amp;plus;"),
            "++++/++"
        );
        assert_eq!(plain("%2B%2b%252B+%C3%A9%E2%82%AC"), "++++é€");
        assert_eq!(
            plain("100% sure & \\n %zz &nope; &#;"),
            "100% sure & \\n %zz &nope; &#;"
        );
        let d = decode("x%252By");
        assert_eq!(d.text, "x+y");
        assert_eq!(d.origin[1], (1, 6), "the + came from %252B");
        assert_eq!(d.origin[2], (6, 7));
    }
}
