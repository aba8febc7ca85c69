//! `secctl certs inspect FILE`: a readable dump of the certificates (and CRLs) in a PEM file.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use time::OffsetDateTime;

use super::certinfo::{self, CertInfo};
use super::index::fmt_time;
use super::{crl, keys, status};

/// One certificate, as shown.
#[derive(Clone, Debug, Serialize)]
pub struct CertView {
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial.
    pub serial: String,
    /// notBefore.
    pub not_before: String,
    /// notAfter.
    pub not_after: String,
    /// Days left (negative when expired).
    pub days_left: i64,
    /// Key algorithm (policy name) when recognised.
    pub key_algorithm: Option<&'static str>,
    /// CA flag.
    pub is_ca: bool,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// IP SANs.
    pub ips: Vec<String>,
    /// URI SANs.
    pub uris: Vec<String>,
    /// Extended key usages.
    pub extended_key_usage: Vec<&'static str>,
    /// Permitted name-constraint subtrees.
    pub name_constraints: Vec<String>,
    /// Subject key identifier.
    pub subject_key_id: Option<String>,
    /// Authority key identifier.
    pub authority_key_id: Option<String>,
    /// SHA-256 fingerprint of the DER.
    pub sha256: String,
}

/// One CRL, as shown.
#[derive(Clone, Debug, Serialize)]
pub struct CrlView {
    /// Issuer DN.
    pub issuer: String,
    /// thisUpdate.
    pub this_update: String,
    /// nextUpdate.
    pub next_update: Option<String>,
    /// Revoked serials.
    pub revoked: Vec<String>,
}

/// Everything in the file.
#[derive(Clone, Debug, Serialize)]
pub struct Dump {
    /// Certificates, in file order.
    pub certificates: Vec<CertView>,
    /// CRLs, in file order.
    pub crls: Vec<CrlView>,
}

fn view(c: &CertInfo, now: OffsetDateTime) -> CertView {
    let mut eku = Vec::new();
    if c.server_auth {
        eku.push("serverAuth");
    }
    if c.client_auth {
        eku.push("clientAuth");
    }
    CertView {
        subject: c.subject.clone(),
        issuer: c.issuer.clone(),
        serial: c.serial.clone(),
        not_before: fmt_time(c.not_before),
        not_after: fmt_time(c.not_after),
        days_left: certinfo::days_left(c.not_after, now),
        key_algorithm: status::key_alg_of_spki(&c.spki).map(keys::alg_name),
        is_ca: c.is_ca,
        dns_names: c.dns.clone(),
        ips: c.ips.iter().map(|i| i.to_string()).collect(),
        uris: c.uris.clone(),
        extended_key_usage: eku,
        name_constraints: c.nc_dns.iter().map(|d| format!("DNS:{d}")).chain(c.nc_ips.iter().map(|i| format!("IP:{i}"))).collect(),
        subject_key_id: c.ski.clone(),
        authority_key_id: c.aki.clone(),
        sha256: c.sha256.clone(),
    }
}

/// Reads a PEM file with certificates and/or CRLs.
pub fn dump(path: &Path) -> Result<Dump> {
    use rustls_pki_types::pem::PemObject;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let now = OffsetDateTime::now_utc();
    let mut certificates = Vec::new();
    for d in rustls_pki_types::CertificateDer::pem_slice_iter(&bytes) {
        let d = d.map_err(|e| anyhow::anyhow!("{} is corrupt: damaged PEM ({e})", path.display()))?;
        let info = certinfo::info(&d).with_context(|| format!("{} is corrupt", path.display()))?;
        certificates.push(view(&info, now));
    }
    let mut crls = Vec::new();
    for d in rustls_pki_types::CertificateRevocationListDer::pem_slice_iter(&bytes) {
        let d = d.map_err(|e| anyhow::anyhow!("{} is corrupt: damaged PEM ({e})", path.display()))?;
        let c = crl::parse_der(d.as_ref()).with_context(|| format!("{} is corrupt", path.display()))?;
        crls.push(CrlView { issuer: c.issuer, this_update: fmt_time(c.this_update), next_update: c.next_update.map(fmt_time), revoked: c.revoked });
    }
    if certificates.is_empty() && crls.is_empty() {
        bail!("{} holds no PEM certificate or CRL", path.display());
    }
    Ok(Dump { certificates, crls })
}

/// Human rendering.
pub fn render(d: &Dump) -> String {
    let mut out = String::new();
    for (i, c) in d.certificates.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut line = |k: &str, v: String| {
            if !v.is_empty() {
                // Certificate fields are foreign input: a CN may carry an ESC sequence.
                out.push_str(&format!("{k:<20} {}\n", crate::diag::escape::terminal(&v)));
            }
        };
        line("Subject", c.subject.clone());
        line("Issuer", c.issuer.clone());
        line("Serial", c.serial.clone());
        line("Valid", format!("{} → {} ({} days left)", c.not_before, c.not_after, c.days_left));
        line("Key", c.key_algorithm.unwrap_or("other").to_string());
        line("CA", if c.is_ca { "yes".into() } else { "no".into() });
        line("DNS names", c.dns_names.join(", "));
        line("IPs", c.ips.join(", "));
        line("URIs", c.uris.join(", "));
        line("Extended key usage", c.extended_key_usage.join(", "));
        line("Name constraints", c.name_constraints.join(", "));
        line("Subject key ID", c.subject_key_id.clone().unwrap_or_default());
        line("Authority key ID", c.authority_key_id.clone().unwrap_or_default());
        line("SHA-256", c.sha256.clone());
    }
    for c in &d.crls {
        out.push_str(&format!(
            "\nCRL of {}\n  this update {}, next update {}\n  revoked: {}\n",
            crate::diag::escape::terminal(&c.issuer),
            c.this_update,
            c.next_update.as_deref().unwrap_or("-"),
            if c.revoked.is_empty() { "none".to_string() } else { c.revoked.join(", ") }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_a_foreign_certificate_are_shown_escaped() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec!["ok.example".to_string()]).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, "evil\u{1b}[2K\u{1b}]0;t\u{7}\u{202e}name");
        let cert = p.self_signed(&key).unwrap();
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("c.pem");
        std::fs::write(&f, cert.pem()).unwrap();
        let out = render(&dump(&f).unwrap());
        assert!(!out.chars().any(crate::diag::escape::is_unsafe), "{out:?}");
        assert!(out.contains("evil\\u{1b}[2K"), "{out}");
    }
}
