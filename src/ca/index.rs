//! `index.json`: the inventory of every CA and leaf certificate the store
//! issued, with revocations and CRL numbers. Written atomically after the
//! files it describes, so after a crash it may lag behind the disk by one
//! certificate; [`super::store`] reconciles that on open.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::Purpose;
use crate::fsutil;

/// The format version written by this secctl.
pub const VERSION: u32 = 1;

/// Which level of the hierarchy a CA certificate is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Self-signed root.
    Root,
    /// Issuing intermediate.
    Intermediate,
}

/// Where a CA certificate is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaState {
    /// Issues (intermediate) or anchors the issuing intermediate (root).
    Active,
    /// Created by `rotate-ca`, trusted but not yet issuing.
    Staged,
    /// Replaced, still trusted until `rotate-ca --finish`.
    Retiring,
    /// No longer trusted.
    Retired,
}

/// A revocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// When (RFC 3339).
    pub at: String,
    /// RFC 5280 reason name, e.g. `key-compromise`.
    pub reason: String,
}

/// One CA certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaRecord {
    /// Root or intermediate.
    pub level: Level,
    /// Serial, lowercase hex with colons.
    pub serial: String,
    /// Subject DN.
    pub subject: String,
    /// Start of validity (RFC 3339).
    pub not_before: String,
    /// End of validity (RFC 3339).
    pub not_after: String,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
    /// Serial of the CA that signed it (itself for a root).
    pub issuer_serial: String,
    /// Subject key identifier, hex (leaves name their issuer by it).
    #[serde(default)]
    pub ski: Option<String>,
    /// Lifecycle state.
    pub state: CaState,
    /// Directory of its files relative to the PKI dir (`ca`, `ca/next`, `ca/retired/<serial>`).
    pub dir: String,
    /// Set when revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revocation>,
}

/// One leaf certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRecord {
    /// Service name.
    pub service: String,
    /// Server or client.
    pub purpose: Purpose,
    /// Serial, lowercase hex with colons.
    pub serial: String,
    /// Start of validity (RFC 3339).
    pub not_before: String,
    /// End of validity (RFC 3339).
    pub not_after: String,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
    /// Serial of the issuing intermediate.
    pub issuer_serial: String,
    /// When it was issued (RFC 3339).
    pub issued_at: String,
    /// Why it was issued (`missing`, `expiring`, `policy-mismatch: ...`, `forced`, ...).
    pub reason: String,
    /// Whether it is the one on disk now (false once renewed).
    pub current: bool,
    /// Set when revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revocation>,
}

/// The whole inventory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Format version.
    pub version: u32,
    /// Every CA certificate, oldest first.
    #[serde(default)]
    pub cas: Vec<CaRecord>,
    /// Every leaf, oldest first.
    #[serde(default)]
    pub certs: Vec<CertRecord>,
    /// Last CRL number per CA serial (CRL numbers must increase).
    #[serde(default)]
    pub crl_numbers: BTreeMap<String, u64>,
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Index { version: VERSION, ..Default::default() }
    }

    /// Reads the index; a missing file is an empty index.
    pub fn load(path: &Path) -> Result<Index> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Index::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let idx: Index = serde_json::from_slice(&bytes).with_context(|| {
            format!("{} is not a valid secctl inventory: restore it from your backup, or move it away and run `secctl certs verify` to see what is on disk", path.display())
        })?;
        if idx.version != VERSION {
            bail!("{} has inventory version {}, this secctl understands {VERSION}: use a matching secctl", path.display(), idx.version);
        }
        idx.check_paths().with_context(|| format!("{} was edited by hand: restore it from your backup", path.display()))?;
        Ok(idx)
    }

    /// Serials and CA directories become file paths (`ca/crls/<serial>.pem`, `<dir>/root.crt`):
    /// a hand-edited inventory must not point them outside the PKI directory.
    fn check_paths(&self) -> Result<()> {
        let serial_ok = |s: &str| !s.is_empty() && s.len() <= 200 && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
        for s in self.cas.iter().map(|c| (&c.serial, &c.issuer_serial)).flat_map(|(a, b)| [a, b]).chain(self.certs.iter().flat_map(|c| [&c.serial, &c.issuer_serial])) {
            if !serial_ok(s) {
                bail!("the serial {s:?} is not hexadecimal with colons");
            }
        }
        for c in &self.cas {
            let ok = c.dir == "ca"
                || c.dir == super::rotate::NEXT
                || c.dir.strip_prefix("ca/retired/").is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_hexdigit()));
            if !ok {
                bail!("the CA directory {:?} is not `ca`, `ca/next` or `ca/retired/<serial>`", c.dir);
            }
        }
        Ok(())
    }

    /// Writes the index atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        fsutil::write_atomic(path, text.as_bytes(), fsutil::PUBLIC)
    }

    /// The CA record with this serial.
    pub fn ca(&self, serial: &str) -> Option<&CaRecord> {
        self.cas.iter().find(|c| c.serial == serial)
    }

    /// CA records at `level` in `state`.
    pub fn cas_in(&self, level: Level, state: CaState) -> impl Iterator<Item = &CaRecord> {
        self.cas.iter().filter(move |c| c.level == level && c.state == state)
    }

    /// The leaf record with this serial.
    pub fn cert_mut(&mut self, serial: &str) -> Option<&mut CertRecord> {
        self.certs.iter_mut().find(|c| c.serial == serial)
    }

    /// The current leaf for a service and purpose.
    pub fn current(&self, service: &str, purpose: Purpose) -> Option<&CertRecord> {
        self.certs.iter().rev().find(|c| c.current && c.service == service && c.purpose == purpose)
    }

    /// Records a newly issued leaf, marking the previous one as superseded.
    pub fn record_leaf(&mut self, rec: CertRecord) {
        for c in self.certs.iter_mut().filter(|c| c.service == rec.service && c.purpose == rec.purpose) {
            c.current = false;
        }
        if let Some(existing) = self.cert_mut(&rec.serial) {
            *existing = rec;
        } else {
            self.certs.push(rec);
        }
    }

    /// The next CRL number for a CA, recorded.
    pub fn next_crl_number(&mut self, ca_serial: &str) -> u64 {
        let n = self.crl_numbers.entry(ca_serial.to_string()).or_insert(0);
        *n += 1;
        *n
    }
}

/// Formats a time as RFC 3339 (UTC, seconds).
pub fn fmt_time(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0).unwrap_or(t).format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Parses an RFC 3339 time.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_edited_inventory_cannot_point_outside_the_pki_directory() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("index.json");
        let ok = r#"{"version":1,"cas":[{"level":"root","serial":"0a:1b","subject":"s","not_before":"t","not_after":"t","sha256":"h","issuer_serial":"0a:1b","state":"active","dir":"ca"}],"certs":[]}"#;
        std::fs::write(&p, ok).unwrap();
        Index::load(&p).unwrap();
        for (from, to) in [(r#""dir":"ca""#, r#""dir":"../../etc""#), (r#""dir":"ca""#, r#""dir":"ca/retired/../../x""#), (r#""serial":"0a:1b""#, r#""serial":"../../x""#)] {
            std::fs::write(&p, ok.replace(from, to)).unwrap();
            let e = format!("{:#}", Index::load(&p).unwrap_err());
            assert!(e.contains("edited by hand") && e.contains("backup"), "{e}");
        }
    }
}
