//! `secctl verify`: probe the running stack and give a verdict per control of the policy.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Result};

use crate::exit::{Fail, Outcome};
use crate::report::{Format, Reporter};
use crate::verify::{self, probe, Options, Resolve};

use super::{FormatArg, PolicyArg};

/// Arguments of `secctl verify`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit codes: 0 every control passed, 1 a control failed, 2 bad input, 3 a control could not be evaluated (never a pass).\nControl ids are documented in docs/verify.md.")]
pub struct Args {
    #[command(flatten)]
    policy: PolicyArg,
    /// PKI directory: trust bundle, client certificates and CRL [default: ca.pki_dir next to the policy].
    #[arg(long = "pki-dir", value_name = "DIR")]
    pki_dir: Option<PathBuf>,
    /// Run only controls matching PATTERN (`*` wildcards; `tls` matches every tls.* id). Repeatable.
    #[arg(long, value_name = "PATTERN")]
    only: Vec<String>,
    /// Skip controls matching PATTERN. Repeatable.
    #[arg(long, value_name = "PATTERN")]
    skip: Vec<String>,
    /// Connect to ADDR for NAME:PORT, like curl's --resolve. Repeatable.
    #[arg(long, value_name = "NAME:PORT:ADDR")]
    resolve: Vec<Resolve>,
    /// Seconds to wait for each connection and answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=120))]
    timeout: u64,
    #[command(flatten)]
    pub(crate) format: FormatArg,
    /// Also write a JUnit XML report (one testcase per control) to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write a SARIF 2.1.0 report (failures at their policy line) to FILE.
    #[arg(long, value_name = "FILE")]
    sarif: Option<PathBuf>,
}

/// Runs `secctl verify`.
pub fn run(args: Args, reporter: &Reporter) -> Result<Outcome> {
    let valid = match super::load_checked_policy(&args.policy.policy, reporter, "nothing was probed") {
        Ok(v) => v,
        Err(o) => return Ok(o),
    };
    for (flag, path) in [("--junit", &args.junit), ("--sarif", &args.sarif)] {
        if let Some(p) = path {
            let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            if !dir.is_dir() {
                return Err(Fail::invalid(anyhow!("{flag} {}: the directory {} does not exist; nothing was probed", p.display(), dir.display())));
            }
        }
    }
    let ids = verify::ids(&valid).map_err(Fail::invalid)?;
    for o in &args.only {
        if !ids.iter().any(|id| probe::matches(o, id)) {
            return Err(Fail::invalid(anyhow!("--only {o} matches no control of this policy; nothing was probed. Controls: {}", ids.join(", "))));
        }
    }
    for s in &args.skip {
        if !ids.iter().any(|id| probe::matches(s, id)) {
            reporter.status(format!("warning: --skip {s} matches no control of this policy"));
        }
    }
    let selected = ids.iter().filter(|id| (args.only.is_empty() || args.only.iter().any(|o| probe::matches(o, id))) && !args.skip.iter().any(|s| probe::matches(s, id))).count();
    let opts = Options { pki_dir: args.pki_dir.clone(), resolve: args.resolve.clone(), timeout: Duration::from_secs(args.timeout), ..Options::default() };
    let bar = reporter.progress(selected as u64, "verify");
    let tick = |r: &verify::ControlResult| {
        bar.set_message(r.id.clone());
        bar.inc(1);
    };
    let report = verify::run(&valid, &opts, &args.only, &args.skip, &tick).map_err(Fail::invalid)?;
    bar.finish_and_clear();
    if let Some(p) = &args.junit {
        crate::fsutil::write_atomic(p, verify::output::junit(&report).as_bytes(), 0o644).map_err(Fail::unevaluated)?;
    }
    if let Some(p) = &args.sarif {
        let text = serde_json::to_string_pretty(&verify::output::sarif(&report))?;
        crate::fsutil::write_atomic(p, text.as_bytes(), 0o644).map_err(Fail::unevaluated)?;
    }
    match reporter.format {
        Format::Json => reporter.json(&verify::output::json(&report)),
        Format::Human => reporter.raw(verify::output::human(&report)),
    }
    Ok(report.outcome())
}
