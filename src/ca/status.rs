//! What state each certificate the policy asks for is in, and therefore
//! whether `issue` must (re-)issue it. `list` reports the same states.

use std::collections::BTreeSet;
use std::fmt;

use rcgen::PublicKeyData as _;
use serde::Serialize;
use time::OffsetDateTime;

use super::certinfo::{self, CertInfo};
use super::index::Index;
use super::keys;
use super::layout::Layout;
use super::settings::{LeafSpec, Settings};
use super::Purpose;

/// The state of one certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    /// Valid, matches the policy, not due.
    Ok,
    /// Not issued yet.
    Missing,
    /// Within renew-before of its expiry.
    Expiring,
    /// Past its notAfter.
    Expired,
    /// Revoked.
    Revoked,
    /// No longer what the policy asks for.
    PolicyMismatch {
        /// What differs.
        detail: String,
    },
    /// Signed by a CA that is no longer the issuing one (after a rotation).
    IssuerChanged,
    /// Unusable files that secctl will not overwrite without `--force`: corrupt PEM, a cert edited by
    /// hand, a key that does not match its cert.
    Damaged {
        /// What is wrong and what to do.
        detail: String,
    },
}

impl Status {
    /// The short name used in tables and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Missing => "missing",
            Status::Expiring => "expiring",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
            Status::PolicyMismatch { .. } => "policy-mismatch",
            Status::IssuerChanged => "issuer-changed",
            Status::Damaged { .. } => "damaged",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::PolicyMismatch { detail } => write!(f, "policy-mismatch: {detail}"),
            Status::Damaged { detail } => write!(f, "damaged: {detail}"),
            Status::Expiring => write!(f, "expiring (within renew_before)"),
            other => f.write_str(other.name()),
        }
    }
}

/// A certificate's state plus the facts shown next to it.
#[derive(Clone, Debug)]
pub struct Assessed {
    /// The state.
    pub status: Status,
    /// The parsed cert, when it could be read.
    pub cert: Option<CertInfo>,
}

/// Assesses one certificate the policy asks for against the disk, the inventory and the issuing CA.
pub fn assess(layout: &Layout, index: &Index, s: &Settings, spec: &LeafSpec, issuing: &CertInfo, trusted_ints: &[CertInfo], now: OffsetDateTime) -> Assessed {
    let crt = layout.leaf_crt(&spec.service, spec.purpose);
    let key = layout.leaf_key(&spec.service, spec.purpose);
    let damaged = |detail: String, cert: Option<CertInfo>| Assessed { status: Status::Damaged { detail }, cert };
    if !crt.exists() {
        if key.exists() {
            return damaged(
                format!("{} exists without {}: secctl never leaves a key alone like that; move it away (or pass --force to replace it)", key.display(), crt.display()),
                None,
            );
        }
        return Assessed { status: Status::Missing, cert: None };
    }
    let cert = match certinfo::read_cert(&crt) {
        Ok(c) => c,
        Err(e) => return damaged(format!("{e:#}; restore it, or pass --force to issue a new one"), None),
    };
    let rec = index.current(&spec.service, spec.purpose);
    if let Some(r) = rec
        && r.sha256 != cert.sha256 && r.serial == cert.serial {
            return damaged(format!("{} was edited by hand (its fingerprint differs from index.json); restore it, or pass --force to issue a new one", crt.display()), Some(cert));
        }
    let issuer = trusted_ints.iter().find(|i| certinfo::signed_by(&cert.der, &i.der));
    let Some(issuer) = issuer else {
        return damaged(
            format!("{} is not signed by this CA (edited by hand or copied from elsewhere); restore it, or pass --force to issue a new one", crt.display()),
            Some(cert),
        );
    };
    match keys::load(&key, || anyhow::bail!("the leaf key is encrypted")) {
        Ok(k) if k.subject_public_key_info() == cert.spki => {}
        Ok(_) => return damaged(format!("{} does not belong to {}; restore the pair, or pass --force to issue a new one", key.display(), crt.display()), Some(cert)),
        Err(e) => return damaged(format!("{e:#}; or pass --force to issue a new one"), Some(cert)),
    }
    if index.certs.iter().any(|r| r.serial == cert.serial && r.revoked.is_some()) {
        return Assessed { status: Status::Revoked, cert: Some(cert) };
    }
    if cert.not_after <= now {
        return Assessed { status: Status::Expired, cert: Some(cert) };
    }
    if let Some(d) = mismatch(s, spec, &cert) {
        return Assessed { status: Status::PolicyMismatch { detail: d }, cert: Some(cert) };
    }
    if issuer.serial != issuing.serial {
        return Assessed { status: Status::IssuerChanged, cert: Some(cert) };
    }
    if certinfo::days_left(cert.not_after, now) < i64::from(s.renew_before_days) {
        return Assessed { status: Status::Expiring, cert: Some(cert) };
    }
    Assessed { status: Status::Ok, cert: Some(cert) }
}

/// What differs between a cert and what the policy asks for, if anything.
pub fn mismatch(s: &Settings, spec: &LeafSpec, c: &CertInfo) -> Option<String> {
    let mut diffs = Vec::new();
    let want_dns: BTreeSet<String> = spec.dns.iter().cloned().collect();
    let have_dns: BTreeSet<String> = c.dns.iter().map(|d| d.to_ascii_lowercase()).collect();
    if want_dns != have_dns {
        diffs.push(set_diff("DNS names", &want_dns, &have_dns));
    }
    let want_ip: BTreeSet<String> = spec.ips.iter().map(|i| i.to_string()).collect();
    let have_ip: BTreeSet<String> = c.ips.iter().map(|i| i.to_string()).collect();
    if want_ip != have_ip {
        diffs.push(set_diff("IPs", &want_ip, &have_ip));
    }
    let want_uri: BTreeSet<String> = spec.uri.iter().cloned().collect();
    let have_uri: BTreeSet<String> = c.uris.iter().cloned().collect();
    if want_uri != have_uri {
        diffs.push(set_diff("URIs", &want_uri, &have_uri));
    }
    if c.cn.as_deref() != Some(spec.service.as_str()) {
        diffs.push(format!("CN is {:?}, want {:?}", c.cn.as_deref().unwrap_or(""), spec.service));
    }
    if c.org.as_deref() != Some(s.organization.as_str()) {
        diffs.push(format!("O is {:?}, want {:?}", c.org.as_deref().unwrap_or(""), s.organization));
    }
    let eku_ok = match spec.purpose {
        Purpose::Server => c.server_auth && !c.client_auth,
        Purpose::Client => c.client_auth && !c.server_auth,
    };
    if !eku_ok {
        diffs.push(format!("EKU is not {} only", spec.purpose.eku()));
    }
    if let Some(alg) = key_alg_of_spki(&c.spki)
        && alg != s.algorithm {
            diffs.push(format!("key is {}, policy says {}", keys::alg_name(alg), keys::alg_name(s.algorithm)));
        }
    (!diffs.is_empty()).then(|| diffs.join("; "))
}

fn set_diff(what: &str, want: &BTreeSet<String>, have: &BTreeSet<String>) -> String {
    let add: Vec<&String> = want.difference(have).collect();
    let del: Vec<&String> = have.difference(want).collect();
    let mut parts = Vec::new();
    if !add.is_empty() {
        parts.push(format!("+{}", add.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")));
    }
    if !del.is_empty() {
        parts.push(format!("-{}", del.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")));
    }
    format!("{what} {}", parts.join(" "))
}

/// The policy key algorithm of a DER SubjectPublicKeyInfo.
pub fn key_alg_of_spki(spki: &[u8]) -> Option<crate::policy::model::KeyAlgorithm> {
    use crate::policy::model::KeyAlgorithm;
    use x509_parser::prelude::FromDer;
    let (_, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki).ok()?;
    let alg = info.algorithm.algorithm.to_id_string();
    let param = info.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
    match (alg.as_str(), param.as_deref()) {
        ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => Some(KeyAlgorithm::EcdsaP256),
        ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => Some(KeyAlgorithm::EcdsaP384),
        ("1.3.101.112", _) => Some(KeyAlgorithm::Ed25519),
        ("1.2.840.113549.1.1.1", _) => Some(KeyAlgorithm::Rsa3072),
        _ => None,
    }
}
