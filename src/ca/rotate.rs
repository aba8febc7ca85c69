//! `secctl certs rotate-ca stage|activate|finish`: replace the intermediate, or
//! the root and intermediate, without downtime.
//!
//! 1. `stage` makes the new CA in `ca/next/` and adds it to `bundle.crt` /
//!    `chain.crt` / `crl.pem`, so every service can learn to trust it while
//!    certificates are still issued by the old one.
//! 2. `activate` (after every service reloaded the new bundle) moves the old CA
//!    to `ca/retired/<serial>/`, makes the new one the issuing CA in `ca/` and
//!    re-issues every leaf. The old CA stays trusted.
//! 3. `finish` (after every service reloaded its new certificate) stops trusting
//!    the old CA.

use std::fs;

use anyhow::{anyhow, bail, Context, Result};
use rcgen::Issuer;
use time::OffsetDateTime;

use super::index::{CaState, Level};
use super::settings::Settings;
use super::store::{self, Store};
use super::{authority, certinfo, crl, issue, keys, passphrase};
use crate::fsutil;

/// The directory of a staged CA, relative to the PKI dir.
pub const NEXT: &str = "ca/next";

/// Runs one rotation step and returns what it did, for the user.
pub fn run(s: &Settings, step: &str, root: bool) -> Result<Vec<String>> {
    match step {
        "stage" => stage(s, root),
        "activate" => activate(s),
        "finish" => finish(s),
        other => bail!("unknown rotate-ca step `{other}`: use stage, activate or finish"),
    }
}

fn stage(s: &Settings, new_root: bool) -> Result<Vec<String>> {
    let now = OffsetDateTime::now_utc();
    let mut st = Store::open(&s.pki_dir, false)?;
    if !st.has_ca() {
        bail!("there is no CA in {} yet: run `secctl certs issue` first", s.pki_dir.display());
    }
    if st.index.cas.iter().any(|c| c.state == CaState::Staged) {
        bail!("a rotation is already staged in {}: run `secctl certs rotate-ca activate` (or finish the previous one)", st.layout.root.join(NEXT).display());
    }
    if st.index.cas.iter().any(|c| c.state == CaState::Retiring) {
        bail!("the previous rotation is not finished: run `secctl certs rotate-ca finish` first");
    }
    let active_root = st.index.cas_in(Level::Root, CaState::Active).next().cloned().ok_or_else(|| anyhow!("index.json records no active root"))?;
    let tmp = tempfile::Builder::new().prefix(".secctl-tmp-next-").tempdir_in(st.layout.ca_dir())?;
    let dir = tmp.path();
    let mut msgs = Vec::new();
    let mut new_recs = Vec::new();
    let mut crls = Vec::new();
    if new_root {
        let (root_key, root_cert, _) = authority::make_root(s, now)?;
        let root_info = certinfo::info(root_cert.der())?;
        let root_issuer = Issuer::from_ca_cert_der(root_cert.der(), root_key).map_err(|e| anyhow!("{e}"))?;
        let (int_key, int_cert) = authority::make_intermediate(s, now, &root_issuer, root_info.not_after)?;
        let int_info = certinfo::info(int_cert.der())?;
        let root_pem = match &s.root_passphrase {
            Some(src) => keys::to_encrypted_pem(root_issuer.key(), &passphrase::read(src, &s.base_dir, true)?)?,
            None => keys::to_pem(root_issuer.key()),
        };
        fsutil::write_new(&dir.join("root.key"), root_pem.as_bytes(), fsutil::PRIVATE)?;
        fsutil::write_new(&dir.join("root.crt"), root_cert.pem().as_bytes(), fsutil::PUBLIC)?;
        fsutil::write_new(&dir.join("intermediate.key"), keys::to_pem(&int_key).as_bytes(), fsutil::PRIVATE)?;
        fsutil::write_new(&dir.join("intermediate.crt"), int_cert.pem().as_bytes(), fsutil::PUBLIC)?;
        let int_issuer = Issuer::from_ca_cert_der(int_cert.der(), int_key).map_err(|e| anyhow!("{e}"))?;
        let n = st.index.next_crl_number(&root_info.serial);
        crls.push((root_info.serial.clone(), crl::sign(&root_issuer, n, &[], now, crl::ROOT_CRL_DAYS, root_info.not_after)?));
        let n = st.index.next_crl_number(&int_info.serial);
        crls.push((int_info.serial.clone(), crl::sign(&int_issuer, n, &[], now, crl::LEAF_CRL_DAYS, int_info.not_after)?));
        new_recs.push(store::ca_record(Level::Root, &root_info, &root_info.serial, CaState::Staged, NEXT));
        new_recs.push(store::ca_record(Level::Intermediate, &int_info, &root_info.serial, CaState::Staged, NEXT));
        msgs.push(format!("staged a new root CA ({}) and intermediate ({}) in {}", root_info.cn.unwrap_or_default(), int_info.cn.unwrap_or_default(), st.layout.root.join(NEXT).display()));
    } else {
        let root_path = st.ca_path(&active_root);
        let mut loader = issue::root_key_loader(s);
        let root_key = loader(&root_path.join("root.key"))?;
        let root_info = certinfo::read_cert(&root_path.join("root.crt"))?;
        let root_issuer = Issuer::from_ca_cert_der(&root_info.der, root_key).map_err(|e| anyhow!("{e}"))?;
        let (int_key, int_cert) = authority::make_intermediate(s, now, &root_issuer, root_info.not_after)?;
        let int_info = certinfo::info(int_cert.der())?;
        fsutil::write_new(&dir.join("intermediate.key"), keys::to_pem(&int_key).as_bytes(), fsutil::PRIVATE)?;
        fsutil::write_new(&dir.join("intermediate.crt"), int_cert.pem().as_bytes(), fsutil::PUBLIC)?;
        let int_issuer = Issuer::from_ca_cert_der(int_cert.der(), int_key).map_err(|e| anyhow!("{e}"))?;
        let n = st.index.next_crl_number(&int_info.serial);
        crls.push((int_info.serial.clone(), crl::sign(&int_issuer, n, &[], now, crl::LEAF_CRL_DAYS, int_info.not_after)?));
        new_recs.push(store::ca_record(Level::Intermediate, &int_info, &root_info.serial, CaState::Staged, NEXT));
        msgs.push(format!("staged a new intermediate CA ({}) in {}", int_info.cn.unwrap_or_default(), st.layout.root.join(NEXT).display()));
    }
    for (serial, pem) in &crls {
        fsutil::write_atomic(&st.layout.ca_dir().join("crls").join(store::crl_name(serial)), pem.as_bytes(), fsutil::PUBLIC)?;
    }
    let tmp_path = tmp.keep();
    fs::rename(&tmp_path, st.layout.root.join(NEXT)).with_context(|| format!("cannot create {}", st.layout.root.join(NEXT).display()))?;
    st.index.cas.extend(new_recs);
    st.save()?;
    st.write_derived()?;
    msgs.push("ca/bundle.crt, ca/chain.crt and ca/crl.pem now trust both the current and the new CA; certificates are still issued by the current one".into());
    msgs.push("next: deploy the new bundle/chain/CRL to every service and reload them, then run `secctl certs rotate-ca activate`".into());
    Ok(msgs)
}

fn activate(s: &Settings) -> Result<Vec<String>> {
    let mut st = Store::open(&s.pki_dir, false)?;
    let staged: Vec<_> = st.index.cas.iter().filter(|c| c.state == CaState::Staged).cloned().collect();
    if staged.is_empty() {
        bail!("nothing is staged: run `secctl certs rotate-ca stage` first");
    }
    activate_files(&mut st)?;
    drop(st);
    let report = issue::run(s, &issue::Options::default(), &indicatif::ProgressBar::hidden())?;
    let n = report.certs.iter().filter(|c| c.action == "issued").count();
    Ok(vec![
        format!("the new CA is now the issuing CA in {}; the old one moved to ca/retired/ and stays trusted", s.pki_dir.join("ca").display()),
        format!("re-issued {n} certificate(s) from the new intermediate"),
        "next: reload every service so it uses its new certificate, then run `secctl certs rotate-ca finish`".into(),
    ])
}

/// Moves the staged CA into `ca/` and the active one it replaces into `ca/retired/<serial>/`.
/// Idempotent, so an interrupted activation is completed by running it again (or by the next open).
pub fn activate_files(st: &mut Store) -> Result<()> {
    let staged: Vec<_> = st.index.cas.iter().filter(|c| c.state == CaState::Staged).cloned().collect();
    let levels: Vec<Level> = staged.iter().map(|c| c.level).collect();
    let next = st.layout.root.join(NEXT);
    let old_int = st.index.cas_in(Level::Intermediate, CaState::Active).next().cloned().ok_or_else(|| anyhow!("index.json records no active intermediate"))?;
    let retired_rel = format!("ca/retired/{}", old_int.serial.replace(':', ""));
    let retired = st.layout.root.join(&retired_rel);
    fs::create_dir_all(&retired)?;
    // 1. Copy the old files aside (still trusted until `finish`); 2. move the new ones in.
    let names: Vec<&str> = levels
        .iter()
        .flat_map(|l| match l {
            Level::Root => ["root.crt", "root.key"],
            Level::Intermediate => ["intermediate.crt", "intermediate.key"],
        })
        .collect();
    for name in &names {
        let src = st.layout.ca_dir().join(name);
        let dst = retired.join(name);
        let staged_file = next.join(name);
        if staged_file.exists() && !dst.exists() {
            let bytes = fs::read(&src).with_context(|| format!("cannot read {}", src.display()))?;
            let mode = if name.ends_with(".key") { fsutil::PRIVATE } else { fsutil::PUBLIC };
            fsutil::write_new(&dst, &bytes, mode)?;
        }
    }
    for name in &names {
        let staged_file = next.join(name);
        if staged_file.exists() {
            fs::rename(&staged_file, st.layout.ca_dir().join(name)).with_context(|| format!("cannot install {}", staged_file.display()))?;
            store::crash_point("rotate-activate");
        }
    }
    for c in st.index.cas.iter_mut() {
        if c.state == CaState::Active && levels.contains(&c.level) {
            c.state = CaState::Retiring;
            c.dir = retired_rel.clone();
        }
    }
    for c in st.index.cas.iter_mut() {
        if c.state == CaState::Staged {
            c.state = CaState::Active;
            c.dir = "ca".into();
        }
    }
    st.save()?;
    let _ = fs::remove_dir(&next);
    st.write_derived()
}

fn finish(s: &Settings) -> Result<Vec<String>> {
    let mut st = Store::open(&s.pki_dir, false)?;
    let retiring: Vec<String> = st.index.cas.iter().filter(|c| c.state == CaState::Retiring).map(|c| c.serial.clone()).collect();
    if retiring.is_empty() {
        bail!("no rotation is waiting to be finished");
    }
    let still: Vec<String> = st
        .index
        .certs
        .iter()
        .filter(|c| c.current && c.revoked.is_none() && retiring.contains(&c.issuer_serial))
        .map(|c| format!("{}/{}", c.service, c.purpose))
        .collect();
    if !still.is_empty() {
        bail!("these certificates are still issued by the old CA: {}; run `secctl certs issue` first", still.join(", "));
    }
    for c in st.index.cas.iter_mut().filter(|c| c.state == CaState::Retiring) {
        c.state = CaState::Retired;
    }
    st.save()?;
    st.write_derived()?;
    Ok(vec![
        format!("the old CA is no longer trusted: {} and {} list only the new one", s.pki_dir.join("ca/bundle.crt").display(), s.pki_dir.join("ca/chain.crt").display()),
        "next: deploy the bundle/chain/CRL and reload every service; the old CA's files stay in ca/retired/ for your records".into(),
    ])
}
