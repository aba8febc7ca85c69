//! `secctl init`: scaffold a project with a commented policy.

use std::path::PathBuf;

use anyhow::Result;

use crate::exit::{Fail, Outcome};
use crate::policy::init::{init, InitError, Preset};
use crate::report::Reporter;

/// Arguments of `secctl init`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Writes DIR/secctl.yaml (commented), DIR/policy.schema.json, DIR/generated/, DIR/pki/ (0700)\nand a .gitignore block that keeps keys, certificates and secrets out of git.")]
pub struct Args {
    /// Project directory (created if missing).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Which policy to start from.
    #[arg(long, value_enum, default_value_t = Preset::Minimal)]
    preset: Preset,
    /// Replace an existing secctl.yaml.
    #[arg(long)]
    force: bool,
}

/// Runs `secctl init`: 0 on success, 2 when the policy exists (without --force) or a file is in the
/// way, 3 when a write failed (nothing is left behind either way).
pub fn run(args: Args, reporter: &Reporter) -> Result<Outcome> {
    let report = init(&args.dir, args.preset, args.force).map_err(|e| match e.downcast_ref::<InitError>() {
        Some(InitError::PolicyExists(_) | InitError::Blocked(_)) => Fail::invalid(e),
        None => Fail::unevaluated(e),
    })?;
    for p in &report.written {
        reporter.status(format!("wrote {}", p.display()));
    }
    for p in &report.kept {
        reporter.status(format!("kept  {}", p.display()));
    }
    let policy = args.dir.join(crate::policy::init::POLICY_FILE);
    reporter.status(format!("next: edit {0}, then run `secctl check -p {0}`", policy.display()));
    Ok(Outcome::Ok)
}
