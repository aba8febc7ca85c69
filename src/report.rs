//! The one place output goes through.
//!
//! Library code never prints: commands hand results to a [`Reporter`], which
//! knows the output format, whether colour is allowed (NO_COLOR, terminals)
//! and whether progress bars may be drawn.

use std::io::{self, IsTerminal, Write};

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::diag::{self, escape, Diagnostic};

/// Output format for commands that report results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for people.
    #[default]
    Human,
    /// One JSON document on stdout.
    Json,
}

/// Colour choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and NO_COLOR is unset.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Sends results, messages and progress to the right stream in the right format.
pub struct Reporter {
    /// Output format.
    pub format: Format,
    color: bool,
    progress: bool,
    quiet: bool,
}

impl Reporter {
    /// A reporter for this process's stdout and stderr.
    pub fn new(format: Format, color: ColorChoice, quiet: bool) -> Self {
        let tty = io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color,
        };
        // Progress bars only for people watching a terminal, never in JSON mode or CI logs.
        let progress = tty && io::stderr().is_terminal() && format == Format::Human && !quiet;
        Reporter { format, color, progress, quiet }
    }

    /// Whether colour is on.
    pub fn color(&self) -> bool {
        self.color
    }

    /// Writes a line of human output to stdout (suppressed in JSON mode, where stdout is the document).
    /// Control and bidi characters (which policy values may carry) are shown escaped.
    pub fn line(&self, text: impl AsRef<str>) {
        if self.format == Format::Human {
            let _ = writeln!(io::stdout().lock(), "{}", escape::terminal(text.as_ref()));
        }
    }

    /// Writes raw text to stdout regardless of format (rendered files, schemas, tokens, diffs): data
    /// for a pipe or a file, written byte for byte (not escaped; see [`Reporter::line`]).
    pub fn raw(&self, text: impl AsRef<str>) {
        let _ = io::stdout().lock().write_all(text.as_ref().as_bytes());
    }

    /// A status message on stderr (suppressed by --quiet), control characters escaped.
    pub fn status(&self, text: impl AsRef<str>) {
        if !self.quiet {
            let _ = writeln!(io::stderr().lock(), "{}", escape::terminal(text.as_ref()));
        }
    }

    /// An error on stderr: what failed, then (anyhow's chain) why; control characters escaped.
    pub fn error(&self, err: &anyhow::Error) {
        let _ = writeln!(io::stderr().lock(), "error: {}", escape::terminal(&format!("{err:#}")));
    }

    /// Emits a JSON document on stdout.
    pub fn json<T: Serialize>(&self, value: &T) {
        let mut out = io::stdout().lock();
        let _ = serde_json::to_writer_pretty(&mut out, value);
        let _ = writeln!(out);
    }

    /// Reports diagnostics in the chosen format: human to stderr with snippets, JSON to stdout.
    pub fn diagnostics(&self, diags: &[Diagnostic], text: Option<&str>) {
        match self.format {
            Format::Human => {
                let mut err = io::stderr().lock();
                let color = self.color && io::stderr().is_terminal();
                let _ = diag::render_human(&mut err, color, diags, text);
            }
            Format::Json => {
                let _ = diag::render_json(&mut io::stdout().lock(), diags);
            }
        }
    }

    /// A progress bar for `len` steps; hidden unless a person is watching a terminal.
    pub fn progress(&self, len: u64, what: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        }
        let pb = ProgressBar::new(len);
        pb.set_style(
            ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "),
        );
        pb.set_message(what.to_string());
        pb
    }
}
