//! `secctl certs verify`: re-parse every file of the store with x509-parser
//! and validate every leaf chain with rustls-webpki against the trust bundle,
//! the chain file and the CRLs (as nginx would, with CRLs at every level).

use std::path::{Path, PathBuf};

use anyhow::Result;
use rcgen::PublicKeyData as _;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Serialize;
use time::OffsetDateTime;
use webpki::{CertRevocationList, EndEntityCert, ExpirationPolicy, KeyUsage, OwnedCertRevocationList, RevocationCheckDepth, RevocationOptionsBuilder, UnknownStatusPolicy};

use super::certinfo::{self, CertInfo};
use super::index::fmt_time;
use super::settings::Settings;
use super::store::Store;
use super::{crl, keys, Purpose};

/// One problem found.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The file.
    pub file: PathBuf,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub hint: String,
}

/// What `verify` looked at and found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Files parsed.
    pub files_checked: usize,
    /// Leaf chains validated.
    pub chains_validated: usize,
    /// Problems.
    pub findings: Vec<Finding>,
}

struct Ctx {
    report: VerifyReport,
}

impl Ctx {
    fn find(&mut self, file: &Path, problem: impl Into<String>, hint: impl Into<String>) {
        self.report.findings.push(Finding { file: file.to_path_buf(), problem: problem.into(), hint: hint.into() });
    }
    fn certs(&mut self, file: &Path) -> Vec<CertificateDer<'static>> {
        self.report.files_checked += 1;
        match certinfo::read_pem_file(file) {
            Ok(v) => {
                for d in &v {
                    if let Err(e) = certinfo::info(d) {
                        self.find(file, format!("a certificate cannot be parsed: {e:#}"), "restore the file from your backup, or run `secctl certs issue --force`");
                    }
                }
                v
            }
            Err(e) => {
                self.find(file, format!("{e:#}"), "restore the file from your backup, or run `secctl certs issue --force`");
                Vec::new()
            }
        }
    }
}

/// Verifies the whole store. Never writes anything except crash recovery done by opening the store.
pub fn run(s: &Settings) -> Result<VerifyReport> {
    let now = OffsetDateTime::now_utc();
    let store = Store::open(&s.pki_dir, false)?;
    let l = &store.layout;
    let mut cx = Ctx { report: VerifyReport::default() };

    let roots = cx.certs(&l.bundle());
    let chain = cx.certs(&l.chain());
    let root_crt = cx.certs(&l.root_crt());
    let int_crt = cx.certs(&l.int_crt());
    for (file, c) in [(l.root_crt(), root_crt.first()), (l.int_crt(), int_crt.first())] {
        let Some(c) = c else { continue };
        if let Ok(i) = certinfo::info(c) {
            if i.not_after <= now {
                cx.find(&file, format!("the CA certificate expired on {}", fmt_time(i.not_after)), "run `secctl certs rotate-ca stage` (see docs/ca.md)");
            } else if certinfo::days_left(i.not_after, now) < i64::from(s.leaf_days) {
                cx.find(&file, format!("the CA certificate expires on {}, before a new leaf would", fmt_time(i.not_after)), "rotate it now: `secctl certs rotate-ca stage` (see docs/ca.md)");
            }
        }
    }
    if let (Some(r), true) = (root_crt.first(), !roots.is_empty())
        && !roots.iter().any(|b| b == r) {
            cx.find(&l.bundle(), "the trust bundle does not contain ca/root.crt", "run `secctl certs issue` to rewrite the derived files");
        }
    for (crt, key) in [(l.root_crt(), l.root_key()), (l.int_crt(), l.int_key())] {
        cx.report.files_checked += 1;
        let Ok(c) = certinfo::read_cert(&crt) else { continue };
        let pem = std::fs::read_to_string(&key).unwrap_or_default();
        if keys::is_encrypted(&pem) {
            continue; // Checking it would need the passphrase; the encrypted structure is checked when used.
        }
        match keys::load(&key, || anyhow::bail!("encrypted")) {
            Ok(k) if k.subject_public_key_info() == c.spki => {}
            Ok(_) => cx.find(&key, format!("the key does not belong to {}", crt.display()), "restore the pair from the same backup"),
            Err(e) => cx.find(&key, format!("{e:#}"), "restore it from your backup"),
        }
    }
    check_mode(&mut cx, &l.root_key());
    check_mode(&mut cx, &l.int_key());

    // CRLs: parse, check signatures against the CA that issued them, check nextUpdate.
    cx.report.files_checked += 1;
    let crl_bytes = std::fs::read(l.crl()).unwrap_or_default();
    let mut crls: Vec<CertRevocationList<'static>> = Vec::new();
    {
        use rustls_pki_types::pem::PemObject;
        let cas: Vec<CertInfo> = chain.iter().filter_map(|d| certinfo::info(d).ok()).collect();
        let mut n = 0;
        for item in rustls_pki_types::CertificateRevocationListDer::pem_slice_iter(&crl_bytes) {
            n += 1;
            let der = match item {
                Ok(d) => d,
                Err(e) => {
                    cx.find(&l.crl(), format!("damaged PEM: {e}"), "run `secctl certs issue` to re-sign the CRLs");
                    continue;
                }
            };
            match crl::parse_der(der.as_ref()) {
                Ok(info) => {
                    if info.next_update.is_some_and(|t| t <= now) {
                        cx.find(&l.crl(), format!("the CRL of {} expired on {} (nginx rejects every client while it is expired)", info.issuer, fmt_time(info.next_update.unwrap_or(now))), "run `secctl certs issue` to re-sign it");
                    }
                    if !cas.iter().any(|c| c.subject == info.issuer) {
                        cx.find(&l.crl(), format!("a CRL was issued by {}, which is not in the chain", info.issuer), "run `secctl certs issue` to rewrite the derived files");
                    }
                }
                Err(e) => cx.find(&l.crl(), format!("a CRL cannot be parsed: {e:#}"), "run `secctl certs issue` to re-sign the CRLs"),
            }
            match OwnedCertRevocationList::from_der(der.as_ref()) {
                Ok(c) => crls.push(c.into()),
                Err(e) => cx.find(&l.crl(), format!("rustls-webpki rejects a CRL: {e:?}"), "run `secctl certs issue` to re-sign the CRLs"),
            }
        }
        if n < cas.len() {
            cx.find(&l.crl(), format!("{} CRL(s) for {} CA certificate(s): nginx's ssl_crl needs one per CA", n, cas.len()), "run `secctl certs issue` to re-sign the CRLs");
        }
    }

    let anchors: Vec<_> = roots.iter().filter_map(|r| webpki::anchor_from_trusted_cert(r).ok().map(|a| a.to_owned())).collect();
    let intermediates: Vec<CertificateDer<'static>> = chain.iter().filter(|c| !roots.contains(c)).cloned().collect();
    let crl_refs: Vec<&CertRevocationList<'_>> = crls.iter().collect();
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(now.unix_timestamp().max(0) as u64));

    for spec in &s.leaves {
        let crt = l.leaf_crt(&spec.service, spec.purpose);
        let full = l.leaf_fullchain(&spec.service, spec.purpose);
        let key = l.leaf_key(&spec.service, spec.purpose);
        if !crt.exists() {
            cx.find(&crt, "missing", "run `secctl certs issue`");
            continue;
        }
        let leaf = cx.certs(&crt);
        let fullchain = cx.certs(&full);
        let Some(leaf) = leaf.first().cloned() else { continue };
        if fullchain.first() != Some(&leaf) {
            cx.find(&full, format!("does not start with {}", crt.display()), "run `secctl certs issue --force` to rewrite it");
        }
        if fullchain.len() < 2 {
            cx.find(&full, "has no intermediate after the leaf", "run `secctl certs issue --force` to rewrite it");
        }
        cx.report.files_checked += 1;
        let info = certinfo::info(&leaf).ok();
        match keys::load(&key, || anyhow::bail!("the leaf key is encrypted")) {
            Ok(k) if info.as_ref().is_some_and(|i| i.spki == k.subject_public_key_info()) => {}
            Ok(_) => cx.find(&key, format!("does not belong to {}", crt.display()), "run `secctl certs issue --force`"),
            Err(e) => cx.find(&key, format!("{e:#}"), "run `secctl certs issue --force`"),
        }
        check_mode(&mut cx, &key);
        if let Some(i) = &info {
            if let Some(r) = store.index.current(&spec.service, spec.purpose) {
                if r.sha256 != i.sha256 {
                    cx.find(&crt, "differs from the certificate recorded in index.json (edited or replaced by hand)", "restore it, or run `secctl certs issue --force`");
                }
            } else {
                cx.find(&crt, "is not recorded in index.json", "run `secctl certs issue` to reconcile");
            }
        }
        let ee = match EndEntityCert::try_from(&leaf) {
            Ok(e) => e,
            Err(e) => {
                cx.find(&crt, format!("rustls-webpki cannot parse it: {e:?}"), "run `secctl certs issue --force`");
                continue;
            }
        };
        let usage = match spec.purpose {
            Purpose::Server => KeyUsage::server_auth(),
            Purpose::Client => KeyUsage::client_auth(),
        };
        let revocation = RevocationOptionsBuilder::new(&crl_refs).ok().map(|b| {
            b.with_depth(RevocationCheckDepth::Chain).with_status_policy(UnknownStatusPolicy::Deny).with_expiration_policy(ExpirationPolicy::Enforce).build()
        });
        cx.report.chains_validated += 1;
        if let Err(e) = ee.verify_for_usage(webpki::ALL_VERIFICATION_ALGS, &anchors, &intermediates, time, usage, revocation, None) {
            let hint = match e {
                webpki::Error::CertRevoked => "it is revoked: run `secctl certs issue` to give the service a new certificate",
                webpki::Error::CertExpired { .. } => "it expired: run `secctl certs issue`",
                _ => "run `secctl certs issue --force` to re-issue it",
            };
            cx.find(&crt, format!("chain validation failed ({}): {e}", spec.purpose.eku()), hint);
            continue;
        }
        if spec.purpose == Purpose::Server {
            let names = spec.dns.iter().cloned().chain(spec.ips.iter().map(|i| i.to_string()));
            for n in names {
                if let Ok(sn) = ServerName::try_from(n.as_str())
                    && ee.verify_is_valid_for_subject_name(&sn).is_err() {
                        cx.find(&crt, format!("not valid for `{n}`"), "run `secctl certs issue` (the SANs differ from the policy)");
                    }
            }
        }
    }
    Ok(cx.report)
}

fn check_mode(cx: &mut Ctx, key: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(key) {
        let mode = m.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            cx.find(key, format!("private key has mode {mode:o}; other users can read it"), format!("chmod 600 {}", key.display()));
        }
    }
}
