//! `secctl certs ...`: the private service CA.

use std::path::PathBuf;

use anyhow::Result;

use crate::ca::{self, settings::Settings};
use crate::exit::{Fail, Outcome};
use crate::report::{Format, Reporter};

use super::{FormatArg, PolicyArg};

/// `--pki-dir`, overriding `ca.pki_dir`.
#[derive(Debug, Clone, clap::Args)]
pub struct PkiArg {
    /// PKI directory (default: `ca.pki_dir` from the policy, relative to the policy file; else `pki` next to it).
    #[arg(long, value_name = "DIR")]
    pub pki_dir: Option<PathBuf>,
}

/// `secctl certs` subcommands. (Flattened argument groups document themselves.)
#[allow(missing_docs)]
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Issue (or re-issue when needed) every service's certificates; creates the CA on first use.
    Issue {
        #[command(flatten)]
        policy: PolicyArg,
        #[command(flatten)]
        pki: PkiArg,
        /// Re-issue every certificate, and replace damaged files instead of stopping.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Inventory of issued certificates; exits 1 when any is missing, expiring, expired, revoked or mismatched.
    List {
        #[command(flatten)]
        policy: PolicyArg,
        #[command(flatten)]
        pki: PkiArg,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Create the root and intermediate CA (done by the first `issue` too).
    Init {
        #[command(flatten)]
        policy: PolicyArg,
        #[command(flatten)]
        pki: PkiArg,
    },
    /// Print a readable dump of one certificate (or every certificate in a PEM file).
    Inspect {
        /// PEM file.
        file: PathBuf,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Re-issue the certificates of one service, or of all.
    Renew {
        /// Service to renew.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        service: Option<String>,
        /// Renew every certificate.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        policy: PolicyArg,
        #[command(flatten)]
        pki: PkiArg,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Revoke a service's current certificates and publish the CRL.
    Revoke {
        /// Service whose certificates are revoked.
        service: String,
        /// RFC 5280 reason.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(ca::crl::REASONS))]
        reason: String,
        /// Only this purpose (default: both).
        #[arg(long, value_parser = ["server", "client"])]
        purpose: Option<String>,
        #[command(flatten)]
        policy: PolicyArg,
        #[command(flatten)]
        pki: PkiArg,
    },
    /// Re-parse every file and validate every chain (rustls-webpki), CRLs included.
    Verify {
        #[command(flatten)]
        policy: PolicyArg,
        #[command(flatten)]
        pki: PkiArg,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Rotate the intermediate or the root with an overlapping trust bundle (see docs/ca.md).
    RotateCa {
        /// What to do: `stage` a new CA (trusted, not issuing), `activate` it (issue from it, re-issue every leaf),
        /// `finish` (stop trusting the old one).
        #[arg(value_parser = ["stage", "activate", "finish"])]
        step: String,
        /// Stage a new root (and intermediate) instead of only a new intermediate.
        #[arg(long)]
        root: bool,
        #[command(flatten)]
        policy: PolicyArg,
        #[command(flatten)]
        pki: PkiArg,
    },
}

impl Command {
    /// The output format this invocation asked for.
    pub fn format(&self) -> Format {
        match self {
            Command::List { format, .. }
            | Command::Issue { format, .. }
            | Command::Inspect { format, .. }
            | Command::Renew { format, .. }
            | Command::Verify { format, .. } => format.format,
            _ => Format::Human,
        }
    }
}

/// Loads the policy and the CA settings; reports diagnostics and returns exit 2 when unusable.
fn settings(policy: &PolicyArg, pki: &PkiArg, reporter: &Reporter) -> Result<Settings, Outcome> {
    // `certs` defers to `secctl check` like every command that acts on a policy.
    let valid = super::load_checked_policy(&policy.policy, reporter, "nothing was issued")?;
    if reporter.format == Format::Human && !valid.warnings().is_empty() {
        reporter.diagnostics(valid.warnings(), Some(&valid.source().text));
    }
    match ca::settings::from_policy(&valid, pki.pki_dir.as_deref()) {
        Some(s) => Ok(s),
        None => {
            // A valid policy may have no CA; `certs` then has nothing to run.
            let d = crate::diag::Diagnostic::error("missing-key", &valid.source().name, crate::policy::Span::UNKNOWN, "ca", "the policy has no `ca` section, so there is no CA to run")
                .with_hint("add a `ca:` section with `trust_domain` and `name_constraints` (see docs/ca.md)");
            reporter.diagnostics(&[d], Some(&valid.source().text));
            reporter.status(format!("{}: nothing was issued", valid.source().name));
            Err(Outcome::Invalid)
        }
    }
}

macro_rules! load {
    ($policy:expr, $pki:expr, $reporter:expr) => {
        match settings($policy, $pki, $reporter) {
            Ok(s) => s,
            Err(o) => return Ok(o),
        }
    };
}

/// Runs a `secctl certs` subcommand.
pub fn run(cmd: Command, reporter: &Reporter) -> Result<Outcome> {
    match cmd {
        Command::Issue { policy, pki, force, .. } => {
            let s = load!(&policy, &pki, reporter);
            issue(&s, ca::issue::Options { force, ..Default::default() }, reporter)
        }
        Command::Renew { service, all, policy, pki, .. } => {
            let s = load!(&policy, &pki, reporter);
            issue(&s, ca::issue::Options { renew: service.into_iter().collect(), renew_all: all, force: false }, reporter)
        }
        Command::Init { policy, pki } => {
            let s = load!(&policy, &pki, reporter);
            let now = time::OffsetDateTime::now_utc();
            let prep = ca::issue::prepare(&s, now).map_err(Fail::invalid)?;
            let mut store = ca::store::Store::open(&s.pki_dir, true).map_err(Fail::invalid)?;
            notes(reporter, &store.notes);
            let created = ca::issue::ensure_ca(&mut store, &s, &prep, now).map_err(Fail::invalid)?;
            store.keep();
            if created {
                git_warning(&s, reporter);
                reporter.line(format!("created the root and intermediate CA in {}", store.layout.ca_dir().display()));
            } else {
                reporter.line(format!("the CA already exists in {}; nothing to do", store.layout.ca_dir().display()));
            }
            Ok(Outcome::Ok)
        }
        Command::List { policy, pki, .. } => {
            let s = load!(&policy, &pki, reporter);
            let rows = ca::inventory::rows(&s).map_err(Fail::invalid)?;
            if reporter.format == Format::Json {
                reporter.json(&serde_json::json!({ "pki_dir": s.pki_dir, "certs": rows }));
            } else {
                reporter.line(format!("{:<16} {:<7} {:<50} {:<21} {:>5}  STATUS", "SERVICE", "PURPOSE", "SERIAL", "NOT AFTER", "DAYS"));
                for r in &rows {
                    reporter.line(format!(
                        "{:<16} {:<7} {:<50} {:<21} {:>5}  {}{}",
                        r.service,
                        r.purpose.as_str(),
                        r.serial.as_deref().unwrap_or("-"),
                        r.not_after.as_deref().unwrap_or("-"),
                        r.days_left.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
                        r.status,
                        r.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
                    ));
                }
            }
            let bad = rows.iter().filter(|r| r.is_problem()).count();
            if bad > 0 {
                reporter.status(format!("{bad} certificate(s) need attention: run `secctl certs issue`"));
                Ok(Outcome::Findings)
            } else {
                Ok(Outcome::Ok)
            }
        }
        Command::Inspect { file, .. } => super::certs_more::inspect(&file, reporter),
        Command::Revoke { service, reason, purpose, policy, pki } => {
            let s = load!(&policy, &pki, reporter);
            super::certs_more::revoke(&s, &service, &reason, purpose.as_deref(), reporter)
        }
        Command::Verify { policy, pki, .. } => {
            let s = load!(&policy, &pki, reporter);
            super::certs_more::verify(&s, reporter)
        }
        Command::RotateCa { step, root, policy, pki } => {
            let s = load!(&policy, &pki, reporter);
            super::certs_more::rotate(&s, &step, root, reporter)
        }
    }
}

fn notes(reporter: &Reporter, notes: &[String]) {
    for n in notes {
        reporter.status(format!("recovered: {n}"));
    }
}

fn issue(s: &Settings, opts: ca::issue::Options, reporter: &Reporter) -> Result<Outcome> {
    let pb = reporter.progress(s.leaves.len() as u64, "issuing");
    let report = ca::issue::run(s, &opts, &pb).map_err(Fail::invalid)?;
    if report.ca_created {
        git_warning(s, reporter);
    }
    if reporter.format == Format::Json {
        reporter.json(&report);
        return Ok(Outcome::Ok);
    }
    notes(reporter, &report.recovered);
    if report.ca_created {
        reporter.line(format!("created the root and intermediate CA in {}", s.pki_dir.join("ca").display()));
    }
    for c in &report.certs {
        let what = if c.action == "issued" { format!("issued  {}", c.reason) } else { "kept    valid, matches the policy".to_string() };
        reporter.line(format!("{:<16} {:<7} {what}  (serial {}, until {}, {} days)", c.service, c.purpose.as_str(), c.serial, c.not_after, c.days_left));
    }
    for c in &report.crls {
        reporter.line(format!("re-signed {c}"));
    }
    let n = report.certs.iter().filter(|c| c.action == "issued").count();
    reporter.status(format!("{n} issued, {} kept, in {}", report.certs.len() - n, s.pki_dir.display()));
    Ok(Outcome::Ok)
}

/// Warns when the PKI directory is inside a git work tree and its keys are not ignored.
fn git_warning(s: &Settings, reporter: &Reporter) {
    let key = s.pki_dir.join("ca").join("intermediate.key");
    let Some(dir) = key.parent() else { return };
    let out = std::process::Command::new("git").arg("-C").arg(dir).args(["check-ignore", "-q", "intermediate.key"]).output();
    // check-ignore exits 0 when ignored, 1 when not ignored, 128 outside a work tree (or without git).
    if let Ok(o) = out
        && o.status.code() == Some(1) {
            reporter.status(format!(
                "warning: {} is inside a git work tree and not ignored: add `{}/` to .gitignore (or run `secctl init`) so private keys are never committed",
                s.pki_dir.display(),
                s.pki_dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "pki".into())
            ));
        }
}
