//! Validation of a base Compose file plus the secctl override with Debian's
//! `docker-compose config` (v1; no Docker engine needed), followed by secctl's own
//! checks on the merged result, which `config` does not perform.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result};

use crate::diag::Diagnostic;
use crate::exit::Fail;
use crate::policy::LoadedPolicy;

use super::{ComposePlan, check, expectations};

/// Host roots for the `${SECCTL_*}` variables in the override.
#[derive(Clone, Debug, Default)]
pub struct HostRoots<'a> {
    /// `SECCTL_PKI_DIR`.
    pub pki_dir: Option<&'a Path>,
    /// `SECCTL_RENDER_DIR`.
    pub render_dir: Option<&'a Path>,
    /// `SECCTL_REDIS_SECRETS_DIR`.
    pub redis_secrets_dir: Option<&'a Path>,
}

/// Runs `docker-compose -f <files...> config` and returns the merged YAML.
/// A missing tool is exit 3 (could not evaluate); a file it rejects is exit 2.
pub fn docker_compose_config(files: &[&Path], roots: &HostRoots) -> Result<String> {
    let mut cmd = Command::new("docker-compose");
    for f in files {
        cmd.arg("-f").arg(f);
    }
    // `config` never talks to the engine; make sure it cannot.
    cmd.arg("config")
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .stdin(Stdio::null());
    for (var, v) in [
        ("SECCTL_PKI_DIR", roots.pki_dir),
        ("SECCTL_RENDER_DIR", roots.render_dir),
        ("SECCTL_REDIS_SECRETS_DIR", roots.redis_secrets_dir),
    ] {
        if let Some(p) = v {
            cmd.env(var, p);
        }
    }
    let out = cmd.output().map_err(|e| {
        Fail::unevaluated(anyhow::anyhow!("cannot run docker-compose ({e}); install Debian's `docker-compose` package (or run scripts/setup.sh)"))
    })?;
    if !out.status.success() {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        return Err(Fail::invalid(anyhow::anyhow!(
            "docker-compose rejected {}:\n{}",
            names.join(" + "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    String::from_utf8(out.stdout).context("docker-compose printed non-UTF-8 output")
}

/// Merges `base` with the rendered override through docker-compose and checks the
/// result against the policy. Returns the findings (empty = isolated as the policy says).
pub fn verify_merged(
    loaded: &LoadedPolicy,
    base: &Path,
    override_file: &Path,
    roots: &HostRoots,
) -> Result<Vec<Diagnostic>> {
    let merged = docker_compose_config(&[base, override_file], roots)?;
    let doc = check::parse(&merged)?;
    let plan = ComposePlan::from_policy(&loaded.policy);
    let name = format!("{} + {} (merged)", base.display(), override_file.display());
    Ok(check::check(&name, &doc, Some(&expectations(&plan))))
}
