//! `secctl verify`: probes the running stack and gives a verdict per control of the policy.
//!
//! Every probe is derived from the policy ([`crate::policy::ValidPolicy`]): the user writes no
//! expectation by hand. One module per control family; [`probe`] runs them (in parallel,
//! rate limits last), [`output`] writes text, JSON, JUnit and SARIF. docs/verify.md documents
//! every control id ([`catalog::FAMILIES`]).

pub mod catalog;
pub mod cors;
pub mod env;
pub mod gw;
pub mod headers;
pub mod hello;
pub mod mtls;
pub mod net;
pub mod output;
pub mod pki;
pub mod probe;
pub mod ratelimit;
pub mod redis;
pub mod result;
pub mod tls;
pub mod waf;

use std::time::Instant;

use anyhow::Result;

use crate::policy::ValidPolicy;
pub use env::{Options, Resolve};
pub use result::{ControlResult, Report, Status};

/// Every probe the policy implies, in run order (late ones are moved last by the runner).
pub fn plan(env: &env::Env) -> Vec<probe::Probe> {
    let mut v = Vec::new();
    v.extend(tls::probes(env));
    v.extend(headers::probes(env));
    v.extend(cors::probes(env));
    v.extend(waf::probes(env));
    v.extend(mtls::probes(env));
    v.extend(redis::probes(env));
    v.extend(pki::probes(env));
    v.extend(ratelimit::probes(env));
    v
}

/// Runs the selected controls against the stack and returns the report. `tick` is called
/// after each control (progress).
pub fn run(valid: &ValidPolicy, opts: &Options, only: &[String], skip: &[String], tick: &(dyn Fn(&ControlResult) + Sync)) -> Result<Report> {
    let start = Instant::now();
    let env = env::Env::new(valid, opts)?;
    let probes = probe::select(plan(&env), only, skip);
    let results = probe::run_all(&env, &probes, opts.threads, tick);
    let mut results = results;
    // Report order: the catalog's family order, then the probes' order within a family.
    results.sort_by_key(|r| catalog::FAMILIES.iter().position(|f| f.id == r.family).unwrap_or(usize::MAX));
    Ok(Report::new(env.file.clone(), results, start.elapsed().as_millis() as u64))
}

/// The ids of every probe the policy implies (for `--only` validation and docs).
pub fn ids(valid: &ValidPolicy) -> Result<Vec<String>> {
    let env = env::Env::new(valid, &Options::default())?;
    Ok(plan(&env).into_iter().map(|p| p.id).collect())
}
