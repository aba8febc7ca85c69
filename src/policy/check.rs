//! Semantic validation of a parsed policy.

use crate::diag::Diagnostic;

use super::LoadedPolicy;

/// Runs every semantic check and returns all findings, errors and warnings.
pub fn check(loaded: &LoadedPolicy) -> Vec<Diagnostic> {
    let _ = loaded;
    Vec::new()
}
