//! Secrets named in the policy (`SecretRef`): read from the environment or a file, never argv.

use std::path::Path;

use anyhow::{bail, Context, Result};
use zeroize::Zeroizing;

use crate::policy::model::SecretRef;

/// Reads a secret. `what` names it in errors (e.g. `identity.admin.password`); the value never
/// appears in any message.
pub fn resolve(r: &SecretRef, base_dir: &Path, what: &str) -> Result<Zeroizing<String>> {
    if r.value.is_some() {
        bail!("{what}: inline secrets are not allowed; use `env:` or `file:`");
    }
    if let Some(env) = &r.env {
        return match std::env::var(&env.value) {
            Ok(v) if !v.is_empty() => Ok(Zeroizing::new(v)),
            _ => bail!("{what}: environment variable {} is not set (or empty); export it before running secctl", env.value),
        };
    }
    if let Some(file) = &r.file {
        let path = base_dir.join(&file.value);
        let text = std::fs::read_to_string(&path).with_context(|| format!("{what}: cannot read secret file {}", path.display()))?;
        let v = text.strip_suffix('\n').map(|s| s.strip_suffix('\r').unwrap_or(s)).unwrap_or(&text).to_string();
        if v.is_empty() {
            bail!("{what}: secret file {} is empty", path.display());
        }
        return Ok(Zeroizing::new(v));
    }
    bail!("{what}: give either `env:` or `file:`")
}
