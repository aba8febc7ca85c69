//! Building CA and leaf certificates with every field set explicitly (rcgen's
//! defaults are unsafe for a CA: 1975–4096 validity, key-derived serials, no
//! AKI, no SKI/BasicConstraints on leaves) and loading the issuing CA.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, NameConstraints, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use time::{Duration, OffsetDateTime};
use rcgen::PublicKeyData as _;

use super::certinfo::{self, CertInfo};
use super::keys;
use super::settings::{LeafSpec, Settings};
use super::Purpose;

/// Certificates start this long before "now" so that hosts with a slightly slow clock accept them.
pub const BACKDATE: Duration = Duration::minutes(5);

/// A fresh serial: 16 random bytes (127 bits of entropy, MSB cleared so the INTEGER stays positive).
pub fn random_serial() -> Result<SerialNumber> {
    let mut b = [0u8; 16];
    SystemRandom::new().fill(&mut b).map_err(|_| anyhow!("the system random generator failed"))?;
    b[0] &= 0x7f;
    if b[0] == 0 {
        // Keep a fixed length of 16 bytes in DER (a leading zero octet would be stripped).
        b[0] = 0x01;
    }
    Ok(SerialNumber::from_slice(&b))
}

/// The validity window `[now - BACKDATE, min(now + days, cap)]`, whole seconds.
///
/// Total: a window that would end after 9999-12-31 (the last date X.509 GeneralizedTime and the
/// `time` crate can carry) is an error for an uncapped (root) window, and is cut to `cap` otherwise.
pub fn window(now: OffsetDateTime, days: u32, cap: Option<OffsetDateTime>, what: &str) -> Result<(OffsetDateTime, OffsetDateTime)> {
    let nb = now.checked_sub(BACKDATE).ok_or_else(|| anyhow!("the system clock ({now}) is out of range: fix the clock"))?;
    let na = match (now.checked_add(Duration::days(days.into())), cap) {
        (Some(end), Some(cap)) => end.min(cap),
        (None, Some(cap)) => cap,
        (Some(end), None) => end,
        (None, None) => bail!(
            "a {what} validity of {days} days from {} ends after 9999-12-31, the last date a certificate can carry: \
             lower `ca.{what}_validity_days` in the policy (and run `secctl check`)",
            super::index::fmt_time(now)
        ),
    };
    Ok((nb.replace_nanosecond(0).unwrap_or(nb), na.replace_nanosecond(0).unwrap_or(na)))
}

fn dn(org: &str, cn: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::OrganizationName, org);
    d.push(DnType::CommonName, cn);
    d
}

fn base(serial: SerialNumber, nb: OffsetDateTime, na: OffsetDateTime, subject: DistinguishedName) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.serial_number = Some(serial);
    p.not_before = nb;
    p.not_after = na;
    p.distinguished_name = subject;
    p.key_identifier_method = rcgen::KeyIdMethod::Sha256;
    p
}

/// A CA name: project, level and creation date, plus a short random tag so rotated CAs never share a subject.
fn ca_cn(s: &Settings, what: &str, now: OffsetDateTime, serial: &SerialNumber) -> String {
    let tag: String = certinfo::hex(&serial.to_bytes()[..3]);
    format!("{} {what} {:04}-{:02}-{:02} {tag}", s.project, now.year(), now.month() as u8, now.day())
}

/// A self-signed root: CA, pathlen 1, keyCertSign + cRLSign, SKI.
pub fn make_root(s: &Settings, now: OffsetDateTime) -> Result<(KeyPair, rcgen::Certificate, CertificateParams)> {
    let key = keys::generate(s.algorithm)?;
    let serial = random_serial()?;
    let (nb, na) = window(now, s.root_days, None, "root")?;
    let cn = ca_cn(s, "Root CA", now, &serial);
    let mut p = base(serial, nb, na, dn(&s.organization, &cn));
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = p.self_signed(&key).context("cannot sign the root certificate")?;
    Ok((key, cert, p))
}

/// An intermediate signed by `root`: CA, pathlen 0, name-constrained, AKI + SKI.
pub fn make_intermediate(s: &Settings, now: OffsetDateTime, root: &Issuer<'_, KeyPair>, root_not_after: OffsetDateTime) -> Result<(KeyPair, rcgen::Certificate)> {
    let key = keys::generate(s.algorithm)?;
    let serial = random_serial()?;
    let (nb, na) = window(now, s.intermediate_days, Some(root_not_after), "intermediate")?;
    let cn = ca_cn(s, "Issuing CA", now, &serial);
    let mut p = base(serial, nb, na, dn(&s.organization, &cn));
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.use_authority_key_identifier_extension = true;
    if !s.constraints.is_empty() {
        // DNS and IP only: rcgen cannot encode URI subtrees, and rustls-webpki fails closed on them.
        let mut permitted: Vec<GeneralSubtree> = s.constraints.dns.iter().map(|d| GeneralSubtree::DnsName(d.clone())).collect();
        permitted.extend(s.constraints.ips.iter().map(|c| GeneralSubtree::IpAddress(rcgen::CidrSubnet::from_addr_prefix(c.addr, c.prefix))));
        p.name_constraints = Some(NameConstraints { permitted_subtrees: permitted, excluded_subtrees: Vec::new() });
    }
    let cert = p.signed_by(&key, root).context("cannot sign the intermediate certificate")?;
    Ok((key, cert))
}

/// Leaf parameters: CN = service, O = organization, EKU by purpose, digitalSignature only
/// (keyEncipherment on an EC key is an error per RFC 5480), SKI + AKI, CA:FALSE.
pub fn leaf_params(s: &Settings, spec: &LeafSpec, now: OffsetDateTime, cap: OffsetDateTime) -> Result<CertificateParams> {
    let (nb, na) = window(now, s.leaf_days, Some(cap), "leaf")?;
    let mut p = base(random_serial()?, nb, na, dn(&s.organization, &spec.service));
    p.is_ca = IsCa::ExplicitNoCa;
    p.use_authority_key_identifier_extension = true;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    match spec.purpose {
        Purpose::Server => {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            for d in &spec.dns {
                p.subject_alt_names.push(SanType::DnsName(d.clone().try_into().map_err(|e| anyhow!("DNS name `{d}`: {e}"))?));
            }
            p.subject_alt_names.extend(spec.ips.iter().map(|ip| SanType::IpAddress(*ip)));
        }
        Purpose::Client => {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            if let Some(u) = &spec.uri {
                p.subject_alt_names.push(SanType::URI(u.clone().try_into().map_err(|e| anyhow!("URI `{u}`: {e}"))?));
            }
        }
    }
    Ok(p)
}

/// The issuing intermediate, loaded from disk and checked.
pub struct Authority {
    /// The intermediate certificate.
    pub int: CertInfo,
    /// Its PEM (for full chains).
    pub int_pem: String,
    /// The root that signed it.
    pub root: CertInfo,
    /// Signer for leaves.
    pub issuer: Issuer<'static, KeyPair>,
}

/// Loads `dir/intermediate.{crt,key}` and `dir/root.crt`, checking that they belong together and are in date.
pub fn load(dir: &Path, now: OffsetDateTime) -> Result<Authority> {
    let int_path = dir.join("intermediate.crt");
    let key_path = dir.join("intermediate.key");
    let root_path = dir.join("root.crt");
    for p in [&root_path, &int_path, &key_path] {
        if !p.exists() {
            bail!(
                "the CA is incomplete: {} is missing. Restore the `ca/` directory from your backup; \
                 only if the CA is lost for good, move the PKI directory away and run `secctl certs init` (every service then needs the new bundle)",
                p.display()
            );
        }
    }
    let root = certinfo::read_cert(&root_path).context("restore ca/root.crt from your backup")?;
    let int_pem = std::fs::read_to_string(&int_path).with_context(|| format!("cannot read {}", int_path.display()))?;
    let int = certinfo::read_cert(&int_path).context("restore ca/intermediate.crt from your backup")?;
    if !int.is_ca || !root.is_ca {
        bail!("{} or {} is not a CA certificate: was it replaced by hand? Restore the `ca/` directory from your backup", root_path.display(), int_path.display());
    }
    if !certinfo::signed_by(&int.der, &root.der) {
        bail!(
            "{} is not signed by {}: one of them was replaced or edited by hand. Restore both from the same backup",
            int_path.display(),
            root_path.display()
        );
    }
    if root.not_after <= now {
        bail!("the root CA {} expired on {}: run `secctl certs rotate-ca --root` (see docs/ca.md)", root_path.display(), super::index::fmt_time(root.not_after));
    }
    if int.not_after <= now {
        bail!(
            "the intermediate CA {} expired on {}: run `secctl certs rotate-ca --intermediate` (see docs/ca.md)",
            int_path.display(),
            super::index::fmt_time(int.not_after)
        );
    }
    let key = keys::load(&key_path, || bail!("{} is encrypted; the issuing key must be stored unencrypted (0600)", key_path.display()))?;
    if key.subject_public_key_info() != int.spki {
        bail!("{} does not belong to {}: restore the pair from the same backup", key_path.display(), int_path.display());
    }
    let issuer = Issuer::from_ca_cert_der(&int.der, key).map_err(|e| anyhow!("cannot use {} as an issuer: {e}", int_path.display()))?;
    Ok(Authority { int, int_pem, root, issuer })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn windows_past_year_9999_are_errors_or_capped_never_panics() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let err = window(now, u32::MAX, None, "root").unwrap_err().to_string();
        assert!(err.contains("9999-12-31") && err.contains("ca.root_validity_days"), "{err}");
        // 2026 + 3,000,000 days (year 10239) is past 9999 too: still an error, not a panic.
        assert!(window(now, 3_000_000, None, "root").is_err());
        // A capped window never outlives its cap, even when `now + days` is out of range.
        let cap = datetime!(2030-01-01 0:00 UTC);
        assert_eq!(window(now, u32::MAX, Some(cap), "leaf").unwrap().1, cap);
        let (nb, na) = window(now, 10, None, "root").unwrap();
        assert_eq!((nb, na), (now - BACKDATE, now + Duration::days(10)));
        // The clock at the very end of time: the window is refused (or capped), never a panic.
        let end = datetime!(9999-12-31 23:59:59 UTC);
        assert!(window(end, 1, None, "root").is_err());
    }
}
