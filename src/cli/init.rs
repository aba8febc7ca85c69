//! `secctl init`.

use anyhow::Result;

use crate::exit::{Fail, Outcome};
use crate::report::Reporter;

/// Arguments of `secctl init`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `secctl init`.
pub fn run(_args: Args, _reporter: &Reporter) -> Result<Outcome> {
    Err(Fail::unevaluated(anyhow::anyhow!("`secctl init` is not implemented yet")))
}
