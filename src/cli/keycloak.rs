//! `secctl keycloak ...`: converge Keycloak with the policy.

use anyhow::Result;

use crate::exit::{Fail, Outcome};
use crate::report::{Format, Reporter};

use super::{FormatArg, PolicyArg};

/// `secctl keycloak` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show what apply would change.
    Plan {
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
            Command::Plan { format, .. } => format.format,
        }
    }
}

/// Runs a `secctl keycloak` subcommand.
pub fn run(_cmd: Command, _reporter: &Reporter) -> Result<Outcome> {
    Err(Fail::unevaluated(anyhow::anyhow!("`secctl keycloak` is not implemented yet")))
}
