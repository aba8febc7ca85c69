//! `secctl render`: generate every config from the policy.

use std::path::PathBuf;

use anyhow::Result;

use crate::exit::{Fail, Outcome};
use crate::report::Reporter;

use super::PolicyArg;

/// Arguments of `secctl render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    policy: PolicyArg,
    /// Output directory.
    #[arg(long, default_value = "generated")]
    out: PathBuf,
    /// Do not write; exit 1 with a diff when the directory differs from what would be rendered.
    #[arg(long)]
    check: bool,
}

/// Runs `secctl render`.
pub fn run(_args: Args, _reporter: &Reporter) -> Result<Outcome> {
    Err(Fail::unevaluated(anyhow::anyhow!("`secctl render` is not implemented yet")))
}
