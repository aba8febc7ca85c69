//! File writes that never leave a half-written file behind.
//!
//! Every file secctl writes goes through here: it is written to a temporary
//! file in the same directory, synced, then renamed over the target, so a
//! crash (even `kill -9`) leaves either the old file or the new one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Unix mode for private keys and secrets.
pub const PRIVATE: u32 = 0o600;
/// Unix mode for certificates and generated configs.
pub const PUBLIC: u32 = 0o644;

/// Writes `bytes` to `path` atomically with the given mode, replacing any existing file.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let (dir, tmp) = staged(path, bytes, mode)?;
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("cannot replace {}", path.display()))?;
    sync_dir(dir);
    Ok(())
}

/// Writes `bytes` to a new file at `path`; fails if the file exists. The content
/// appears atomically (temp file, then a no-clobber hard link).
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let (dir, tmp) = staged(path, bytes, mode)?;
    tmp.persist_noclobber(path).map_err(|e| e.error).with_context(|| {
        format!("refusing to overwrite {}: it already exists (move it away, or pass --force where offered)", path.display())
    })?;
    sync_dir(dir);
    Ok(())
}

/// Writes `bytes` with `mode` to a synced temporary file in `path`'s directory (created if
/// needed), ready to be renamed over `path`.
fn staged<'a>(path: &'a Path, bytes: &[u8], mode: u32) -> Result<(&'a Path, tempfile::NamedTempFile)> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".secctl-tmp-")
        .permissions(permissions(mode))
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    tmp.as_file().sync_all().with_context(|| format!("cannot sync {}", path.display()))?;
    Ok((dir, tmp))
}

#[cfg(unix)]
fn permissions(mode: u32) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    fs::Permissions::from_mode(mode)
}

#[cfg(not(unix))]
fn permissions(_mode: u32) -> fs::Permissions {
    fs::metadata(".").map(|m| m.permissions()).unwrap_or_else(|_| unreachable!())
}

/// Makes a rename durable. Best effort: some filesystems refuse to open directories.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The outermost directory `create_dir_all(dir)` would create, if any: what a refused or failed
/// run must remove to leave the tree as it found it (the CA store and `render` both use it).
pub fn first_missing(dir: &Path) -> Option<PathBuf> {
    let mut top = None;
    for a in dir.ancestors().filter(|a| !a.as_os_str().is_empty()) {
        if a.exists() {
            break;
        }
        top = Some(a.to_path_buf());
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_write_sets_mode_and_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.pem");
        write_atomic(&p, b"one", PRIVATE).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        write_atomic(&p, b"two", PUBLIC).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o644);
        // No temp files are left behind.
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn write_new_refuses_to_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.pem");
        write_new(&p, b"one", PRIVATE).unwrap();
        let err = write_new(&p, b"two", PRIVATE).unwrap_err();
        assert!(format!("{err:#}").contains("refusing to overwrite"));
        assert_eq!(fs::read(&p).unwrap(), b"one");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
