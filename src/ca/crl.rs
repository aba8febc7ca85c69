//! CRLs for every CA level. nginx's `ssl_crl` turns on CRL_CHECK_ALL, which
//! rejects a chain when any CA in it lacks a CRL, so the root signs one (for
//! intermediates) and every intermediate signs one (for leaves).

use anyhow::{anyhow, bail, Result};
use rcgen::{CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, RevocationReason, RevokedCertParams, SerialNumber};
use time::{Duration, OffsetDateTime};

use super::index::{fmt_time, parse_time, Revocation};

/// Validity of a CRL signed by an intermediate (online key): refreshed by every `issue` in its last third.
pub const LEAF_CRL_DAYS: i64 = 30;
/// Validity of a CRL signed by the root (offline key): refreshed in its last 90 days.
pub const ROOT_CRL_DAYS: i64 = 365;

/// The reasons `secctl certs revoke --reason` accepts (RFC 5280 §5.3.1 names in kebab case).
pub const REASONS: &[&str] =
    &["unspecified", "key-compromise", "ca-compromise", "affiliation-changed", "superseded", "cessation-of-operation", "privilege-withdrawn"];

/// Parses a reason name.
pub fn reason(name: &str) -> Result<RevocationReason> {
    Ok(match name {
        "unspecified" => RevocationReason::Unspecified,
        "key-compromise" => RevocationReason::KeyCompromise,
        "ca-compromise" => RevocationReason::CaCompromise,
        "affiliation-changed" => RevocationReason::AffiliationChanged,
        "superseded" => RevocationReason::Superseded,
        "cessation-of-operation" => RevocationReason::CessationOfOperation,
        "privilege-withdrawn" => RevocationReason::PrivilegeWithdrawn,
        other => bail!("unknown revocation reason `{other}`; use one of: {}", REASONS.join(", ")),
    })
}

/// Parses `aa:bb:..` into serial bytes.
pub fn serial_bytes(s: &str) -> Result<Vec<u8>> {
    s.split(':').map(|h| u8::from_str_radix(h, 16).map_err(|_| anyhow!("bad serial `{s}`"))).collect()
}

/// Signs a CRL listing `revoked` (serial, revocation).
pub fn sign(issuer: &Issuer<'_, KeyPair>, number: u64, revoked: &[(String, Revocation)], now: OffsetDateTime, days: i64, cap: OffsetDateTime) -> Result<String> {
    let mut list = Vec::new();
    for (serial, r) in revoked {
        list.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&serial_bytes(serial)?),
            revocation_time: parse_time(&r.at).unwrap_or(now).replace_nanosecond(0).unwrap_or(now),
            reason_code: Some(reason(&r.reason)?),
            invalidity_date: None,
        });
    }
    let this = (now - Duration::minutes(5)).replace_nanosecond(0).unwrap_or(now);
    let next = (now + Duration::days(days)).min(cap).replace_nanosecond(0).unwrap_or(now);
    if next <= this {
        bail!("the CA expires before a CRL could be valid (cap {})", fmt_time(cap));
    }
    let params = CertificateRevocationListParams {
        this_update: this,
        next_update: next,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs: list,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let crl = params.signed_by(issuer).map_err(|e| anyhow!("cannot sign the CRL: {e}"))?;
    crl.pem().map_err(|e| anyhow!("cannot encode the CRL: {e}"))
}

/// Facts about a CRL file that decide whether it must be re-signed.
#[derive(Clone, Debug)]
pub struct CrlInfo {
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate.
    pub next_update: Option<OffsetDateTime>,
    /// Revoked serials (hex with colons).
    pub revoked: Vec<String>,
    /// Issuer DN.
    pub issuer: String,
    /// DER.
    pub der: Vec<u8>,
}

/// Parses the first CRL in PEM text.
pub fn parse(pem_text: &[u8]) -> Result<CrlInfo> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateRevocationListDer::pem_slice_iter(pem_text)
        .next()
        .ok_or_else(|| anyhow!("no `-----BEGIN X509 CRL-----` block"))?
        .map_err(|e| anyhow!("damaged PEM ({e})"))?;
    parse_der(der.as_ref())
}

/// Parses a DER CRL.
pub fn parse_der(der: &[u8]) -> Result<CrlInfo> {
    use x509_parser::prelude::FromDer;
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(der).map_err(|e| anyhow!("invalid CRL: {e}"))?;
    let ts = |t: i64| OffsetDateTime::from_unix_timestamp(t).map_err(|e| anyhow!("{e}"));
    Ok(CrlInfo {
        this_update: ts(crl.last_update().timestamp())?,
        next_update: crl.next_update().map(|t| ts(t.timestamp())).transpose()?,
        revoked: crl.iter_revoked_certificates().map(|r| super::certinfo::hex_colon(r.raw_serial())).collect(),
        issuer: crl.issuer().to_string(),
        der: der.to_vec(),
    })
}

/// Whether a CRL is in its last `fraction` of life (or past it).
pub fn due(info: &CrlInfo, now: OffsetDateTime, fraction_left: f64) -> bool {
    match info.next_update {
        None => true,
        Some(n) => {
            let total = (n - info.this_update).as_seconds_f64().max(1.0);
            (n - now).as_seconds_f64() < total * fraction_left
        }
    }
}
