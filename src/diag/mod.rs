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

/// Byte range in `text` for a span: the known byte range, else the token starting at line/column.
fn byte_range(text: &str, span: Span) -> Option<std::ops::Range<usize>> {
    if span.line == 0 {
        return None;
    }
    let start = match span.offset {
        Some(o) if o <= text.len() && text.is_char_boundary(o) => o,
        _ => {
            let line_start = text.split_inclusive('\n').take(span.line as usize - 1).map(str::len).sum::<usize>();
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

/// Renders diagnostics for people, with a snippet of `text` under each one.
pub fn render_human(out: &mut dyn Write, color: bool, diags: &[Diagnostic], text: Option<&str>) -> io::Result<()> {
    if color {
        emit_all(&mut termcolor::Ansi::new(out), diags, text)
    } else {
        emit_all(&mut termcolor::NoColor::new(out), diags, text)
    }
}

fn emit_all<W: termcolor::WriteColor>(out: &mut W, diags: &[Diagnostic], text: Option<&str>) -> io::Result<()> {
    let mut files = SimpleFiles::new();
    let config = term::Config::default();
    for d in diags {
        let sev = match d.severity {
            Severity::Error => codespan_reporting::diagnostic::Severity::Error,
            Severity::Warning => codespan_reporting::diagnostic::Severity::Warning,
            Severity::Note => codespan_reporting::diagnostic::Severity::Note,
        };
        let mut cs = CsDiagnostic::new(sev).with_code(d.code.clone()).with_message(d.message.clone());
        let mut notes = Vec::new();
        match text.and_then(|t| byte_range(t, d.span).map(|r| (t, r))) {
            Some((t, range)) => {
                let id = files.add(d.file.clone(), t.to_string());
                cs = cs.with_labels(vec![Label::new(LabelStyle::Primary, id, range).with_message(d.label.clone().unwrap_or_default())]);
            }
            None => notes.push(format!("in {}", d.location())),
        }
        if !d.path.is_empty() {
            notes.push(format!("at `{}`", d.path));
        }
        if let Some(h) = &d.hint {
            notes.push(format!("help: {h}"));
        }
        cs = cs.with_notes(notes);
        term::emit_to_write_style(out, &config, &files, &cs).map_err(|e| io::Error::other(e.to_string()))?;
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
