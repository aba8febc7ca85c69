//! Redis passwords and the deploy-time ACL file: the only per-install part of the Redis config.
//!
//! The rendered tree (`redis/users.acl`) is committed and must be byte-identical
//! for a given policy, so it cannot hold per-install password hashes. Redis 7.0
//! cannot take a user's password from another file (no include in ACL files, and
//! a user may not be defined both in `redis.conf` and an `aclfile`). So secctl
//! keeps the permissions in the rendered file and produces the file Redis
//! actually loads here, next to the passwords:
//!
//! * `<dir>/redis_<user>_password`: 64 hex chars (256 bits), 0600, created once
//!   with create-new semantics and never overwritten;
//! * `<dir>/redis_users_acl`: the rendered rules plus `#<sha256>` per user, 0600,
//!   rewritten atomically on each run (it is derived data; the passwords are the secret).
//!
//! `<dir>` is `redis.secrets_dir` (default `secrets/redis` next to the policy). The
//! file names equal the Compose secret names, so the Compose override mounts them at
//! `<deploy.secrets_dir>/<name>` and `redis.conf` points `aclfile` there.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;

use crate::fsutil;
use crate::policy::LoadedPolicy;

use super::acl::AclPlan;

/// File (and Compose secret) name of the ACL Redis loads.
pub const ACL_FILE: &str = "redis_users_acl";

/// File (and Compose secret) name of a user's password.
pub fn password_file(user: &str) -> String {
    format!("redis_{user}_password")
}

/// Host directory where secctl writes Redis secrets.
pub fn host_dir(loaded: &LoadedPolicy) -> PathBuf {
    let rel = loaded
        .policy
        .redis
        .as_ref()
        .and_then(|r| r.secrets_dir.as_ref())
        .map(|s| s.value.as_str())
        .unwrap_or("secrets/redis");
    loaded.base_dir.join(rel)
}

/// What [`provision`] did.
#[derive(Clone, Debug, Serialize)]
pub struct Provisioned {
    /// The secrets directory.
    pub dir: PathBuf,
    /// The ACL file Redis loads.
    pub acl_file: PathBuf,
    /// Users whose password file was created now.
    pub created: Vec<String>,
    /// Users whose existing password file was kept.
    pub kept: Vec<String>,
}

/// Creates missing password files and (re)writes the deploy-time ACL. Existing passwords are never replaced.
pub fn provision(loaded: &LoadedPolicy, plan: &AclPlan) -> Result<Provisioned> {
    // Before anything is written: a user name is a file name here.
    plan.ensure_safe()?;
    let dir = host_dir(loaded);
    let mut passwords = BTreeMap::new();
    let (mut created, mut kept) = (Vec::new(), Vec::new());
    for u in &plan.users {
        let path = dir.join(password_file(&u.name));
        let pw = if path.exists() {
            kept.push(u.name.clone());
            read_password(&path)?
        } else {
            let pw = generate()?;
            fsutil::write_new(&path, format!("{pw}\n").as_bytes(), fsutil::PRIVATE)
                .with_context(|| format!("cannot create the Redis password for `{}`", u.name))?;
            created.push(u.name.clone());
            pw
        };
        passwords.insert(u.name.clone(), pw);
    }
    let acl_file = dir.join(ACL_FILE);
    fsutil::write_atomic(
        &acl_file,
        deploy_acl(plan, &passwords).as_bytes(),
        fsutil::PRIVATE,
    )?;
    Ok(Provisioned {
        dir,
        acl_file,
        created,
        kept,
    })
}

/// The ACL Redis loads: no comments (Redis 7.0 rejects them), the default user
/// disabled and stripped, and each user with the SHA-256 of its password.
pub fn deploy_acl(plan: &AclPlan, passwords: &BTreeMap<String, String>) -> String {
    let mut out = String::from("user default off resetpass resetkeys resetchannels -@all\n");
    for u in &plan.users {
        match passwords.get(&u.name) {
            Some(pw) => out.push_str(&format!(
                "user {} on #{} {}\n",
                u.name,
                sha256_hex(pw),
                u.rules()
            )),
            // No password: the user exists but nobody can authenticate as it.
            None => out.push_str(&format!("user {} off {}\n", u.name, u.rules())),
        }
    }
    out
}

/// Lowercase hex SHA-256, the form Redis accepts after `#`.
pub fn sha256_hex(s: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, s.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn generate() -> Result<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads an existing password file, refusing weak modes and values Redis would mangle.
pub fn read_password(path: &Path) -> Result<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .with_context(|| format!("cannot stat {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "{} is readable by group or others (mode {:o}); run `chmod 600 {}` and retry",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let pw = text.strip_suffix('\n').unwrap_or(&text);
    if pw.len() < 32 || !pw.chars().all(|c| c.is_ascii_graphic()) {
        bail!(
            "{} does not hold a usable password (need one line of at least 32 printable ASCII characters without spaces); \
             delete it to let secctl generate a new one, then restart Redis and its clients",
            path.display()
        );
    }
    Ok(pw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_matches_sha256sum() {
        // printf %s worker-secret | sha256sum (from the verified notes)
        assert_eq!(
            sha256_hex("worker-secret"),
            "6fb46f7a92742970166379ed5195e79c4493a7cc5664280c039cfd4095ba5faf"
        );
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn weak_mode_and_short_password_refused() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pw");
        fs::write(&p, "x".repeat(64)).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(format!("{:#}", read_password(&p).unwrap_err()).contains("chmod 600"));
        fs::write(&p, "short\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(format!("{:#}", read_password(&p).unwrap_err()).contains("usable password"));
    }
}
