//! `secctl schema`.

use anyhow::Result;

use crate::exit::{Fail, Outcome};
use crate::report::Reporter;

/// Arguments of `secctl schema`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `secctl schema`.
pub fn run(_args: Args, _reporter: &Reporter) -> Result<Outcome> {
    Err(Fail::unevaluated(anyhow::anyhow!("`secctl schema` is not implemented yet")))
}
