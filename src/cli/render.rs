//! `secctl render`: generate every config from the policy.

use std::path::PathBuf;

use anyhow::Result;

use crate::exit::{Fail, Outcome};
use crate::render::write;
use crate::report::Reporter;

use super::{FormatArg, PolicyArg};

/// Arguments of `secctl render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    policy: PolicyArg,
    /// Output directory. It is replaced as a whole (files secctl did not generate stop the write).
    #[arg(long, default_value = "generated")]
    out: PathBuf,
    /// Do not write; exit 1 with a unified diff when the directory differs from what would be rendered.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    pub(crate) format: FormatArg,
}

/// The `--format json` result of `render --check`.
#[derive(serde::Serialize)]
struct CheckReport<'a> {
    out: String,
    up_to_date: bool,
    files: usize,
    drift: &'a [write::Drift],
    diff: &'a str,
}

/// Runs `secctl render`.
pub fn run(args: Args, reporter: &Reporter) -> Result<Outcome> {
    let valid = match super::load_checked_policy(&args.policy.policy, reporter, "not rendered") {
        Ok(l) => l,
        Err(outcome) => return Ok(outcome),
    };
    // A policy that loads but cannot be rendered (dangling names, unquotable values) is bad input.
    let files = crate::render::render_all(&valid)
        .map_err(|e| Fail::invalid(e.context("cannot render the policy")))?;
    if args.check {
        let (drift, diff) = write::check(&args.out, &files).map_err(Fail::unevaluated)?;
        if reporter.format == crate::report::Format::Json {
            reporter.json(&CheckReport { out: args.out.display().to_string(), up_to_date: drift.is_empty(), files: files.len(), drift: &drift, diff: &diff });
            return Ok(if drift.is_empty() { Outcome::Ok } else { Outcome::Findings });
        }
        if drift.is_empty() {
            reporter.status(format!("{} is up to date ({} files)", args.out.display(), files.len()));
            return Ok(Outcome::Ok);
        }
        reporter.raw(&diff);
        for d in &drift {
            reporter.status(d.to_string());
        }
        reporter.status(format!(
            "{} differs from the policy in {} file(s): run `secctl render --policy {} --out {}` and commit the result",
            args.out.display(),
            drift.len(),
            args.policy.policy.display(),
            args.out.display()
        ));
        return Ok(Outcome::Findings);
    }
    redis_secrets_preflight(&valid).map_err(Fail::invalid)?;
    write::write(&args.out, &files).map_err(Fail::invalid)?;
    reporter.status(format!("rendered {} files into {}", files.len(), args.out.display()));
    // Redis passwords are per install, so they live outside the committed tree: create the
    // missing ones (0600, never overwritten) and the loadable ACL file with their hashes.
    if let Some(p) = crate::render::redis::provision_secrets(&valid).map_err(Fail::invalid)? {
        reporter.status(format!("redis secrets in {}: {} created, {} kept", p.dir.display(), p.created.len(), p.kept.len()));
    }
    Ok(Outcome::Ok)
}

/// What can refuse the Redis-secrets step after the tree is written, decided before it: a refused
/// render writes nothing (existing password files must be usable, the directory must be one).
fn redis_secrets_preflight(valid: &crate::policy::ValidPolicy) -> Result<()> {
    use crate::render::redis::{acl, secrets};
    let Some(plan) = acl::plan(valid) else { return Ok(()) };
    let dir = secrets::host_dir(valid.loaded());
    // The directory, or the nearest part of its path that exists, must be a directory.
    if let Some(a) = dir.ancestors().find(|a| a.as_os_str().is_empty() || a.exists())
        && !a.as_os_str().is_empty()
        && !a.is_dir()
    {
        anyhow::bail!("{} is not a directory, so the Redis secrets directory {} cannot be created: move it away or set `redis.secrets_dir`; nothing was rendered", a.display(), dir.display());
    }
    for u in &plan.users {
        let path = dir.join(secrets::password_file(&u.name));
        if path.exists() {
            secrets::read_password(&path).map_err(|e| e.context("nothing was rendered"))?;
        }
    }
    Ok(())
}
