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
    /// Something in the way of the scaffold (a file where a directory must go, or the reverse).
    #[error("{0}")]
    Blocked(String),
}

/// Scaffolds a project in `dir` (created if missing).
///
/// Every refusal is decided before the first write (the policy exists, a path that must be a
/// directory is a file, `.gitignore` cannot be read), so a refused `init` writes nothing. If a
/// write still fails (disk full, a race), what this run created is removed again.
pub fn init(dir: &Path, preset: Preset, force: bool) -> Result<InitReport> {
    let plan = plan(dir, force)?;
    let mut created: Vec<PathBuf> = Vec::new();
    let result = apply(dir, preset, force, &plan, &mut created);
    if result.is_err() {
        // Undo in reverse order: files first, then the directories that held them.
        for p in created.iter().rev() {
            let _ = if p.is_dir() { std::fs::remove_dir(p) } else { std::fs::remove_file(p) };
        }
    }
    result
}

/// What `init` will do, decided before anything is written.
struct Plan {
    /// Directories to create, outermost first (the project directory and its missing parents).
    new_dirs: Vec<PathBuf>,
    /// `.gitignore`'s current text (`None`: it does not exist).
    gitignore: Option<String>,
}

fn plan(dir: &Path, force: bool) -> Result<Plan> {
    let mut new_dirs = Vec::new();
    for a in dir.ancestors().filter(|a| !a.as_os_str().is_empty()) {
        match std::fs::metadata(a) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => return Err(InitError::Blocked(format!("{} exists and is not a directory: choose another project directory", a.display())).into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_dirs.push(a.to_path_buf()),
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                return Err(InitError::Blocked(format!("{} cannot be created: a part of the path is not a directory", dir.display())).into());
            }
            Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", a.display())),
        }
    }
    new_dirs.reverse();
    let policy = dir.join(POLICY_FILE);
    if policy.exists() && !force {
        return Err(InitError::PolicyExists(policy).into());
    }
    for p in [policy, dir.join(SCHEMA_FILE)] {
        if p.is_dir() {
            return Err(InitError::Blocked(format!("{} is a directory: move it away, then run `secctl init` again", p.display())).into());
        }
    }
    for sub in ["generated", "pki"] {
        let d = dir.join(sub);
        if d.exists() && !d.is_dir() {
            return Err(InitError::Blocked(format!("{} exists and is not a directory: move it away, then run `secctl init` again", d.display())).into());
        }
    }
    let gi = dir.join(".gitignore");
    let gitignore = match std::fs::read_to_string(&gi) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}: fix it (it must be a readable UTF-8 file), then run `secctl init` again", gi.display())),
    };
    Ok(Plan { new_dirs, gitignore })
}

fn apply(dir: &Path, preset: Preset, force: bool, plan: &Plan, created: &mut Vec<PathBuf>) -> Result<InitReport> {
    let mut report = InitReport::default();
    for d in &plan.new_dirs {
        std::fs::create_dir(d).with_context(|| format!("cannot create {}", d.display()))?;
        created.push(d.clone());
    }
    let policy = dir.join(POLICY_FILE);
    let existed = policy.exists();
    if force {
        fsutil::write_atomic(&policy, preset.text().as_bytes(), fsutil::PUBLIC)?;
    } else {
        fsutil::write_new(&policy, preset.text().as_bytes(), fsutil::PUBLIC)?;
    }
    if !existed {
        created.push(policy.clone());
    }
    report.written.push(policy);
    let schema = dir.join(SCHEMA_FILE);
    let existed = schema.exists();
    fsutil::write_atomic(&schema, crate::policy::schema::policy_schema_text().as_bytes(), fsutil::PUBLIC)?;
    if !existed {
        created.push(schema.clone());
    }
    report.written.push(schema);
    for (sub, mode) in [("generated", 0o755), ("pki", 0o700)] {
        let d = dir.join(sub);
        if d.is_dir() {
            report.kept.push(d);
            continue;
        }
        std::fs::create_dir(&d).with_context(|| format!("cannot create {}", d.display()))?;
        created.push(d.clone());
        set_mode(&d, mode)?;
        report.written.push(d);
    }
    let gi = dir.join(".gitignore");
    match &plan.gitignore {
        Some(existing) if existing.contains(GITIGNORE_MARK) => report.kept.push(gi),
        Some(existing) => {
            let sep = if existing.is_empty() || existing.ends_with("\n\n") { "" } else if existing.ends_with('\n') { "\n" } else { "\n\n" };
            fsutil::write_atomic(&gi, format!("{existing}{sep}{GITIGNORE_BLOCK}").as_bytes(), fsutil::PUBLIC)?;
            report.written.push(gi);
        }
        None => {
            fsutil::write_new(&gi, GITIGNORE_BLOCK.as_bytes(), fsutil::PUBLIC)?;
            created.push(gi.clone());
            report.written.push(gi);
        }
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
