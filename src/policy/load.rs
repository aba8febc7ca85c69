//! Reading a policy file into [`Policy`], with positioned diagnostics on failure.

use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;

use super::model::Policy;
use super::node::{self, Node, Value};
use super::{schema, validate};
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
/// a budget bounds hostile input, and tags the policy format does not have (`!vault`,
/// `!!python/object/new:...`, any custom `!tag`) are refused instead of silently dropped: a value
/// someone tagged means something to some other tool, never to secctl. The standard YAML tags
/// (`!!str`, `!!int`, ...) keep their meaning.
pub(crate) fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
        reject_unsupported_tags: true,
        reject_tagged_field_names: true,
    }
}

/// YAML line breaks are LF, CRLF and a lone CR (classic Mac). Lines are counted on LF only
/// elsewhere (snippets, positions, the empty-file check), so a lone CR becomes LF here: same
/// length, so every byte offset stays valid, and the file reads as YAML reads it.
fn normalize_line_breaks(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    let b = text.as_bytes();
    let mut out = text.clone().into_bytes();
    for i in 0..b.len() {
        if b[i] == b'\r' && b.get(i + 1) != Some(&b'\n') {
            out[i] = b'\n';
        }
    }
    // Only ASCII CR bytes were replaced by ASCII LF bytes: still UTF-8.
    String::from_utf8(out).unwrap_or(text)
}

/// Loads and parses a policy file.
pub fn load(path: &Path) -> Result<LoadedPolicy, LoadError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| LoadError {
        diagnostics: vec![Diagnostic::error("file-unreadable", &name, Span::UNKNOWN, "", format!("cannot read the policy file: {e}"))
            .with_hint("check the path given with --policy (default `secctl.yaml`), or run `secctl init` to write one")],
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
            let at = e.valid_up_to();
            let good = std::str::from_utf8(&bytes[..at]).unwrap_or("");
            let line = good.matches('\n').count() as u32 + 1;
            let col = good.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) as u32 + 1;
            let span = Span { line, col, offset: Some(at), len: Some(1) };
            // Keep a lossy copy for the snippet: the user sees which character is wrong.
            let lossy = String::from_utf8_lossy(bytes).into_owned();
            let shown = Span { offset: lossy.char_indices().nth(good.chars().count()).map(|(i, _)| i), len: None, ..span };
            return Err(LoadError {
                diagnostics: vec![Diagnostic::error("file-not-utf8", name, shown, "", format!("the file is not valid UTF-8 (byte {at} starts an invalid sequence)"))
                    .with_label("not UTF-8")
                    .with_hint("save the policy as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)")],
                source: Some(Source { name: name.to_string(), text: lossy }),
            });
        }
    };
    let source = Source { name: name.to_string(), text: normalize_line_breaks(text) };
    if source.text.trim().is_empty() || source.text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Err(LoadError {
            diagnostics: vec![Diagnostic::error("file-empty", name, Span { line: 1, col: 1, offset: Some(0), len: Some(0) }, "", "the policy file is empty")
                .with_hint("run `secctl init` to write a commented starting policy")],
            source: Some(source),
        });
    }
    let tree = match node::parse(&source.text) {
        Ok(t) => t,
        Err(e) => return Err(LoadError { diagnostics: vec![saphyr_error(name, &e, &source.text)], source: Some(source) }),
    };
    if let Some(d) = version_problem(name, &tree) {
        return Err(LoadError { diagnostics: vec![d], source: Some(source) });
    }
    let problems = validate::validate(name, &tree, schema::cached_schema());
    if !problems.is_empty() {
        return Err(LoadError { diagnostics: problems, source: Some(source) });
    }
    // The tree matches the schema, so serde should accept it; if it still does not
    // (a rule the schema cannot express), report serde's one error.
    match serde_saphyr::from_str_with_options::<Policy>(&source.text, options()) {
        Ok(p) => Ok((p, source)),
        Err(e) => Err(LoadError { diagnostics: vec![saphyr_error(name, &e, &source.text)], source: Some(source) }),
    }
}

/// `version` must be 1; a policy of another version cannot be read by this secctl at all,
/// so this is reported alone, before any structural check.
fn version_problem(name: &str, tree: &Node) -> Option<Diagnostic> {
    let (_, v) = tree.as_map()?.iter().find(|(k, _)| k.value == Value::Str("version".into()))?;
    match &v.value {
        Value::UInt(1) => None,
        Value::UInt(n) => Some(
            Diagnostic::error("unsupported-version", name, v.span, "version", format!("policy version {n} is not supported; this secctl reads version 1"))
                .with_label("unsupported version")
                .with_hint("set `version: 1`, or upgrade secctl if the policy was written for a newer one"),
        ),
        _ => None, // wrong types are reported by the schema pass
    }
}

/// Converts a serde-saphyr error into a diagnostic: position from the error, message
/// without the "at line X, column Y" text that the diagnostic already shows.
fn saphyr_error(name: &str, e: &serde_saphyr::Error, text: &str) -> Diagnostic {
    let span = e.location().map(|l| Span::from_location(&l)).unwrap_or(Span::UNKNOWN);
    let raw = e.without_snippet().to_string();
    let mut msg = clean_message(&raw);
    let tagged = matches!(e.without_snippet(), serde_saphyr::Error::UnsupportedTag { .. } | serde_saphyr::Error::TaggedStructFieldName { .. });
    let code = if tagged {
        "yaml-unsupported-tag"
    } else if msg.contains("duplicate") {
        "yaml-duplicate-key"
    } else {
        "yaml-syntax"
    };
    // Library wording that means nothing to a policy author.
    // The parser places the error on the tagged value; point at the tag itself when it is written
    // just before (the tag is what to remove).
    let span = match e.without_snippet() {
        serde_saphyr::Error::UnsupportedTag { tag, .. } | serde_saphyr::Error::TaggedStructFieldName { tag, .. } => tag_span(text, span, tag).unwrap_or(span),
        _ => span,
    };
    let special = if tagged {
        msg = format!("{msg}: secctl policies use no YAML tags, and a tagged value would be read without its tag");
        Some("remove the tag; a secret belongs in an `env:` or `file:` reference, not in a tagged value (e.g. `!vault`)")
    } else if msg.contains("multiple YAML documents") {
        msg = "the file holds more than one YAML document (`---`)".into();
        Some("a policy is a single document: remove the `---` separator and merge the parts")
    } else if msg.contains("budget breached") && msg.contains("Depth") {
        msg = "the YAML is nested more than 64 levels deep".into();
        Some("a policy is never this deep; look for unbalanced brackets")
    } else if msg.contains("budget breached") {
        msg = format!("the file exceeds secctl's safety limits for YAML ({})", msg.trim_start_matches("budget breached: "));
        Some("a policy is small; check for runaway aliases or a wrong file")
    } else {
        None
    };
    let hint = if let Some(h) = special {
        h
    } else if code == "yaml-duplicate-key" {
        "keep only one of the two keys"
    } else if text.contains('\t') && msg.contains("tab") {
        "indent with spaces, not tabs"
    } else {
        "fix the YAML syntax here (indentation, a missing `:` or an unclosed quote or bracket)"
    };
    Diagnostic::error(code, name, span, "", msg).with_hint(hint)
}

/// Where `tag` (as the parser reports it, e.g. `!vault` or `tag:yaml.org,2002:python/...`) is
/// written last before the value at `at`.
fn tag_span(text: &str, at: Span, tag: &str) -> Option<Span> {
    let end = at.offset.filter(|o| *o <= text.len() && text.is_char_boundary(*o))?;
    let written = tag.strip_prefix("tag:yaml.org,2002:").map(|t| format!("!!{t}")).unwrap_or_else(|| tag.to_string());
    let start = text[..end].rfind(&written)?;
    let before = &text[..start];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) as u32 + 1;
    Some(Span { line, col, offset: Some(start), len: Some(written.len()) })
}

/// Removes position text (`at line 3, column 5`, `line 3 column 5`) and collapses whitespace.
fn clean_message(raw: &str) -> String {
    let mut s = raw.lines().next().unwrap_or("").to_string();
    for pat in [" at line ", ", line ", " line "] {
        if let Some(i) = s.find(pat) {
            let rest = &s[i + pat.len()..];
            if rest.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                let tail_start = rest.find(|c: char| !(c.is_ascii_digit() || c == ',' || c == ' ' || c.is_ascii_alphabetic() && "column".contains(c)));
                let tail = tail_start.map(|t| &rest[t..]).unwrap_or("");
                s = format!("{}{}", &s[..i], tail);
            }
        }
    }
    let s = s.trim().trim_end_matches(':').trim();
    let mut out = s.to_string();
    if let Some(first) = out.get(..1) {
        out = first.to_lowercase() + &out[1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_of(text: &str) -> Diagnostic {
        let e = parse_bytes("p.yaml", text.as_bytes()).unwrap_err();
        assert_eq!(e.diagnostics.len(), 1, "{e}");
        e.diagnostics.into_iter().next().unwrap()
    }

    #[test]
    fn lone_cr_line_breaks_are_line_breaks() {
        let text = "# comment\rversion: 1\rproject: { name: demo, environment: dev }\rservices:\r  api: { kind: fastapi, dns_name: [a] }\r";
        let d = err_of(text);
        // Not `file-empty` (the whole file used to look like one comment line): the real problem, at its line.
        assert_eq!((d.code.as_str(), d.line, d.column), ("unknown-key", 5, 25), "{d:?}");
        // Same length, so offsets stay valid; CRLF is left alone.
        assert_eq!(normalize_line_breaks("a\rb\r\nc\r".into()), "a\nb\r\nc\n");
    }

    #[test]
    fn unknown_tags_are_refused_at_the_tag() {
        for (text, tag, line, col) in [
            ("version: 1\nproject:\n  name: !vault |\n    $ANSIBLE_VAULT;1.1;AES256\n", "!vault", 3, 9),
            ("version: 1\nproject: { name: !!python/object/new:os.system [id] }\n", "python/object/new:os.system", 2, 18),
            ("version: 1\n!custom project: { name: x }\n", "!custom", 2, 1),
        ] {
            let d = err_of(text);
            assert_eq!(d.code, "yaml-unsupported-tag", "{text}: {d:?}");
            assert!(d.message.contains(tag), "{d:?}");
            assert_eq!((d.line, d.column), (line, col), "{text}: {d:?}");
        }
        // The standard tags keep their meaning.
        let e = parse_bytes("p.yaml", b"version: !!int 1\nproject: { name: !!str 123, environment: dev }\nservices: {}\n").err();
        assert!(e.as_ref().is_none_or(|e| e.diagnostics.iter().all(|d| d.code != "yaml-unsupported-tag")), "{e:?}");
    }
}
