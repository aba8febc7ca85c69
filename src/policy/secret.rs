//! The one implementation of secret resolution (`SecretRef`: `env:` or `file:`), used by
//! Keycloak logins, fixture passwords, client secrets and the CA's root-key passphrase.
//!
//! The policy's shape (exactly one of `env`/`file`, no inline `value`, a valid variable name
//! and path) is judged by `check`; this module only reads. A value never appears in a
//! message. A secret file must be a regular file that neither group nor others can access
//! (like ssh's keys): a readable secret file is refused, with the `chmod` that fixes it.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::model::SecretRef;

/// Why a secret could not be read. Every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The variable is unset or empty.
    #[error("{what}: environment variable {var} is not set (or is empty); export it before running secctl")]
    EnvUnset {
        /// The YAML path of the reference.
        what: String,
        /// The variable.
        var: String,
    },
    /// The file could not be read.
    #[error("{what}: cannot read secret file {}: {source}", path.display())]
    Unreadable {
        /// The YAML path of the reference.
        what: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is accessible to group or others.
    #[error("{what}: secret file {} has mode {mode:04o}, so other users can read it; run `chmod 600 {}`", path.display(), path.display())]
    TooOpen {
        /// The YAML path of the reference.
        what: String,
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is empty (after the trailing newline).
    #[error("{what}: secret file {} is empty; write the secret into it", path.display())]
    Empty {
        /// The YAML path of the reference.
        what: String,
        /// The file.
        path: PathBuf,
    },
    /// The reference names neither source (a policy `check` refuses; kept for callers that
    /// hold a reference built in memory).
    #[error("{what}: the secret reference has neither `env` nor `file`; add one")]
    NoSource {
        /// The YAML path of the reference.
        what: String,
    },
}

/// Reads a secret as bytes; one trailing `\n` (or `\r\n`) of a file is dropped.
pub fn resolve_bytes(r: &SecretRef, base_dir: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    if let Some(env) = &r.env {
        use std::os::unix::ffi::OsStringExt;
        return match std::env::var_os(&env.value) {
            Some(v) if !v.is_empty() => Ok(Zeroizing::new(v.into_vec())),
            _ => Err(SecretError::EnvUnset { what: what.into(), var: env.value.clone() }),
        };
    }
    let Some(file) = &r.file else { return Err(SecretError::NoSource { what: what.into() }) };
    let path = base_dir.join(&file.value);
    let unreadable = |source| SecretError::Unreadable { what: what.into(), path: path.clone(), source };
    let meta = std::fs::metadata(&path).map_err(unreadable)?;
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretError::TooOpen { what: what.into(), path, mode });
        }
    }
    let mut v = Zeroizing::new(std::fs::read(&path).map_err(unreadable)?);
    if v.last() == Some(&b'\n') {
        v.pop();
        if v.last() == Some(&b'\r') {
            v.pop();
        }
    }
    if v.is_empty() {
        return Err(SecretError::Empty { what: what.into(), path });
    }
    Ok(v)
}

/// Reads a secret as text (UTF-8).
pub fn resolve(r: &SecretRef, base_dir: &Path, what: &str) -> anyhow::Result<Zeroizing<String>> {
    let bytes = resolve_bytes(r, base_dir, what)?;
    match std::str::from_utf8(&bytes) {
        Ok(s) => Ok(Zeroizing::new(s.to_string())),
        Err(_) => anyhow::bail!("{what}: the secret is not UTF-8 text; store it as text"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::span::Spanned;
    use std::os::unix::fs::PermissionsExt;

    fn file_ref(name: &str) -> SecretRef {
        SecretRef { file: Some(Spanned::new(name.to_string(), crate::policy::Span::UNKNOWN)), ..Default::default() }
    }

    #[test]
    fn files_must_be_private_and_non_empty() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "hunter2\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = resolve(&file_ref("s"), dir.path(), "x.password").unwrap_err().to_string();
        assert!(e.contains("chmod 600") && !e.contains("hunter2"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(resolve(&file_ref("s"), dir.path(), "x").unwrap().as_str(), "hunter2");
        std::fs::write(&p, "\n").unwrap();
        assert!(matches!(resolve_bytes(&file_ref("s"), dir.path(), "x"), Err(SecretError::Empty { .. })));
        assert!(matches!(resolve_bytes(&file_ref("missing"), dir.path(), "x"), Err(SecretError::Unreadable { .. })));
    }

    #[test]
    fn unset_variables_are_named_never_valued() {
        let r = SecretRef { env: Some(Spanned::new("SECCTL_TEST_SURELY_UNSET_VAR".into(), crate::policy::Span::UNKNOWN)), ..Default::default() };
        let e = resolve(&r, Path::new("."), "identity.admin.password").unwrap_err().to_string();
        assert!(e.contains("SECCTL_TEST_SURELY_UNSET_VAR") && e.contains("identity.admin.password"), "{e}");
    }
}
