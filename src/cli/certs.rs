//! `secctl certs ...`: the private service CA.

use anyhow::Result;

use crate::exit::{Fail, Outcome};
use crate::report::{Format, Reporter};

use super::{FormatArg, PolicyArg};

/// `secctl certs` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Issue (or re-issue when needed) every service's certificates.
    Issue {
        #[command(flatten)]
        policy: PolicyArg,
    },
    /// Inventory of issued certificates.
    List {
        #[command(flatten)]
        policy: PolicyArg,
        #[command(flatten)]
        format: FormatArg,
    },
}

impl Command {
    /// The output format this invocation asked for.
    pub fn format(&self) -> Format {
        match self {
            Command::List { format, .. } => format.format,
            _ => Format::Human,
        }
    }
}

/// Runs a `secctl certs` subcommand.
pub fn run(_cmd: Command, _reporter: &Reporter) -> Result<Outcome> {
    Err(Fail::unevaluated(anyhow::anyhow!("`secctl certs` is not implemented yet")))
}
