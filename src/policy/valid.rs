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
use super::types::{AbsPath, Cidr, NameConstraints, ProjectName, ServiceName};

/// A policy that `secctl check` accepted (no error findings; warnings are kept).
#[derive(Clone, Debug)]
pub struct ValidPolicy {
    loaded: LoadedPolicy,
    warnings: Vec<Diagnostic>,
    resolved: Resolved,
}

/// Values `check` parsed into their types, kept so consumers never parse them again.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    /// The project name.
    pub project: Option<ProjectName>,
    /// Every service name, in policy order.
    pub services: Vec<ServiceName>,
    /// The CA's name constraints (empty when there is no `ca` section or no constraint).
    pub name_constraints: NameConstraints,
    /// Deploy roots on the target hosts (`deploy.*` or the Compose defaults).
    pub deploy: Option<DeployRoots>,
}

/// The four deploy roots, as validated absolute paths.
#[derive(Clone, Debug)]
pub struct DeployRoots {
    /// Rendered output root.
    pub config_dir: AbsPath,
    /// PKI root.
    pub pki_dir: AbsPath,
    /// Runtime state root.
    pub state_dir: AbsPath,
    /// Secret files root.
    pub secrets_dir: AbsPath,
}

impl Resolved {
    /// Parses the values consumers need. Only called on a policy without errors, where every
    /// parse succeeds; a value that would not parse is left out rather than guessed.
    fn of(policy: &Policy) -> Resolved {
        let nc = policy.ca.as_ref().map(|ca| NameConstraints {
            dns: ca.name_constraints.dns.iter().map(|d| d.value.to_ascii_lowercase()).collect(),
            ips: ca.name_constraints.ips.iter().filter_map(|c| Cidr::parse(c).ok()).collect(),
        });
        let dp = policy.deploy_paths();
        let abs = |s: &str| AbsPath::parse(s, "deploy").ok();
        let deploy = (|| Some(DeployRoots { config_dir: abs(&dp.config_dir)?, pki_dir: abs(&dp.pki_dir)?, state_dir: abs(&dp.state_dir)?, secrets_dir: abs(&dp.secrets_dir)? }))();
        Resolved {
            project: ProjectName::parse(&policy.project.name).ok(),
            services: policy.services.keys().filter_map(|n| ServiceName::parse(n).ok()).collect(),
            name_constraints: nc.unwrap_or_default(),
            deploy,
        }
    }
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
        let resolved = Resolved::of(&loaded.policy);
        Ok(ValidPolicy { loaded, warnings: findings, resolved })
    }

    /// Unit tests of a renderer on a policy built in memory: skips `check`. Test-only, so
    /// nothing in a release build can make a `ValidPolicy` without the judge.
    #[cfg(test)]
    pub(crate) fn assume_valid(loaded: LoadedPolicy) -> Self {
        let resolved = Resolved::of(&loaded.policy);
        ValidPolicy { loaded, warnings: Vec::new(), resolved }
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

    /// The typed values `check` parsed.
    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }

    /// The CA's name constraints, parsed once (one meaning everywhere: see [`NameConstraints`]).
    pub fn name_constraints(&self) -> &NameConstraints {
        &self.resolved.name_constraints
    }

    /// The warnings `check` reported (the policy has no errors).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }
}
