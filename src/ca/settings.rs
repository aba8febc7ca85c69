//! The CA settings a run works with: the policy's `ca` section with defaults
//! applied, paths resolved and name constraints parsed.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};

use crate::diag::Diagnostic;
use crate::policy::model::{KeyAlgorithm, SecretRef};
use crate::policy::{LoadedPolicy, Span};

/// A permitted IP subtree: network address and prefix length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// Network address (host bits cleared).
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8` or `fd00::/8`. Host bits must be zero.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = s.split_once('/').ok_or_else(|| format!("`{s}` is not in CIDR notation (address/prefix)"))?;
        let addr: IpAddr = a.parse().map_err(|_| format!("`{a}` is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = p.parse().ok().filter(|p| *p <= max).ok_or_else(|| format!("`{p}` is not a prefix length (0-{max})"))?;
        let c = Cidr { addr, prefix };
        if c.network() != addr {
            return Err(format!("`{s}` has host bits set; did you mean `{}/{prefix}`?", c.network()));
        }
        Ok(c)
    }

    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(v) => {
                let m = if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix) };
                IpAddr::V4((u32::from(v) & m).into())
            }
            IpAddr::V6(v) => {
                let m = if self.prefix == 0 { 0 } else { u128::MAX << (128 - self.prefix) };
                IpAddr::V6((u128::from(v) & m).into())
            }
        }
    }

    /// Whether `ip` is inside this subtree.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && Cidr { addr: ip, prefix: self.prefix }.network() == self.addr
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Whether `name` is `domain` or a subdomain of it (RFC 5280 §4.2.1.10 dNSName matching).
pub fn dns_within(name: &str, domain: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    name == domain || name.strip_suffix(&domain).is_some_and(|rest| rest.ends_with('.'))
}

/// The intermediate's permitted subtrees.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Constraints {
    /// Permitted DNS subtrees.
    pub dns: Vec<String>,
    /// Permitted IP subtrees.
    pub ips: Vec<Cidr>,
}

impl Constraints {
    /// Whether a DNS name is permitted (no DNS constraint means any).
    pub fn permits_dns(&self, name: &str) -> bool {
        self.dns.is_empty() && self.ips.is_empty() || self.dns.iter().any(|d| dns_within(name, d))
    }
    /// Whether an IP is permitted.
    pub fn permits_ip(&self, ip: IpAddr) -> bool {
        self.dns.is_empty() && self.ips.is_empty() || self.ips.iter().any(|c| c.contains(ip))
    }
    /// Whether there are any constraints at all.
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.ips.is_empty()
    }
}

/// One certificate a service needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafSpec {
    /// Service name (CN, SPIFFE path).
    pub service: String,
    /// Server or client.
    pub purpose: super::Purpose,
    /// DNS SANs (server certs).
    pub dns: Vec<String>,
    /// IP SANs (server certs).
    pub ips: Vec<IpAddr>,
    /// URI SAN (client certs): `spiffe://<trust_domain>/<service>`.
    pub uri: Option<String>,
}

/// Everything a CA run needs from the policy.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The PKI directory.
    pub pki_dir: PathBuf,
    /// The policy file (for messages).
    pub policy_file: String,
    /// SPIFFE trust domain.
    pub trust_domain: String,
    /// Subject organization.
    pub organization: String,
    /// Project name (used in CA subjects).
    pub project: String,
    /// Key algorithm for every key.
    pub algorithm: KeyAlgorithm,
    /// Root validity in days.
    pub root_days: u32,
    /// Intermediate validity in days.
    pub intermediate_days: u32,
    /// Leaf validity in days.
    pub leaf_days: u32,
    /// Renew this many days before expiry.
    pub renew_before_days: u32,
    /// Name constraints for the intermediate.
    pub constraints: Constraints,
    /// Where the root-key passphrase comes from; `None` means the root key is stored unencrypted.
    pub root_passphrase: Option<SecretRef>,
    /// Base directory for relative secret files.
    pub base_dir: PathBuf,
    /// Every certificate the policy asks for, sorted by service then purpose.
    pub leaves: Vec<LeafSpec>,
}

/// Builds the settings, or returns positioned diagnostics (exit 2) when the policy cannot drive the CA.
pub fn from_policy(loaded: &LoadedPolicy, pki_dir_override: Option<&Path>) -> Result<(Settings, Vec<Diagnostic>), Vec<Diagnostic>> {
    let p = &loaded.policy;
    let file = loaded.source.name.as_str();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let Some(ca) = p.ca.as_ref() else {
        return Err(vec![Diagnostic::error("missing-key", file, Span::UNKNOWN, "ca", "the policy has no `ca` section, so there is no CA to run")
            .with_hint("add a `ca:` section with `trust_domain` and `name_constraints` (see docs/ca.md)")]);
    };
    let mut constraints = Constraints::default();
    for (i, d) in ca.name_constraints.dns.iter().enumerate() {
        let v = d.value.trim();
        if v.starts_with('.') || v.is_empty() || v.contains(['/', ' ', '*']) {
            errors.push(
                Diagnostic::error("invalid-value", file, d.span, format!("ca.name_constraints.dns[{i}]"), format!("`{v}` is not a DNS subtree"))
                    .with_hint("write the domain without a leading dot or wildcard: `svc.internal` already covers every subdomain"),
            );
        } else {
            constraints.dns.push(v.to_ascii_lowercase());
        }
    }
    for (i, c) in ca.name_constraints.ips.iter().enumerate() {
        match Cidr::parse(c.value.trim()) {
            Ok(c) => constraints.ips.push(c),
            Err(e) => errors.push(
                Diagnostic::error("invalid-value", file, c.span, format!("ca.name_constraints.ips[{i}]"), e).with_hint("write an IP range as `10.0.0.0/8`"),
            ),
        }
    }
    if constraints.is_empty() {
        warnings.push(
            Diagnostic::warning("invalid-value", file, Span::UNKNOWN, "ca.name_constraints", "the intermediate CA will have no name constraints: it can sign for any name")
                .with_hint("list the internal DNS domains and IP ranges under `ca.name_constraints`"),
        );
    }
    for (what, v) in [("leaf_validity_days", &ca.leaf_validity_days), ("intermediate_validity_days", &ca.intermediate_validity_days), ("root_validity_days", &ca.root_validity_days)] {
        if let Some(v) = v
            && v.value == 0 {
                errors.push(Diagnostic::error("invalid-value", file, v.span, format!("ca.{what}"), "a validity of 0 days is not usable").with_hint("use at least 1"));
            }
    }
    if ca.intermediate_days() > ca.root_days() {
        let span = ca.intermediate_validity_days.as_ref().map(|v| v.span).unwrap_or(Span::UNKNOWN);
        warnings.push(Diagnostic::warning("invalid-value", file, span, "ca.intermediate_validity_days", "the intermediate outlives the root; it is cut to the root's expiry"));
    }
    if ca.renew_before_days() >= ca.leaf_days() {
        let span = ca.renew_before_days.as_ref().map(|v| v.span).unwrap_or(Span::UNKNOWN);
        warnings.push(
            Diagnostic::warning("invalid-value", file, span, "ca.renew_before_days", "renew_before_days is not shorter than leaf_validity_days: every certificate is always due for renewal")
                .with_hint("renew at about a third of the leaf lifetime"),
        );
    }
    let trust_domain = ca.trust_domain.value.trim().to_string();
    if trust_domain.is_empty() || trust_domain.contains(['/', ':', ' ']) || trust_domain != trust_domain.to_ascii_lowercase() {
        errors.push(
            Diagnostic::error("invalid-value", file, ca.trust_domain.span, "ca.trust_domain", format!("`{trust_domain}` is not a SPIFFE trust domain"))
                .with_hint("use a lowercase domain-like name such as `acme.internal`"),
        );
    }

    let mut leaves = Vec::new();
    for (name, svc) in &p.services {
        let role = svc.mtls_role();
        if role.is_server() {
            let mut dns = Vec::new();
            let mut ips = Vec::new();
            for (i, d) in svc.dns_names.iter().enumerate() {
                let n = d.value.trim().to_ascii_lowercase();
                if !constraints.permits_dns(&n) {
                    errors.push(
                        Diagnostic::error("name-outside-constraints", file, d.span, format!("services.{name}.dns_names[{i}]"),
                            format!("`{n}` is outside the CA's name constraints ({})", constraints.dns.join(", ")))
                        .with_hint("use a name under a permitted domain, or add its domain to `ca.name_constraints.dns` and run `secctl certs rotate-ca --intermediate`"),
                    );
                }
                dns.push(n);
            }
            for (i, ip) in svc.ips.iter().enumerate() {
                match ip.value.trim().parse::<IpAddr>() {
                    Ok(a) if constraints.permits_ip(a) => ips.push(a),
                    Ok(a) => errors.push(
                        Diagnostic::error("name-outside-constraints", file, ip.span, format!("services.{name}.ips[{i}]"),
                            format!("`{a}` is outside the CA's name constraints ({})", constraints.ips.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")))
                        .with_hint("use an address in a permitted range, or add the range to `ca.name_constraints.ips` and run `secctl certs rotate-ca --intermediate`"),
                    ),
                    Err(_) => errors.push(Diagnostic::error("invalid-value", file, ip.span, format!("services.{name}.ips[{i}]"), format!("`{}` is not an IP address", ip.value))),
                }
            }
            if dns.is_empty() && ips.is_empty() {
                errors.push(
                    Diagnostic::error("missing-key", file, svc.kind.span, format!("services.{name}"), format!("service `{name}` needs a server certificate but has no `dns_names` or `ips`"))
                        .with_hint("add the names clients use to reach it, or set `mtls: client` or `mtls: none`"),
                );
            }
            leaves.push(LeafSpec { service: name.clone(), purpose: super::Purpose::Server, dns, ips, uri: None });
        }
        if role.is_client() {
            leaves.push(LeafSpec {
                service: name.clone(),
                purpose: super::Purpose::Client,
                dns: Vec::new(),
                ips: Vec::new(),
                uri: Some(format!("spiffe://{trust_domain}/{name}")),
            });
        }
        if !valid_service_name(name) {
            errors.push(
                Diagnostic::error("invalid-value", file, svc.kind.span, format!("services.{name}"), format!("service name `{name}` cannot be used as a certificate identity"))
                    .with_hint("use lowercase letters, digits, `-` and `_`"),
            );
        }
    }
    if !errors.is_empty() {
        errors.extend(warnings);
        return Err(errors);
    }
    let pki_dir = match pki_dir_override {
        Some(d) => d.to_path_buf(),
        None => loaded.base_dir.join(ca.pki_dir.as_ref().map(|d| d.value.as_str()).unwrap_or("pki")),
    };
    let settings = Settings {
        pki_dir,
        policy_file: file.to_string(),
        trust_domain,
        organization: ca.organization(&p.project).to_string(),
        project: p.project.name.value.clone(),
        algorithm: ca.key_algorithm(),
        root_days: ca.root_days().max(1),
        intermediate_days: ca.intermediate_days().max(1),
        leaf_days: ca.leaf_days().max(1),
        renew_before_days: ca.renew_before_days(),
        constraints,
        root_passphrase: ca.root_passphrase.clone(),
        base_dir: loaded.base_dir.clone(),
        leaves,
    };
    Ok((settings, warnings))
}

fn valid_service_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 63 && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Shorthand used by errors that are not positioned.
pub fn no_ca_section(file: &str) -> anyhow::Error {
    anyhow!("{file} has no `ca` section; add one (see docs/ca.md)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_subtree_matching() {
        assert!(dns_within("a.svc.internal", "svc.internal"));
        assert!(dns_within("svc.internal", "svc.internal"));
        assert!(!dns_within("evilsvc.internal", "svc.internal"));
        assert!(!dns_within("svc.internal.evil", "svc.internal"));
    }

    #[test]
    fn cidr_parse_and_contains() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.2.3.4".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.1/8").unwrap_err().contains("10.0.0.0/8"));
        assert!(Cidr::parse("10.0.0.0").is_err());
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("1.2.3.4".parse().unwrap()));
    }
}
