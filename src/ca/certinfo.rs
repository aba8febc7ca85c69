//! Reading certificates back: PEM → DER → the facts secctl compares and
//! reports (serial, validity, names, usages, key identifiers).

use std::net::IpAddr;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

/// What secctl needs to know about one certificate.
#[derive(Clone, Debug)]
pub struct CertInfo {
    /// The DER bytes.
    pub der: CertificateDer<'static>,
    /// Serial, lowercase hex with colons.
    pub serial: String,
    /// Subject DN (RFC 4514-ish).
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Common name, when present.
    pub cn: Option<String>,
    /// Organization, when present.
    pub org: Option<String>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// DNS SANs.
    pub dns: Vec<String>,
    /// IP SANs.
    pub ips: Vec<IpAddr>,
    /// URI SANs.
    pub uris: Vec<String>,
    /// Has EKU serverAuth.
    pub server_auth: bool,
    /// Has EKU clientAuth.
    pub client_auth: bool,
    /// BasicConstraints CA flag.
    pub is_ca: bool,
    /// Subject key identifier, hex.
    pub ski: Option<String>,
    /// Authority key identifier, hex.
    pub aki: Option<String>,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
    /// DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
    /// Permitted DNS subtrees (CA certs).
    pub nc_dns: Vec<String>,
    /// Permitted IP subtrees as `addr/prefix` (CA certs).
    pub nc_ips: Vec<String>,
}

/// Lowercase hex with colons.
pub fn hex_colon(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Reads every certificate in a PEM file. Errors name the file and say what to do.
pub fn read_pem_file(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_pem(&bytes).with_context(|| format!("{} is corrupt", path.display()))
}

/// Parses every certificate in PEM bytes; fails on an empty or damaged file.
pub fn parse_pem(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let mut out = Vec::new();
    for c in CertificateDer::pem_slice_iter(bytes) {
        out.push(c.map_err(|e| anyhow!("damaged PEM ({e})"))?);
    }
    if out.is_empty() {
        bail!("no `-----BEGIN CERTIFICATE-----` block found");
    }
    Ok(out)
}

/// Reads the first certificate of a PEM file and parses it.
pub fn read_cert(path: &Path) -> Result<CertInfo> {
    let ders = read_pem_file(path)?;
    info(&ders[0]).with_context(|| format!("{} is corrupt: its certificate cannot be parsed", path.display()))
}

/// Parses a DER certificate.
pub fn info(der: &CertificateDer<'_>) -> Result<CertInfo> {
    let (rest, x) = X509Certificate::from_der(der.as_ref()).map_err(|e| anyhow!("invalid X.509 DER: {e}"))?;
    if !rest.is_empty() {
        bail!("trailing bytes after the certificate");
    }
    from_parsed(&x, der)
}

fn from_parsed(x: &X509Certificate<'_>, der: &CertificateDer<'_>) -> Result<CertInfo> {
    let ts = |t: i64| OffsetDateTime::from_unix_timestamp(t).map_err(|e| anyhow!("{e}"));
    let mut i = CertInfo {
        der: der.clone().into_owned(),
        serial: hex_colon(x.raw_serial()),
        subject: x.subject().to_string(),
        issuer: x.issuer().to_string(),
        cn: x.subject().iter_common_name().next().and_then(|a| a.as_str().ok()).map(str::to_string),
        org: x.subject().iter_organization().next().and_then(|a| a.as_str().ok()).map(str::to_string),
        not_before: ts(x.validity().not_before.timestamp())?,
        not_after: ts(x.validity().not_after.timestamp())?,
        dns: Vec::new(),
        ips: Vec::new(),
        uris: Vec::new(),
        server_auth: false,
        client_auth: false,
        is_ca: x.is_ca(),
        ski: None,
        aki: None,
        sha256: sha256_hex(der.as_ref()),
        spki: x.public_key().raw.to_vec(),
        nc_dns: Vec::new(),
        nc_ips: Vec::new(),
    };
    for ext in x.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for n in &san.general_names {
                    match n {
                        GeneralName::DNSName(d) => i.dns.push(d.to_string()),
                        GeneralName::URI(u) => i.uris.push(u.to_string()),
                        GeneralName::IPAddress(b) => {
                            if let Some(ip) = ip_from_bytes(b) {
                                i.ips.push(ip)
                            }
                        }
                        _ => {}
                    }
                }
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                i.server_auth = eku.server_auth;
                i.client_auth = eku.client_auth;
            }
            ParsedExtension::SubjectKeyIdentifier(k) => i.ski = Some(hex(k.0)),
            ParsedExtension::AuthorityKeyIdentifier(a) => i.aki = a.key_identifier.as_ref().map(|k| hex(k.0)),
            ParsedExtension::NameConstraints(nc) => {
                for s in nc.permitted_subtrees.iter().flatten() {
                    match &s.base {
                        GeneralName::DNSName(d) => i.nc_dns.push(d.to_string()),
                        GeneralName::IPAddress(b) if b.len() == 8 || b.len() == 32 => {
                            let (a, m) = b.split_at(b.len() / 2);
                            if let Some(ip) = ip_from_bytes(a) {
                                let prefix: u32 = m.iter().map(|x| x.count_ones()).sum();
                                i.nc_ips.push(format!("{ip}/{prefix}"));
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(i)
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}

/// Whether `child` carries a valid signature by `issuer`'s key.
pub fn signed_by(child: &CertificateDer<'_>, issuer: &CertificateDer<'_>) -> bool {
    let (Ok((_, c)), Ok((_, i))) = (X509Certificate::from_der(child.as_ref()), X509Certificate::from_der(issuer.as_ref())) else {
        return false;
    };
    c.verify_signature(Some(i.public_key())).is_ok()
}

/// Whole days from `now` to `t` (negative when past), rounded down.
pub fn days_left(t: OffsetDateTime, now: OffsetDateTime) -> i64 {
    (t - now).whole_days()
}
