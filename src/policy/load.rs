//! Reading a policy file into [`Policy`], with positioned diagnostics on failure.

use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;

use super::model::Policy;
use super::span::Span;

/// The text of a loaded file, kept for snippets in later diagnostics.
#[derive(Clone, Debug)]
pub struct Source {
    /// The path as the user gave it (used in messages).
    pub name: String,
    /// The file's text.
    pub text: String,
}

/// A policy that parsed, with its source and the directory relative paths resolve against.
#[derive(Clone, Debug)]
pub struct LoadedPolicy {
    /// The parsed policy.
    pub policy: Policy,
    /// The file it came from.
    pub source: Source,
    /// Directory of the policy file; relative paths in the policy resolve against it.
    pub base_dir: PathBuf,
}

/// Why a policy could not be loaded: one or more diagnostics, all errors.
#[derive(Debug)]
pub struct LoadError {
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
    /// The text, when it could be read (for snippets).
    pub source: Option<Source>,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{}: error[{}]: {}", d.location(), d.code, d.message)?;
        }
        Ok(())
    }
}
impl std::error::Error for LoadError {}

/// Parser options: duplicate keys are errors, YAML 1.1 booleans (`yes`, `on`) are rejected,
/// and a budget bounds hostile input.
pub(crate) fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
    }
}

/// Loads and parses a policy file.
pub fn load(path: &Path) -> Result<LoadedPolicy, LoadError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| LoadError {
        diagnostics: vec![Diagnostic::error("file-unreadable", &name, Span::UNKNOWN, "", format!("cannot read the policy file: {e}"))
            .with_hint("check the path given with --policy")],
        source: None,
    })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse_bytes(&name, &bytes).map(|(policy, source)| LoadedPolicy { policy, source, base_dir })
}

/// Parses policy bytes; `name` is used in diagnostics.
pub fn parse_bytes(name: &str, bytes: &[u8]) -> Result<(Policy, Source), LoadError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_string(),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let good = std::str::from_utf8(good).unwrap_or("");
            let line = good.matches('\n').count() as u32 + 1;
            let col = good.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) as u32 + 1;
            let span = Span { line, col, offset: None, len: None };
            return Err(LoadError {
                diagnostics: vec![Diagnostic::error("file-not-utf8", name, span, "", format!("invalid UTF-8 at byte {}", e.valid_up_to()))
                    .with_hint("save the policy as UTF-8")],
                source: None,
            });
        }
    };
    let source = Source { name: name.to_string(), text };
    if source.text.trim().is_empty() || source.text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Err(LoadError {
            diagnostics: vec![Diagnostic::error("file-empty", name, Span { line: 1, col: 1, offset: Some(0), len: Some(0) }, "", "the policy file is empty")
                .with_hint("run `secctl init` to write a commented starting policy")],
            source: Some(source),
        });
    }
    match serde_saphyr::from_str_with_options::<Policy>(&source.text, options()) {
        Ok(p) => Ok((p, source)),
        Err(e) => {
            let span = e.location().map(|l| Span::from_location(&l)).unwrap_or(Span::UNKNOWN);
            let msg = e.without_snippet().to_string();
            let code = if msg.contains("duplicate") { "yaml-duplicate-key" } else { "yaml-syntax" };
            Err(LoadError { diagnostics: vec![Diagnostic::error(code, name, span, "", msg)], source: Some(source) })
        }
    }
}
