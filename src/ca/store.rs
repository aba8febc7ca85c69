//! The PKI directory as a whole: locking, crash recovery, CA creation and the
//! derived files (bundle, chain, CRLs).
//!
//! Crash safety: every file is written with temp+rename. A leaf is replaced by
//! writing `<f>.new` for the cert, full chain and key, then renaming the key
//! first and the certs after. On open, a leftover `key.new` means the swap never
//! started (roll back); a leftover cert `.new` whose public key matches the
//! current key means it was half done (roll forward). A new CA is built in a
//! temporary directory and renamed to `ca/` in one step. `index.json` is written
//! last and reconciled with the disk on open.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use rcgen::{Issuer, KeyPair, PublicKeyData as _};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::certinfo::{self, CertInfo};
use super::index::{fmt_time, CaRecord, CaState, CertRecord, Index, Level};
use super::layout::Layout;
use super::settings::Settings;
use super::{authority, crl, keys, Purpose};
use crate::fsutil;

/// An open, locked PKI directory.
pub struct Store {
    /// Paths.
    pub layout: Layout,
    /// The inventory.
    pub index: Index,
    /// What recovery did on open (for the user).
    pub notes: Vec<String>,
    // Declared before the lock so that an unsuccessful run removes what it created while it
    // still holds the lock (fields drop in declaration order).
    created: Created,
    _lock: fs::File,
}

/// What [`Store::open`] created (the PKI directory, or only its lock file), removed again when the
/// store is dropped without [`Store::keep`]: on an error or a panic (unwinding runs `Drop`), a run
/// leaves no directory, key or lock behind. Only what this process created is ever removed.
struct Created {
    /// The topmost directory this open created (it may have created parents of the PKI dir too).
    dir: Option<PathBuf>,
    /// The lock file, when the directory existed but the lock did not.
    lock: Option<PathBuf>,
    keep: bool,
}

impl Drop for Created {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if let Some(d) = &self.dir {
            let _ = fs::remove_dir_all(d);
        } else if let Some(l) = &self.lock {
            let _ = fs::remove_file(l);
        }
    }
}

/// Opens and locks `path`, creating it when missing. Because an unsuccessful first run deletes the
/// lock file it created, a waiter may end up holding a lock on an unlinked file: it then retries on
/// the file now at `path`, so two writers never both believe they hold the lock.
fn lock_file(path: &Path) -> Result<(fs::File, bool)> {
    use std::os::unix::fs::MetadataExt;
    loop {
        let existed = path.exists();
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        if f.try_lock().is_err() {
            f.lock().with_context(|| format!("cannot lock {}", path.display()))?;
        }
        let held = f.metadata().with_context(|| format!("cannot stat {}", path.display()))?;
        match fs::metadata(path) {
            Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => return Ok((f, !existed)),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // The previous holder gave up and removed its fresh directory: start over as if new.
                if path.parent().is_some_and(|d| !d.exists()) {
                    bail!("the PKI directory {} was removed while waiting for its lock: run the command again", path.parent().unwrap_or(path).display());
                }
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot stat {}", path.display())),
        }
    }
}

/// Supplies the root key when a root-signed CRL or certificate must be made.
pub type RootKeyFn<'a> = dyn FnMut(&Path) -> Result<KeyPair> + 'a;

impl Store {
    /// Opens (and with `create`, creates) the PKI directory, takes the writer lock and recovers from interrupted runs.
    pub fn open(dir: &Path, create: bool) -> Result<Store> {
        let mut created_dir = None;
        if !dir.exists() {
            if !create {
                bail!("there is no PKI directory at {}: run `secctl certs issue` (or `secctl certs init`) first, or pass --pki-dir", dir.display());
            }
            created_dir = crate::fsutil::first_missing(dir);
            fs::create_dir_all(dir).with_context(|| format!("cannot create the PKI directory {}", dir.display()))?;
        }
        // From here on, a failure removes what was created (see `Created`).
        let mut created = Created { dir: created_dir, lock: None, keep: false };
        let layout = Layout::new(dir);
        let (lock, new_lock) = lock_file(&layout.lock())?;
        if new_lock {
            created.lock = Some(layout.lock());
        }
        let mut store = Store { index: Index::load(&layout.index())?, layout, notes: Vec::new(), created, _lock: lock };
        store.recover()?;
        Ok(store)
    }

    /// Marks the run as successful: what opening created stays. Without this, dropping the store
    /// (an error or a panic) removes a PKI directory or lock file that this open created.
    pub fn keep(&mut self) {
        self.created.keep = true;
    }

    /// Whether a CA exists in this directory.
    pub fn has_ca(&self) -> bool {
        self.layout.ca_dir().exists()
    }

    /// Saves the inventory.
    pub fn save(&self) -> Result<()> {
        self.index.save(&self.layout.index())
    }

    fn recover(&mut self) -> Result<()> {
        // Temp files from writes that never reached their rename.
        let mut dirs = vec![self.layout.root.clone(), self.layout.ca_dir(), self.layout.ca_dir().join("crls")];
        if let Ok(rd) = fs::read_dir(self.layout.root.join("services")) {
            dirs.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
        for d in &dirs {
            let Ok(rd) = fs::read_dir(d) else { continue };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with(".secctl-tmp-") {
                    if e.path().is_dir() {
                        let _ = fs::remove_dir_all(e.path());
                    } else {
                        let _ = fs::remove_file(e.path());
                    }
                } else if name.starts_with(".ca-init-") && d == &self.layout.root {
                    let _ = fs::remove_dir_all(e.path());
                    self.notes.push("removed a CA that was being created when a previous run was interrupted".into());
                }
            }
        }
        // Half-replaced leaves.
        let services = self.layout.root.join("services");
        for d in dirs.iter().filter(|d| d.parent() == Some(services.as_path())) {
            let service = d.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            for p in [Purpose::Server, Purpose::Client] {
                self.recover_leaf(&service, p)?;
            }
        }
        self.reconcile()?;
        // A `rotate-ca activate` that was interrupted between moving files and saving the index.
        let next = self.layout.root.join(super::rotate::NEXT);
        let staged: Vec<CaRecord> = self.index.cas.iter().filter(|c| c.state == CaState::Staged).cloned().collect();
        if !staged.is_empty() {
            let moved = staged.iter().any(|c| {
                let name = match c.level {
                    Level::Root => "root.crt",
                    Level::Intermediate => "intermediate.crt",
                };
                !next.join(name).exists() && certinfo::read_cert(&self.layout.ca_dir().join(name)).is_ok_and(|i| i.sha256 == c.sha256)
            });
            if moved {
                super::rotate::activate_files(self)?;
                self.notes.push("completed an interrupted `rotate-ca activate`; run `secctl certs issue` to re-issue the leaves".into());
            }
        }
        Ok(())
    }

    fn recover_leaf(&mut self, service: &str, p: Purpose) -> Result<()> {
        let key = self.layout.leaf_key(service, p);
        let key_new = Layout::staged(&key);
        if key_new.exists() {
            fs::remove_file(&key_new).with_context(|| format!("cannot remove {}", key_new.display()))?;
        }
        let current_spki = keys::load(&key, || bail!("encrypted leaf key")).ok().map(|k| k.subject_public_key_info());
        let mut rolled = false;
        for f in [self.layout.leaf_crt(service, p), self.layout.leaf_fullchain(service, p)] {
            let staged = Layout::staged(&f);
            if !staged.exists() {
                continue;
            }
            let matches = certinfo::read_cert(&staged).ok().is_some_and(|c| Some(&c.spki) == current_spki.as_ref());
            if matches {
                fs::rename(&staged, &f).with_context(|| format!("cannot complete the interrupted replacement of {}", f.display()))?;
                rolled = true;
            } else {
                fs::remove_file(&staged).with_context(|| format!("cannot remove {}", staged.display()))?;
            }
        }
        if rolled {
            self.notes.push(format!("completed the interrupted renewal of {service}/{}", p.as_str()));
        }
        Ok(())
    }

    /// Makes the index agree with the files: CAs and current leaves that exist on disk but are not recorded
    /// (a run was killed between writing them and writing the index) are added.
    fn reconcile(&mut self) -> Result<()> {
        let mut changed = false;
        if self.index.cas.is_empty() && self.layout.int_crt().exists()
            && let (Ok(root), Ok(int)) = (certinfo::read_cert(&self.layout.root_crt()), certinfo::read_cert(&self.layout.int_crt())) {
                self.index.cas.push(ca_record(Level::Root, &root, &root.serial, CaState::Active, "ca"));
                self.index.cas.push(ca_record(Level::Intermediate, &int, &root.serial, CaState::Active, "ca"));
                changed = true;
            }
        if let Ok(rd) = fs::read_dir(self.layout.root.join("services")) {
            let mut names: Vec<String> = rd.flatten().filter(|e| e.path().is_dir()).map(|e| e.file_name().to_string_lossy().to_string()).collect();
            names.sort();
            for svc in names {
                for p in [Purpose::Server, Purpose::Client] {
                    let Ok(c) = certinfo::read_cert(&self.layout.leaf_crt(&svc, p)) else { continue };
                    if self.index.certs.iter().any(|r| r.serial == c.serial) {
                        continue;
                    }
                    let issuer = self.index.cas.iter().find(|ca| ca.ski.is_some() && ca.ski == c.aki).map(|ca| ca.serial.clone());
                    self.index.record_leaf(leaf_record(&svc, p, &c, issuer.unwrap_or_default(), "recorded after an interrupted run"));
                    self.notes.push(format!("recorded {svc}/{} ({}) in the inventory after an interrupted run", p.as_str(), c.serial));
                    changed = true;
                }
            }
        }
        if changed {
            self.save()?;
        }
        Ok(())
    }

    /// Creates a root and an intermediate in a temporary directory, then renames it to `ca/`.
    pub fn init_ca(&mut self, s: &Settings, root_pass: Option<&[u8]>, now: OffsetDateTime) -> Result<()> {
        if self.has_ca() {
            bail!("{} already exists: the CA is created only once (use `secctl certs rotate-ca` to replace it)", self.layout.ca_dir().display());
        }
        let tmp = tempfile::Builder::new().prefix(".ca-init-").tempdir_in(&self.layout.root).context("cannot create a temporary directory")?;
        let dir = tmp.path();
        let (root_key, root_cert, _) = authority::make_root(s, now)?;
        let root_info = certinfo::info(root_cert.der())?;
        let root_issuer = Issuer::from_ca_cert_der(root_cert.der(), root_key).map_err(|e| anyhow!("{e}"))?;
        let (int_key, int_cert) = authority::make_intermediate(s, now, &root_issuer, root_info.not_after)?;
        let int_info = certinfo::info(int_cert.der())?;
        let root_key_pem = match root_pass {
            Some(p) => keys::to_encrypted_pem(root_issuer.key(), p)?,
            None => keys::to_pem(root_issuer.key()),
        };
        fsutil::write_new(&dir.join("root.key"), root_key_pem.as_bytes(), fsutil::PRIVATE)?;
        fsutil::write_new(&dir.join("root.crt"), root_cert.pem().as_bytes(), fsutil::PUBLIC)?;
        fsutil::write_new(&dir.join("intermediate.key"), keys::to_pem(&int_key).as_bytes(), fsutil::PRIVATE)?;
        fsutil::write_new(&dir.join("intermediate.crt"), int_cert.pem().as_bytes(), fsutil::PUBLIC)?;
        let mut index = self.index.clone();
        index.cas.push(ca_record(Level::Root, &root_info, &root_info.serial, CaState::Active, "ca"));
        index.cas.push(ca_record(Level::Intermediate, &int_info, &root_info.serial, CaState::Active, "ca"));
        // CRLs for both levels, signed now while the root key is in memory.
        let int_issuer = Issuer::from_ca_cert_der(int_cert.der(), int_key).map_err(|e| anyhow!("{e}"))?;
        fs::create_dir_all(dir.join("crls"))?;
        let n = index.next_crl_number(&root_info.serial);
        let pem = crl::sign(&root_issuer, n, &[], now, crl::ROOT_CRL_DAYS, root_info.not_after)?;
        fsutil::write_atomic(&dir.join("crls").join(crl_name(&root_info.serial)), pem.as_bytes(), fsutil::PUBLIC)?;
        let n = index.next_crl_number(&int_info.serial);
        let pem = crl::sign(&int_issuer, n, &[], now, crl::LEAF_CRL_DAYS, int_info.not_after)?;
        fsutil::write_atomic(&dir.join("crls").join(crl_name(&int_info.serial)), pem.as_bytes(), fsutil::PUBLIC)?;
        write_derived_into(dir, &index, &|_rec: &CaRecord| dir.to_path_buf())?;
        let tmp_path = tmp.keep();
        fs::rename(&tmp_path, self.layout.ca_dir()).with_context(|| format!("cannot move the new CA into {}", self.layout.ca_dir().display()))?;
        self.index = index;
        self.save()
    }

    /// The directory holding a CA record's files.
    pub fn ca_path(&self, rec: &CaRecord) -> PathBuf {
        self.layout.root.join(&rec.dir)
    }

    /// Rewrites bundle.crt, chain.crt and crl.pem from the trusted CAs when their content changed.
    pub fn write_derived(&self) -> Result<()> {
        write_derived_into(&self.layout.ca_dir(), &self.index, &|rec| self.ca_path(rec))
    }

    /// Re-signs every CRL that is missing, out of date with the revocations, or in its last third of life.
    /// The root key is asked for only when a root-signed CRL needs it. Returns what was refreshed.
    pub fn refresh_crls(&mut self, now: OffsetDateTime, root_key: &mut RootKeyFn<'_>) -> Result<Vec<String>> {
        let mut done = Vec::new();
        let trusted: Vec<CaRecord> = self.index.cas.iter().filter(|c| trusted(c.state)).cloned().collect();
        for ca in trusted {
            let revoked: Vec<(String, super::index::Revocation)> = match ca.level {
                Level::Root => self.index.cas.iter().filter(|c| c.level == Level::Intermediate && c.issuer_serial == ca.serial),
                Level::Intermediate => {
                    let v: Vec<(String, super::index::Revocation)> = self
                        .index
                        .certs
                        .iter()
                        .filter(|c| c.issuer_serial == ca.serial)
                        .filter_map(|c| c.revoked.clone().map(|r| (c.serial.clone(), r)))
                        .collect();
                    done.extend(self.refresh_one(&ca, v, now, root_key)?);
                    continue;
                }
            }
            .filter_map(|c| c.revoked.clone().map(|r| (c.serial.clone(), r)))
            .collect();
            done.extend(self.refresh_one(&ca, revoked, now, root_key)?);
        }
        if !done.is_empty() {
            self.save()?;
        }
        Ok(done)
    }

    fn refresh_one(&mut self, ca: &CaRecord, revoked: Vec<(String, super::index::Revocation)>, now: OffsetDateTime, root_key: &mut RootKeyFn<'_>) -> Result<Option<String>> {
        let path = self.layout.ca_dir().join("crls").join(crl_name(&ca.serial));
        let (days, fraction) = match ca.level {
            Level::Root => (crl::ROOT_CRL_DAYS, 90.0 / 365.0),
            Level::Intermediate => (crl::LEAF_CRL_DAYS, 1.0 / 3.0),
        };
        let current = fs::read(&path).ok().and_then(|b| crl::parse(&b).ok());
        let why = match &current {
            None => "missing",
            Some(c) if {
                let mut a = c.revoked.clone();
                let mut b: Vec<String> = revoked.iter().map(|r| r.0.clone()).collect();
                a.sort();
                b.sort();
                a != b
            } =>
            {
                "revocations changed"
            }
            Some(c) if crl::due(c, now, fraction) => "close to its nextUpdate",
            Some(_) => return Ok(None),
        };
        let dir = self.ca_path(ca);
        let (crt, key_path) = match ca.level {
            Level::Root => (dir.join("root.crt"), dir.join("root.key")),
            Level::Intermediate => (dir.join("intermediate.crt"), dir.join("intermediate.key")),
        };
        let info = certinfo::read_cert(&crt)?;
        let key = match ca.level {
            Level::Root => root_key(&key_path).map_err(|e| {
                let left = current.as_ref().and_then(|c| c.next_update).map(|n| format!("it is valid until {}", fmt_time(n))).unwrap_or_else(|| "it is missing".into());
                e.context(format!(
                    "the root-signed CRL ({why}; {left}) must be re-signed with the root key {}, which is not available: \
                     provide the passphrase (ca.root_passphrase env/file, or run on a terminal) and run the command again",
                    key_path.display()
                ))
            })?,
            Level::Intermediate => keys::load(&key_path, || bail!("{} is encrypted; the issuing key must be unencrypted", key_path.display()))?,
        };
        let issuer = Issuer::from_ca_cert_der(&info.der, key).map_err(|e| anyhow!("{e}"))?;
        let n = self.index.next_crl_number(&ca.serial);
        let pem = crl::sign(&issuer, n, &revoked, now, days, info.not_after)?;
        fsutil::write_atomic(&path, pem.as_bytes(), fsutil::PUBLIC)?;
        Ok(Some(format!("CRL of {} ({why})", info.cn.unwrap_or(ca.subject.clone()))))
    }

    /// Replaces (or first writes) a leaf's cert, full chain and key, crash-safely (see the module docs).
    ///
    /// Files are not fsynced one by one (that costs ~20 ms per certificate on common disks); a process
    /// kill cannot lose them because every step is a rename of a complete file. [`Store::sync`] makes
    /// the whole batch durable once, before the inventory is written.
    pub fn put_leaf(&self, service: &str, p: Purpose, key_pem: &str, cert_pem: &str, fullchain_pem: &str) -> Result<()> {
        let crt = self.layout.leaf_crt(service, p);
        let full = self.layout.leaf_fullchain(service, p);
        let key = self.layout.leaf_key(service, p);
        let dir = self.layout.service_dir(service);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        write_unsynced(&Layout::staged(&crt), cert_pem.as_bytes(), fsutil::PUBLIC, false)?;
        write_unsynced(&Layout::staged(&full), fullchain_pem.as_bytes(), fsutil::PUBLIC, false)?;
        write_unsynced(&Layout::staged(&key), key_pem.as_bytes(), fsutil::PRIVATE, true)?;
        crash_point("leaf-staged");
        fs::rename(Layout::staged(&key), &key).with_context(|| format!("cannot install {}", key.display()))?;
        crash_point("leaf-key-swapped");
        fs::rename(Layout::staged(&crt), &crt).with_context(|| format!("cannot install {}", crt.display()))?;
        fs::rename(Layout::staged(&full), &full).with_context(|| format!("cannot install {}", full.display()))?;
        Ok(())
    }

    /// Flushes everything written to the PKI directory's filesystem (one `syncfs`).
    pub fn sync(&self) -> Result<()> {
        use std::os::fd::AsRawFd;
        let d = fs::File::open(&self.layout.root).with_context(|| format!("cannot open {}", self.layout.root.display()))?;
        // SAFETY: syncfs on a descriptor we own.
        if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
            return Err(std::io::Error::last_os_error()).with_context(|| format!("cannot flush {}", self.layout.root.display()));
        }
        Ok(())
    }
}

/// Temp file + rename (or no-clobber link when `new`), without fsync; see [`Store::put_leaf`].
fn write_unsynced(path: &Path, bytes: &[u8], mode: u32, new: bool) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".secctl-tmp-")
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    if new {
        tmp.persist_noclobber(path).map_err(|e| e.error).with_context(|| format!("refusing to overwrite {}", path.display()))?;
    } else {
        tmp.persist(path).map_err(|e| e.error).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Test hook: `SECCTL_CRASH_AT=<point>` makes the process abort (like `kill -9`) at that point, so the
/// integration tests can prove recovery; `SECCTL_CRASH_AT=panic:<point>` panics there instead, so they
/// can prove that unwinding removes what an unsuccessful run created. Unset in normal use; it never
/// changes what is written.
pub fn crash_point(name: &str) {
    let Some(v) = std::env::var_os("SECCTL_CRASH_AT") else { return };
    if v == name {
        std::process::abort();
    }
    if v.to_str().and_then(|v| v.strip_prefix("panic:")) == Some(name) {
        panic!("SECCTL_CRASH_AT: panic at {name}");
    }
}

fn trusted(s: CaState) -> bool {
    matches!(s, CaState::Active | CaState::Staged | CaState::Retiring)
}

/// File name of a CA's CRL under `ca/crls/`.
pub fn crl_name(serial: &str) -> String {
    format!("{}.pem", serial.replace(':', ""))
}

fn write_derived_into(ca_dir: &Path, index: &Index, dir_of: &dyn Fn(&CaRecord) -> PathBuf) -> Result<()> {
    let order = |s: CaState| match s {
        CaState::Active => 0,
        CaState::Staged => 1,
        _ => 2,
    };
    let mut cas: Vec<&CaRecord> = index.cas.iter().filter(|c| trusted(c.state)).collect();
    cas.sort_by_key(|c| order(c.state));
    let read = |rec: &CaRecord| -> Result<String> {
        let f = dir_of(rec).join(match rec.level {
            Level::Root => "root.crt",
            Level::Intermediate => "intermediate.crt",
        });
        fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))
    };
    let mut bundle = String::new();
    let mut chain = String::new();
    for c in cas.iter().filter(|c| c.level == Level::Intermediate) {
        chain.push_str(&read(c)?);
    }
    for c in cas.iter().filter(|c| c.level == Level::Root) {
        let pem = read(c)?;
        if !bundle.contains(&pem) {
            bundle.push_str(&pem);
            chain.push_str(&pem);
        }
    }
    let mut crls = String::new();
    for c in &cas {
        let f = ca_dir.join("crls").join(crl_name(&c.serial));
        if let Ok(t) = fs::read_to_string(&f) {
            crls.push_str(&t);
        }
    }
    for (name, text) in [("bundle.crt", bundle), ("chain.crt", chain), ("crl.pem", crls)] {
        let p = ca_dir.join(name);
        if fs::read_to_string(&p).ok().as_deref() != Some(text.as_str()) {
            fsutil::write_atomic(&p, text.as_bytes(), fsutil::PUBLIC)?;
        }
    }
    Ok(())
}

/// An inventory record for a CA certificate.
pub fn ca_record(level: Level, c: &CertInfo, issuer_serial: &str, state: CaState, dir: &str) -> CaRecord {
    CaRecord {
        level,
        serial: c.serial.clone(),
        subject: c.subject.clone(),
        not_before: fmt_time(c.not_before),
        not_after: fmt_time(c.not_after),
        sha256: c.sha256.clone(),
        issuer_serial: issuer_serial.to_string(),
        ski: c.ski.clone(),
        state,
        dir: dir.to_string(),
        revoked: None,
    }
}

/// An inventory record for a leaf.
pub fn leaf_record(service: &str, p: Purpose, c: &CertInfo, issuer_serial: String, reason: &str) -> CertRecord {
    CertRecord {
        service: service.to_string(),
        purpose: p,
        serial: c.serial.clone(),
        not_before: fmt_time(c.not_before),
        not_after: fmt_time(c.not_after),
        sha256: c.sha256.clone(),
        issuer_serial,
        issued_at: fmt_time(OffsetDateTime::now_utc()),
        reason: reason.to_string(),
        current: true,
        revoked: None,
    }
}

/// Keeps a passphrase only as long as needed.
pub type Pass = Zeroizing<Vec<u8>>;
