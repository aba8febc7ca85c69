//! `secctl check`: load, validate and lint a policy.

use anyhow::Result;

use crate::diag::Severity;
use crate::exit::Outcome;
use crate::report::Reporter;

use super::{FormatArg, PolicyArg};

/// Arguments of `secctl check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    policy: PolicyArg,
    #[command(flatten)]
    pub(crate) format: FormatArg,
}

/// Runs `secctl check`: 0 clean, 1 errors found, 2 unreadable input.
pub fn run(args: Args, reporter: &Reporter) -> Result<Outcome> {
    let loaded = match super::load_policy(&args.policy.policy, reporter) {
        Ok(l) => l,
        Err(o) => return Ok(o),
    };
    let diags = crate::policy::check::check(&loaded);
    reporter.diagnostics(&diags, Some(&loaded.source.text));
    let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = diags.iter().filter(|d| d.severity == Severity::Warning).count();
    reporter.status(format!("{}: {errors} error(s), {warnings} warning(s)", loaded.source.name));
    Ok(if errors > 0 { Outcome::Findings } else { Outcome::Ok })
}
