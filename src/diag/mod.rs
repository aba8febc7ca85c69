//! Diagnostics: every finding secctl reports about a policy or a stack.
//!
//! A diagnostic is plain data (code, severity, position, YAML path, message,
//! hint). The same value is rendered for people (with a source snippet) and
//! as JSON, so the two can never disagree.

use std::io::{self, Write};

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label, LabelStyle};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};
use serde::{Deserialize, Serialize};

use crate::policy::span::Span;

pub mod codes;
pub mod escape;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Note,
    /// Worth fixing; does not fail `check`.
    Warning,
    /// Must be fixed; `check` exits 1 (or 2 when the file could not be loaded).
    Error,
}

/// One finding, pointing at a place in a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Stable kebab-case code, documented in `docs/diagnostics.md`.
    pub code: String,
    /// Severity.
    pub severity: Severity,
    /// One-line statement of what is wrong.
    pub message: String,
    /// The file, as given on the command line.
    pub file: String,
    /// 1-based line (0 when the finding is about the whole file).
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// YAML path of the blamed value, e.g. `routes[2].rate_limit.per_ip`; empty for the document.
    pub path: String,
    /// What to do next.
    pub hint: Option<String>,
    /// Short text under the caret in the snippet.
    #[serde(skip)]
    pub label: Option<String>,
    /// Byte range of the blamed value, when known (for the snippet underline).
    #[serde(skip)]
    pub span: Span,
}

impl Diagnostic {
    /// A new diagnostic; `code` must be registered in [`codes::CODES`].
    pub fn new(code: &str, severity: Severity, file: &str, span: Span, path: impl Into<String>, message: impl Into<String>) -> Self {
        debug_assert!(codes::lookup(code).is_some(), "unregistered diagnostic code {code}");
        Diagnostic {
            code: code.to_string(),
            severity,
            message: message.into(),
            file: file.to_string(),
            line: span.line,
            column: span.col,
            path: path.into(),
            hint: None,
            label: None,
            span,
        }
    }

    /// An error.
    pub fn error(code: &str, file: &str, span: Span, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, file, span, path, message)
    }

    /// A warning.
    pub fn warning(code: &str, file: &str, span: Span, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, file, span, path, message)
    }

    /// Adds what to do next.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a label under the snippet caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// `file:line:col`.
    pub fn location(&self) -> String {
        if self.line == 0 { self.file.clone() } else { format!("{}:{}:{}", self.file, self.line, self.column) }
    }
}

/// Offsets where each line of `text` starts (built once per render, not per diagnostic).
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect()
}

/// Byte range in `text` for a span: the known byte range, else the token starting at line/column.
fn byte_range(text: &str, starts: &[usize], span: Span) -> Option<std::ops::Range<usize>> {
    if span.line == 0 {
        return None;
    }
    let start = match span.offset {
        Some(o) if o <= text.len() && text.is_char_boundary(o) => o,
        _ => {
            let line_start = *starts.get(span.line as usize - 1).unwrap_or(&text.len());
            let line = text.get(line_start..)?.lines().next().unwrap_or("");
            let col_bytes: usize = line.chars().take(span.col.saturating_sub(1) as usize).map(char::len_utf8).sum();
            line_start + col_bytes
        }
    };
    let rest = text.get(start..)?;
    let len = match span.len {
        Some(l) if l > 0 && start + l <= text.len() => l,
        _ => rest.find(['\n', ',', ']', '}', '#']).map(|e| rest[..e].trim_end().len()).unwrap_or(rest.len()).max(1),
    };
    let mut end = (start + len).min(text.len()).max(start);
    // Never cut a character in half: codespan slices the text with this range.
    while !text.is_char_boundary(end) {
        end += 1;
    }
    Some(start..end)
}

/// How many diagnostics human output prints before summarizing the rest (JSON has them all).
pub const HUMAN_LIMIT: usize = 200;

/// Renders diagnostics for people, with a snippet of `text` under each one: the first
/// [`HUMAN_LIMIT`], then a line counting the rest.
pub fn render_human(out: &mut dyn Write, color: bool, diags: &[Diagnostic], text: Option<&str>) -> io::Result<()> {
    render_human_limited(out, color, diags, text, HUMAN_LIMIT)
}

/// [`render_human`] with an explicit cap. Time and memory are linear in the number of diagnostics
/// printed plus the size of `text` (the text is escaped and indexed once, not per diagnostic).
/// Control and bidi characters in messages and snippets are shown escaped (see [`escape`]).
pub fn render_human_limited(out: &mut dyn Write, color: bool, diags: &[Diagnostic], text: Option<&str>, limit: usize) -> io::Result<()> {
    if color {
        emit_all(&mut termcolor::Ansi::new(out), diags, text, limit)
    } else {
        emit_all(&mut termcolor::NoColor::new(out), diags, text, limit)
    }
}

fn emit_all<W: termcolor::WriteColor>(out: &mut W, diags: &[Diagnostic], text: Option<&str>, limit: usize) -> io::Result<()> {
    let shown = &diags[..diags.len().min(limit)];
    let source = text.map(escape::EscapedSource::new);
    let starts = text.map(line_starts).unwrap_or_default();
    // One file per distinct name, each sharing the one escaped text: codespan indexes line starts
    // once per file, so adding the text per diagnostic made human output quadratic.
    let mut files: SimpleFiles<String, &str> = SimpleFiles::new();
    let mut ids: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let config = term::Config::default();
    let esc = |s: &str| escape::terminal(s).into_owned();
    for d in shown {
        let sev = match d.severity {
            Severity::Error => codespan_reporting::diagnostic::Severity::Error,
            Severity::Warning => codespan_reporting::diagnostic::Severity::Warning,
            Severity::Note => codespan_reporting::diagnostic::Severity::Note,
        };
        let mut cs = CsDiagnostic::new(sev).with_code(esc(&d.code)).with_message(esc(&d.message));
        let mut notes = Vec::new();
        let located = text.zip(source.as_ref()).and_then(|(t, src)| byte_range(t, &starts, d.span).map(|r| (src, r)));
        match located {
            Some((src, range)) => {
                let id = *ids.entry(d.file.as_str()).or_insert_with(|| files.add(esc(&d.file), &src.text));
                let range = src.map(range.start)..src.map(range.end);
                cs = cs.with_labels(vec![Label::new(LabelStyle::Primary, id, range).with_message(esc(d.label.as_deref().unwrap_or_default()))]);
            }
            None => notes.push(format!("in {}", esc(&d.location()))),
        }
        if !d.path.is_empty() {
            notes.push(format!("at `{}`", esc(&d.path)));
        }
        if let Some(h) = &d.hint {
            notes.push(format!("help: {}", esc(h)));
        }
        cs = cs.with_notes(notes);
        term::emit_to_write_style(out, &config, &files, &cs).map_err(|e| io::Error::other(e.to_string()))?;
    }
    let rest = &diags[shown.len()..];
    if !rest.is_empty() {
        let count = |sev| diags.iter().filter(|d| d.severity == sev).count();
        writeln!(
            out,
            "... and {} more diagnostic(s) not shown ({} error(s), {} warning(s) in all): use --format json for all of them",
            rest.len(),
            count(Severity::Error),
            count(Severity::Warning)
        )?;
    }
    Ok(())
}

/// Renders diagnostics as one JSON document: `{"diagnostics": [...], "errors": n, "warnings": n}`.
pub fn render_json(out: &mut dyn Write, diags: &[Diagnostic]) -> io::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a> {
        diagnostics: &'a [Diagnostic],
        errors: usize,
        warnings: usize,
    }
    let doc = Doc {
        diagnostics: diags,
        errors: diags.iter().filter(|d| d.severity == Severity::Error).count(),
        warnings: diags.iter().filter(|d| d.severity == Severity::Warning).count(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn many(n: usize) -> (String, Vec<Diagnostic>) {
        let mut text = String::new();
        let mut diags = Vec::new();
        for i in 0..n {
            let span = Span { line: i as u32 + 1, col: 1, offset: Some(text.len()), len: Some(3) };
            text.push_str(&format!("k{i:02}: v\n"));
            let sev = if i % 2 == 0 { Severity::Error } else { Severity::Warning };
            diags.push(Diagnostic::new("unknown-key", sev, "p.yaml", span, format!("k{i}"), format!("finding {i}")));
        }
        (text, diags)
    }

    #[test]
    fn human_output_is_capped_and_counts_the_rest_exactly() {
        let (text, diags) = many(25);
        let mut out = Vec::new();
        render_human_limited(&mut out, false, &diags, Some(&text), 10).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out.matches("finding ").count(), 10, "{out}");
        assert!(out.contains("finding 9\n") && !out.contains("finding 10\n"), "{out}");
        assert!(out.contains("... and 15 more diagnostic(s) not shown (13 error(s), 12 warning(s) in all): use --format json"), "{out}");
        // Under the cap: everything, and no summary line.
        let mut out = Vec::new();
        render_human(&mut out, false, &diags, Some(&text)).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out.matches("finding ").count(), 25);
        assert!(!out.contains("more diagnostic"));
    }

    #[test]
    fn control_characters_never_reach_human_output_raw() {
        let text = "flows:\n  - { from: gw, to: \"a\u{1b}[2K\u{202e}b\" }\n";
        let start = text.find('"').unwrap();
        let span = Span { line: 2, col: 21, offset: Some(start), len: Some(text[start..].find(" }").unwrap()) };
        let d = Diagnostic::error("unknown-service", "p\u{1b}].yaml", span, "flows[0].to", "flow target `a\u{1b}[2K\u{202e}b` is unknown")
            .with_hint("not \r`x`")
            .with_label("bad\u{7}");
        for color in [false, true] {
            let mut out = Vec::new();
            render_human(&mut out, color, std::slice::from_ref(&d), Some(text)).unwrap();
            let out = String::from_utf8(out).unwrap();
            let raw: Vec<char> = out.chars().filter(|c| escape::is_unsafe(*c) && (!color || *c != '\u{1b}')).collect();
            assert!(raw.is_empty(), "raw control characters {raw:?} in:\n{out}");
            assert!(out.contains("a\\u{1b}[2K\\u{202e}b"), "{out}");
            assert!(out.contains("not \\r`x`") && out.contains("bad\\u{7}"), "{out}");
            if !color {
                assert!(!out.contains('\u{1b}'), "{out}");
            }
        }
        // JSON keeps the exact value (JSON-escaped).
        let mut out = Vec::new();
        render_json(&mut out, &[d]).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("a\\u001b[2K\u{202e}b"), "{out}");
    }
}
