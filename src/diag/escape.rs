//! Making untrusted text safe to print on a terminal or in a CI log.
//!
//! Policy values reach human output (diagnostic messages, snippets, reporter lines). An ESC
//! sequence can erase or recolour a line, a lone CR can overwrite it, and a bidi override can
//! make `/admin` display as something else. Human output shows such characters as visible escapes
//! (`\u{1b}`, `\r`, `\u{202e}`); JSON output is escaped by serde_json and needs none of this.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw. Newline and tab are kept: human messages use them.
pub fn is_unsafe(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        // C0 controls (ESC, BEL, backspace, CR...), DEL and C1 controls (incl. the 8-bit CSI).
        c if c.is_control() => true,
        // Bidi embeddings, overrides and isolates, and the implicit marks (Trojan Source).
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => true,
        // Line and paragraph separators: some terminals and log viewers break lines on them.
        '\u{2028}' | '\u{2029}' => true,
        _ => false,
    }
}

/// The visible form of an unsafe character.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\r' => out.push_str("\\r"),
        '\0' => out.push_str("\\0"),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// `s` with every unsafe character shown as an escape; borrowed when there is none (the usual case).
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unsafe(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// An escaped copy of a whole source text, with a map from offsets in the original to offsets in
/// the copy, so that diagnostic spans still underline the right characters.
pub struct EscapedSource<'a> {
    /// The text to show.
    pub text: Cow<'a, str>,
    /// `(original offset just after an escaped char, total bytes added up to there)`, ascending.
    shifts: Vec<(usize, usize)>,
}

impl<'a> EscapedSource<'a> {
    /// Escapes `text` (a CR directly before a newline is kept: it is a CRLF line end).
    pub fn new(text: &'a str) -> Self {
        let unsafe_at = |i: usize, c: char| is_unsafe(c) && !(c == '\r' && text.as_bytes().get(i + 1) == Some(&b'\n'));
        if !text.char_indices().any(|(i, c)| unsafe_at(i, c)) {
            return EscapedSource { text: Cow::Borrowed(text), shifts: Vec::new() };
        }
        let mut out = String::with_capacity(text.len() + 16);
        let mut shifts = Vec::new();
        let mut added = 0;
        for (i, c) in text.char_indices() {
            if unsafe_at(i, c) {
                let before = out.len();
                push_escaped(&mut out, c);
                added += out.len() - before - c.len_utf8();
                shifts.push((i + c.len_utf8(), added));
            } else {
                out.push(c);
            }
        }
        EscapedSource { text: Cow::Owned(out), shifts }
    }

    /// Where original offset `o` is in the escaped text (an offset inside an escaped character
    /// maps to the start of its escape).
    pub fn map(&self, o: usize) -> usize {
        let n = self.shifts.partition_point(|(end, _)| *end <= o);
        o + if n == 0 { 0 } else { self.shifts[n - 1].1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_become_visible() {
        assert_eq!(terminal("plain /api/ text\n\tok"), "plain /api/ text\n\tok");
        assert!(matches!(terminal("plain"), Cow::Borrowed(_)));
        assert_eq!(terminal("a\u{1b}[2K\rb"), "a\\u{1b}[2K\\rb");
        assert_eq!(terminal("/\u{202e}nimda"), "/\\u{202e}nimda");
        assert_eq!(terminal("x\u{9b}31m\u{7f}\u{0}"), "x\\u{9b}31m\\u{7f}\\0");
    }

    #[test]
    fn source_offsets_follow_the_escapes() {
        let text = "a: \u{1b}[31mred\r\nb: \u{202e}x\n";
        let e = EscapedSource::new(text);
        assert_eq!(e.text, "a: \\u{1b}[31mred\r\nb: \\u{202e}x\n");
        let red = text.find("red").unwrap();
        assert_eq!(&e.text[e.map(red)..e.map(red) + 3], "red");
        let x = text.find('x').unwrap();
        assert_eq!(&e.text[e.map(x)..e.map(x) + 1], "x");
        // The start of an escaped character maps to the start of its escape.
        assert_eq!(&e.text[e.map(3)..e.map(3) + 2], "\\u");
        assert_eq!(e.map(0), 0);
        assert_eq!(e.map(text.len()), e.text.len());
    }
}
