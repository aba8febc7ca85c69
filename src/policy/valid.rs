//! The validated policy: the only input that `render`, `certs`, `keycloak` and
//! `verify` accept.
//!
//! As in cargo-deny's `ValidConfig`, a [`ValidPolicy`] can only be made by
//! [`crate::policy::check::validate`], which runs every semantic check and
//! refuses the policy when any finding is an error. A consumer that holds a
//! `&ValidPolicy` therefore never re-validates: what `check` accepts renders,
//! issues and converges.

use crate::diag::{Diagnostic, Severity};

use super::load::{LoadedPolicy, Source};
use super::model::Policy;

/// A policy that `secctl check` accepted (no error findings; warnings are kept).
#[derive(Clone, Debug)]
pub struct ValidPolicy {
    loaded: LoadedPolicy,
    warnings: Vec<Diagnostic>,
}

/// A policy that `secctl check` refused: every finding, errors and warnings, in file order.
#[derive(Debug)]
pub struct Rejected {
    /// The policy as loaded (for snippets and the file name).
    pub loaded: LoadedPolicy,
    /// Every finding; at least one is an error.
    pub diagnostics: Vec<Diagnostic>,
}

impl ValidPolicy {
    /// Wraps a loaded policy whose findings are known to hold no error. Only `check` calls this.
    pub(crate) fn new(loaded: LoadedPolicy, findings: Vec<Diagnostic>) -> Result<Self, Rejected> {
        if findings.iter().any(|d| d.severity == Severity::Error) {
            return Err(Rejected { loaded, diagnostics: findings });
        }
        Ok(ValidPolicy { loaded, warnings: findings })
    }

    /// Unit tests of a renderer on a policy built in memory: skips `check`. Test-only, so
    /// nothing in a release build can make a `ValidPolicy` without the judge.
    #[cfg(test)]
    pub(crate) fn assume_valid(loaded: LoadedPolicy) -> Self {
        ValidPolicy { loaded, warnings: Vec::new() }
    }

    /// The policy as written (every value already judged by `check`).
    pub fn policy(&self) -> &Policy {
        &self.loaded.policy
    }

    /// The file it came from.
    pub fn source(&self) -> &Source {
        &self.loaded.source
    }

    /// The loaded policy, with its base directory.
    pub fn loaded(&self) -> &LoadedPolicy {
        &self.loaded
    }

    /// Directory of the policy file; relative paths in the policy resolve against it.
    pub fn base_dir(&self) -> &std::path::Path {
        &self.loaded.base_dir
    }

    /// The warnings `check` reported (the policy has no errors).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }
}
