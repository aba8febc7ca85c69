//! `secctl keycloak ...`: converge Keycloak with the policy.

use std::path::Path;

use anyhow::{anyhow, Result};
use serde::Serialize;

use crate::exit::{Fail, Outcome};
use crate::keycloak::http::Counts;
use crate::keycloak::plan::Plan;
use crate::keycloak::read::{LiveReader, Reader};
use crate::keycloak::{self, apply, desired, plan, token};
use crate::policy::ValidPolicy;
use crate::report::{Format, Reporter};

use super::{FormatArg, PolicyArg};

/// `secctl keycloak` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show what apply would change (exit 0: in sync, 1: changes pending).
    Plan {
        /// Policy file.
        #[command(flatten)]
        policy: PolicyArg,
        /// Output format.
        #[command(flatten)]
        format: FormatArg,
        /// Also plan deletion of secctl-managed objects the policy no longer declares.
        #[arg(long)]
        prune: bool,
    },
    /// Converge the realm with the policy (creates and updates; deletes only with --prune).
    Apply {
        /// Policy file.
        #[command(flatten)]
        policy: PolicyArg,
        /// Output format.
        #[command(flatten)]
        format: FormatArg,
        /// Delete secctl-managed objects the policy no longer declares (never anything created by hand).
        #[arg(long)]
        prune: bool,
    },
    /// Print an access token: a fixture user's (--user) or a service client's (--client alone).
    Token {
        /// Policy file.
        #[command(flatten)]
        policy: PolicyArg,
        /// Fixture username; the password is read from its `password` reference.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// Client id: with --user, the client for the password grant; alone, a client-credentials token.
        #[arg(long, value_name = "CLIENT_ID")]
        client: Option<String>,
    },
}

impl Command {
    /// The output format this invocation asked for.
    pub fn format(&self) -> Format {
        match self {
            Command::Plan { format, .. } | Command::Apply { format, .. } => format.format,
            Command::Token { .. } => Format::Human,
        }
    }
}

/// Plan output in JSON: the plan plus the calls it took.
#[derive(Serialize)]
struct PlanDoc<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    in_sync: bool,
    calls: Counts,
}

fn load(path: &Path, reporter: &Reporter) -> Result<ValidPolicy> {
    super::load_checked_policy(path, reporter, "nothing was sent to Keycloak")
        .map_err(|_| Fail::invalid(anyhow!("{} is not a valid policy (see above); nothing was sent to Keycloak", path.display())))
}

/// Loads, validates, logs in and plans.
fn plan_for(path: &Path, prune: bool, reporter: &Reporter) -> Result<(ValidPolicy, keycloak::http::Admin, Plan)> {
    let valid = load(path, reporter)?;
    let no_identity = || Fail::invalid(anyhow!("{}: no `identity` section; nothing to provision", path.display()));
    if valid.policy().identity.is_none() {
        return Err(no_identity());
    }
    let want = desired::build(&valid).map_err(Fail::invalid)?;
    let admin = keycloak::connect(&valid).ok_or_else(no_identity)??;
    let actual = LiveReader(&admin).read(&want)?;
    let p = plan::plan(&want, &actual, prune);
    Ok((valid, admin, p))
}

/// Runs a `secctl keycloak` subcommand.
pub fn run(cmd: Command, reporter: &Reporter) -> Result<Outcome> {
    match cmd {
        Command::Plan { policy, prune, .. } => {
            let (_, admin, p) = plan_for(&policy.policy, prune, reporter)?;
            match reporter.format {
                Format::Json => reporter.json(&PlanDoc { plan: &p, in_sync: p.is_empty(), calls: admin.counts() }),
                Format::Human => reporter.line(p.to_string()),
            }
            Ok(if p.is_empty() { Outcome::Ok } else { Outcome::Findings })
        }
        Command::Apply { policy, prune, .. } => {
            let (_, admin, p) = plan_for(&policy.policy, prune, reporter)?;
            if reporter.format == Format::Human && !p.is_empty() {
                reporter.line(p.to_string());
            }
            let bar = reporter.progress(p.changes.len() as u64, "apply");
            let report = apply::apply(&admin, &p, &bar)?;
            match reporter.format {
                Format::Json => reporter.json(&report),
                Format::Human => reporter.status(format!(
                    "realm `{}`: applied {} change(s) ({} reads, {} writes)",
                    report.realm, report.applied, report.calls.reads, report.calls.writes
                )),
            }
            for c in &p.prune_candidates {
                reporter.status(format!("kept {c}: no longer in the policy; `apply --prune` deletes it"));
            }
            Ok(Outcome::Ok)
        }
        Command::Token { policy, user, client } => {
            let valid = load(&policy.policy, reporter)?;
            let subject = match (&user, &client) {
                (Some(u), c) => token::Subject::User { username: u, client: c.as_deref() },
                (None, Some(c)) => token::Subject::Client(c),
                (None, None) => return Err(Fail::invalid(anyhow!("give --user USER (a fixture user) or --client CLIENT_ID (a service client)"))),
            };
            let t = token::fetch(&valid, subject)?;
            reporter.raw(format!("{t}\n"));
            Ok(Outcome::Ok)
        }
    }
}
