//! The CA settings a run works with: the policy's `ca` section with defaults applied and
//! paths resolved. Built only from a [`ValidPolicy`]: every value was judged by `secctl check`
//! (name constraints, validities, trust domain, service names and addresses), so nothing here
//! validates.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::policy::model::{KeyAlgorithm, SecretRef};
use crate::policy::ValidPolicy;

/// The one CIDR type and name-constraint matcher, shared with `check`.
pub use crate::policy::types::{dns_within, Cidr, NameConstraints as Constraints};

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

/// Builds the settings; `None` when the policy has no `ca` section (there is no CA to run).
pub fn from_policy(valid: &ValidPolicy, pki_dir_override: Option<&Path>) -> Option<Settings> {
    let p = valid.policy();
    let ca = p.ca.as_ref()?;
    let trust_domain = ca.trust_domain.value.clone();
    let mut leaves = Vec::new();
    for (name, svc) in &p.services {
        let role = svc.mtls_role();
        if role.is_server() {
            let dns = svc.dns_names.iter().map(|d| d.value.to_ascii_lowercase()).collect();
            // `check` proved every entry is an IP address.
            let ips = svc.ips.iter().filter_map(|ip| ip.value.parse::<IpAddr>().ok()).collect();
            leaves.push(LeafSpec { service: name.clone(), purpose: super::Purpose::Server, dns, ips, uri: None });
        }
        if role.is_client() {
            leaves.push(LeafSpec { service: name.clone(), purpose: super::Purpose::Client, dns: Vec::new(), ips: Vec::new(), uri: Some(format!("spiffe://{trust_domain}/{name}")) });
        }
    }
    let pki_dir = match pki_dir_override {
        Some(d) => d.to_path_buf(),
        None => valid.base_dir().join(ca.pki_dir.as_ref().map(|d| d.value.as_str()).unwrap_or("pki")),
    };
    Some(Settings {
        pki_dir,
        policy_file: valid.source().name.clone(),
        trust_domain,
        organization: ca.organization(&p.project).to_string(),
        project: p.project.name.value.clone(),
        algorithm: ca.key_algorithm(),
        root_days: ca.root_days(),
        intermediate_days: ca.intermediate_days(),
        leaf_days: ca.leaf_days(),
        renew_before_days: ca.renew_before_days(),
        constraints: valid.name_constraints().clone(),
        root_passphrase: ca.root_passphrase.clone(),
        base_dir: valid.base_dir().to_path_buf(),
        leaves,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_matches_names_with_the_shared_implementation() {
        assert!(dns_within("a.svc.internal", "svc.internal"));
        assert!(!dns_within("svc.internal.evil", "svc.internal"));
        let c = Constraints { dns: vec![], ips: vec![Cidr::parse("127.0.0.0/8").unwrap()] };
        assert!(!c.permits_dns("localhost"), "a type with no subtree permits nothing");
    }
}
