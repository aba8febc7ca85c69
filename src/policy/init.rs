//! `secctl init`: scaffold a project with a commented policy.
//!
//! Writes the policy (`secctl.yaml`) from a compiled-in preset, the JSON Schema
//! beside it for editors, the project folders, and a `.gitignore` block that
//! keeps keys, certificates and secrets out of git. Never clobbers: an existing
//! policy is kept unless `force`, and an existing `.gitignore` is appended to.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::fsutil;

/// The commented policies `init` can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// The whole reference stack: gateway, backend, AI service, worker, Redis, Keycloak, Loki.
    Reference,
    /// One gateway in front of one API.
    Minimal,
}

impl Preset {
    /// The policy text for this preset.
    pub fn text(self) -> &'static str {
        match self {
            Preset::Reference => include_str!("../../templates/init/reference.yaml"),
            Preset::Minimal => include_str!("../../templates/init/minimal.yaml"),
        }
    }
}

/// File name of the policy `init` writes (also `--policy`'s default).
pub const POLICY_FILE: &str = "secctl.yaml";
/// File name of the schema written beside it (the policy's `$schema` comment points here).
pub const SCHEMA_FILE: &str = "policy.schema.json";
/// Marks our block in `.gitignore` so a second `init` does not repeat it.
const GITIGNORE_MARK: &str = "# secctl: keys, certificates and secrets never go into git";
const GITIGNORE_BLOCK: &str = "# secctl: keys, certificates and secrets never go into git
pki/
secrets/
*.key
*.key.pem
*-key.pem
*.p12
*.pfx
.env
";

/// What `init` did, for the report.
#[derive(Debug, Default, serde::Serialize)]
pub struct InitReport {
    /// Files and folders created or updated, in order.
    pub written: Vec<PathBuf>,
    /// Things left as they were.
    pub kept: Vec<PathBuf>,
}

/// Why `init` refused.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The policy exists and `force` was not given.
    #[error("{0} already exists; not overwriting it (use --force to replace it)")]
    PolicyExists(PathBuf),
}

/// Scaffolds a project in `dir` (created if missing).
pub fn init(dir: &Path, preset: Preset, force: bool) -> Result<InitReport> {
    let mut report = InitReport::default();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let policy = dir.join(POLICY_FILE);
    if policy.exists() && !force {
        return Err(InitError::PolicyExists(policy).into());
    }
    if force {
        fsutil::write_atomic(&policy, preset.text().as_bytes(), fsutil::PUBLIC)?;
    } else {
        fsutil::write_new(&policy, preset.text().as_bytes(), fsutil::PUBLIC)?;
    }
    report.written.push(policy);
    let schema = dir.join(SCHEMA_FILE);
    fsutil::write_atomic(&schema, crate::policy::schema::policy_schema_text().as_bytes(), fsutil::PUBLIC)?;
    report.written.push(schema);
    for (sub, mode) in [("generated", 0o755), ("pki", 0o700)] {
        let d = dir.join(sub);
        if d.is_dir() {
            report.kept.push(d);
            continue;
        }
        std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
        set_mode(&d, mode)?;
        report.written.push(d);
    }
    let gi = dir.join(".gitignore");
    match std::fs::read_to_string(&gi) {
        Ok(existing) if existing.contains(GITIGNORE_MARK) => report.kept.push(gi),
        Ok(existing) => {
            let sep = if existing.is_empty() || existing.ends_with("\n\n") { "" } else if existing.ends_with('\n') { "\n" } else { "\n\n" };
            fsutil::write_atomic(&gi, format!("{existing}{sep}{GITIGNORE_BLOCK}").as_bytes(), fsutil::PUBLIC)?;
            report.written.push(gi);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fsutil::write_new(&gi, GITIGNORE_BLOCK.as_bytes(), fsutil::PUBLIC)?;
            report.written.push(gi);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", gi.display())),
    }
    Ok(report)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).with_context(|| format!("cannot set permissions on {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}
