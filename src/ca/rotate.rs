//! `secctl certs rotate-ca`: replace the intermediate or the root with an overlapping trust bundle.

use anyhow::{bail, Result};

use super::settings::Settings;

/// Runs one rotation step and returns what it did.
pub fn run(_s: &Settings, step: &str, _root: bool) -> Result<Vec<String>> {
    bail!("`rotate-ca {step}` is not available yet")
}
