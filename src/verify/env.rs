//! What every probe shares: the policy, where names resolve (`--resolve`), the trust bundle,
//! client identities from the PKI, and a foreign CA made fresh for each run.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use rustls::RootCertStore;

use super::net::{ClientId, Endpoint};
use super::result::Location;
use crate::policy::model::{Listen, Policy};
use crate::policy::span::Span;
use crate::policy::ValidPolicy;

/// `NAME:PORT:ADDR`, as curl's `--resolve`: connections to NAME:PORT go to ADDR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolve {
    /// Host name (as in `edge.hosts`, `dns_names` or `listen.host`).
    pub name: String,
    /// Port.
    pub port: u16,
    /// Address to connect to instead.
    pub addr: IpAddr,
}

impl std::str::FromStr for Resolve {
    type Err = String;
    fn from_str(s: &str) -> Result<Resolve, String> {
        let (name, rest) = s.split_once(':').ok_or_else(|| format!("`{s}`: expected NAME:PORT:ADDR, e.g. api.example.com:443:127.0.0.1"))?;
        let (port, addr) = rest.split_once(':').ok_or_else(|| format!("`{s}`: expected NAME:PORT:ADDR, e.g. api.example.com:443:127.0.0.1"))?;
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
            return Err(format!("`{s}`: `{name}` is not a host name"));
        }
        let port: u16 = port.parse().map_err(|_| format!("`{s}`: `{port}` is not a port (1-65535)"))?;
        if port == 0 {
            return Err(format!("`{s}`: port 0 is not a port"));
        }
        let addr: IpAddr = addr.parse().map_err(|_| format!("`{s}`: `{addr}` is not an IP address"))?;
        Ok(Resolve { name: name.to_ascii_lowercase(), port, addr })
    }
}

/// Options of one run.
#[derive(Clone, Debug)]
pub struct Options {
    /// PKI directory override (else `ca.pki_dir` next to the policy).
    pub pki_dir: Option<PathBuf>,
    /// Address overrides.
    pub resolve: Vec<Resolve>,
    /// Per-connection timeout.
    pub timeout: Duration,
    /// Worker threads for the parallel phase.
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { pki_dir: None, resolve: Vec::new(), timeout: Duration::from_secs(5), threads: 8 }
    }
}

/// The shared context of a run.
pub struct Env {
    /// The policy (judged by `check`).
    pub policy: Policy,
    /// The validated policy (for `certs verify` and `keycloak plan`, which take it whole).
    pub valid: ValidPolicy,
    /// Policy file name for locations.
    pub file: String,
    /// The PKI directory.
    pub pki_dir: PathBuf,
    /// Trust for the stack's server certificates (`<pki>/ca/bundle.crt`), or why it is missing.
    pub roots: Result<RootCertStore, String>,
    /// Client identities found in the PKI (`services/<name>/client-fullchain.crt` + `client.key`).
    pub clients: BTreeMap<String, ClientId>,
    /// A client certificate from a CA made for this run, with a service's subject: trusted by no one.
    pub foreign: ClientId,
    /// Timeout per connection.
    pub timeout: Duration,
    /// A random tag for this run (fresh tokens, unique paths).
    pub tag: String,
    resolve: Vec<Resolve>,
}

impl Env {
    /// Builds the context (never touches the network).
    pub fn new(valid: &ValidPolicy, opts: &Options) -> Result<Env> {
        let policy = valid.policy().clone();
        let base = valid.base_dir();
        let pki_dir = match &opts.pki_dir {
            Some(p) => p.clone(),
            None => base.join(policy.ca.as_ref().and_then(|c| c.pki_dir.as_ref()).map(|p| p.value.as_str()).unwrap_or("pki")),
        };
        let roots = super::net::roots(&pki_dir.join("ca/bundle.crt")).map_err(|e| format!("{e:#} (give the PKI with --pki-dir)"));
        let mut clients = BTreeMap::new();
        if let Ok(rd) = std::fs::read_dir(pki_dir.join("services")) {
            for e in rd.flatten() {
                let d = e.path();
                let (c, k) = (d.join("client-fullchain.crt"), d.join("client.key"));
                if c.exists() && k.exists()
                    && let Ok(id) = ClientId::from_files(&c, &k) {
                        clients.insert(e.file_name().to_string_lossy().into_owned(), id);
                    }
            }
        }
        let org = policy.ca.as_ref().map(|c| c.organization(&policy.project).to_string()).unwrap_or_else(|| policy.project.name.value.clone());
        let foreign = foreign_client(&org, &policy)?;
        let tag = random_tag();
        Ok(Env { policy, valid: valid.clone(), file: valid.source().name.clone(), pki_dir, roots, clients, foreign, timeout: opts.timeout, tag, resolve: opts.resolve.clone() })
    }

    /// Where a span of the policy is.
    pub fn at(&self, span: Span, path: impl Into<String>) -> Location {
        Location { file: self.file.clone(), line: span.line.max(1), column: span.col.max(1), path: path.into() }
    }

    /// The endpoint for `name` on `listen`: `--resolve` first, then the listen address when it
    /// is a concrete IP, then DNS.
    pub fn endpoint(&self, name: &str, listen: &Listen) -> Result<Endpoint, String> {
        self.endpoint_port(name, &listen.host.value, listen.port.value)
    }

    /// Like [`Env::endpoint`] with the parts.
    pub fn endpoint_port(&self, name: &str, listen_host: &str, port: u16) -> Result<Endpoint, String> {
        let lname = name.to_ascii_lowercase();
        if let Some(r) = self.resolve.iter().find(|r| r.port == port && (r.name == lname || r.name == listen_host)) {
            return Ok(Endpoint { name: name.to_string(), port, addr: SocketAddr::new(r.addr, port) });
        }
        if let Ok(ip) = listen_host.parse::<IpAddr>()
            && !ip.is_unspecified() {
                return Ok(Endpoint { name: name.to_string(), port, addr: SocketAddr::new(ip, port) });
            }
        let host = if listen_host.parse::<IpAddr>().is_ok() { name } else { listen_host };
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host}:{port} ({e}); give its address with --resolve {host}:{port}:ADDR"))?
            .next()
            .ok_or_else(|| format!("{host}:{port} resolves to no address; give one with --resolve {host}:{port}:ADDR"))?;
        Ok(Endpoint { name: name.to_string(), port, addr })
    }

    /// The trust store or the reason it is missing.
    pub fn roots(&self) -> Result<&RootCertStore, String> {
        self.roots.as_ref().map_err(Clone::clone)
    }

    /// A client identity from the PKI.
    pub fn client(&self, svc: &str) -> Result<&ClientId, String> {
        self.clients
            .get(svc)
            .ok_or_else(|| format!("no client certificate for `{svc}` in {} (run `secctl certs issue`, or give --pki-dir)", self.pki_dir.join("services").join(svc).display()))
    }

    /// A bearer token that no identity provider issued, unique to this run and `what`.
    pub fn fake_token(&self, what: &str) -> String {
        format!("secctl-verify-{}-{what}", self.tag)
    }
}

fn random_tag() -> String {
    let mut b = [0u8; 6];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A CA nobody trusts, and a client certificate from it whose subject copies a real service's
/// (CN = the first client service, O = the organization, the SPIFFE URI SAN): a server that
/// checks names but not the issuer would let it in.
fn foreign_client(org: &str, policy: &Policy) -> Result<ClientId> {
    use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, SanType};
    let svc = policy.services.iter().find(|(_, s)| s.mtls_role().is_client()).map(|(n, _)| n.clone()).unwrap_or_else(|| "client".into());
    let dn = |cn: &str| {
        let mut d = DistinguishedName::new();
        d.push(DnType::OrganizationName, org);
        d.push(DnType::CommonName, cn);
        d
    };
    let ca_key = KeyPair::generate().map_err(|e| anyhow!("cannot make the foreign test CA key: {e}"))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| anyhow!("{e}"))?;
    ca.distinguished_name = dn(&format!("{org} Root CA (secctl verify foreign CA)"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().map_err(|e| anyhow!("{e}"))?;
    let mut leaf = CertificateParams::new(Vec::<String>::new()).map_err(|e| anyhow!("{e}"))?;
    leaf.distinguished_name = dn(&svc);
    if let Some(td) = policy.ca.as_ref().map(|c| c.trust_domain.value.clone())
        && let Ok(uri) = format!("spiffe://{td}/{svc}").try_into() {
            leaf.subject_alt_names = vec![SanType::URI(uri)];
        }
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = leaf.signed_by(&key, &issuer).map_err(|e| anyhow!("cannot sign the foreign test certificate: {e}"))?;
    let der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| anyhow!("{e}"))?;
    Ok(ClientId { chain: vec![cert.der().clone()], key: std::sync::Arc::new(der) })
}

/// Parses an nginx size (`1m`, `512k`, `1048576`) into bytes.
pub fn nginx_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1024),
        Some('m' | 'M') => (&s[..s.len() - 1], 1024 * 1024),
        Some('g' | 'G') => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| anyhow!("`{s}` is not an nginx size"))?;
    Ok(n * mult)
}

/// Parses `<n>r/s` or `<n>r/m` into requests per second.
pub fn rate_per_sec(s: &str) -> Result<f64> {
    let (n, unit) = s.split_once("r/").ok_or_else(|| anyhow!("`{s}` is not a rate"))?;
    let n: f64 = n.parse().map_err(|_| anyhow!("`{s}` is not a rate"))?;
    match unit {
        "s" => Ok(n),
        "m" => Ok(n / 60.0),
        _ => bail!("`{s}` is not a rate"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_grammar() {
        let r: Resolve = "api.example.com:443:127.0.0.2".parse().unwrap();
        assert_eq!(r, Resolve { name: "api.example.com".into(), port: 443, addr: "127.0.0.2".parse().unwrap() });
        let r: Resolve = "h:8443:[::1]".parse().unwrap();
        assert_eq!(r.addr, "::1".parse::<IpAddr>().unwrap());
        for bad in ["h", "h:1", "h:x:1.2.3.4", "h:0:1.2.3.4", "h:1:nope", "a/b:1:1.2.3.4", ":1:1.2.3.4"] {
            assert!(bad.parse::<Resolve>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_and_rates() {
        assert_eq!(nginx_size("1m").unwrap(), 1_048_576);
        assert_eq!(nginx_size("512k").unwrap(), 524_288);
        assert_eq!(nginx_size("100").unwrap(), 100);
        assert!(nginx_size("1x").is_err());
        assert_eq!(rate_per_sec("10r/m").unwrap(), 10.0 / 60.0);
        assert_eq!(rate_per_sec("2r/s").unwrap(), 2.0);
        assert!(rate_per_sec("2/s").is_err());
    }
}
