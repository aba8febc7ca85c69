//! Mozilla Server Side TLS guideline 6.0, reduced to what nginx 1.22 with
//! OpenSSL 3.0 (Debian 12) accepts.
//!
//! The guideline data is kept as published and filtered the way Mozilla's own
//! generator (`ssl-config-generator` `state.js`) does, so updating to a newer
//! guideline or OpenSSL is a data change, not a template change.

use serde::Serialize;

use crate::policy::model::TlsProfile;

/// Guideline version the settings come from.
pub const GUIDELINE: &str = "6.0";

/// OpenSSL on the target has the ML-KEM hybrids (3.5+). Debian 12 ships 3.0: `nginx -t` fails with
/// `group 'X25519MLKEM768' cannot be set` if the group is listed.
const OPENSSL_HAS_MLKEM: bool = false;

/// Curves of guideline 6.0 (both profiles), before filtering.
const CURVES: &[&str] = &["X25519MLKEM768", "X25519", "prime256v1", "secp384r1"];

/// Intermediate TLS 1.2 ciphers of guideline 6.0: ECDHE + AEAD only (5.8 dropped DHE, so no dhparam).
const INTERMEDIATE_CIPHERS: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
];

/// nginx TLS settings for one profile, ready for the template.
#[derive(Clone, Debug, Serialize)]
pub struct TlsSettings {
    /// `intermediate` or `modern`.
    pub profile: &'static str,
    /// Mozilla guideline version.
    pub guideline: &'static str,
    /// `ssl_protocols` value.
    pub protocols: String,
    /// `ssl_ciphers` value; `None` for TLS 1.3 only.
    pub ciphers: Option<String>,
    /// `ssl_ecdh_curve` value.
    pub curves: String,
    /// Session cache only helps when TLS 1.2 is enabled.
    pub session_cache: bool,
}

/// The settings for a profile on nginx 1.22 / OpenSSL 3.0.
pub fn settings(profile: TlsProfile) -> TlsSettings {
    let curves: Vec<&str> = CURVES.iter().copied().filter(|c| OPENSSL_HAS_MLKEM || !c.contains("MLKEM")).collect();
    match profile {
        TlsProfile::Intermediate => TlsSettings {
            profile: "intermediate",
            guideline: GUIDELINE,
            protocols: "TLSv1.2 TLSv1.3".into(),
            ciphers: Some(INTERMEDIATE_CIPHERS.join(":")),
            curves: curves.join(":"),
            session_cache: true,
        },
        TlsProfile::Modern => TlsSettings {
            profile: "modern",
            guideline: GUIDELINE,
            protocols: "TLSv1.3".into(),
            ciphers: None,
            curves: curves.join(":"),
            session_cache: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlkem_is_filtered_for_openssl_3_0() {
        for p in [TlsProfile::Intermediate, TlsProfile::Modern] {
            let s = settings(p);
            assert_eq!(s.curves, "X25519:prime256v1:secp384r1");
        }
    }

    #[test]
    fn intermediate_has_no_dhe_or_cbc() {
        let s = settings(TlsProfile::Intermediate);
        let c = s.ciphers.unwrap();
        for cipher in c.split(':') {
            assert!(cipher.starts_with("ECDHE-") && (cipher.contains("GCM") || cipher.contains("CHACHA20")), "{cipher}");
        }
        assert_eq!(settings(TlsProfile::Modern).protocols, "TLSv1.3");
    }
}
