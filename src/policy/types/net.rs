//! Network values: DNS names, hosts, listen addresses, CIDR ranges, origins, and the one
//! implementation of name-constraint matching (check and the CA both use it).

use std::fmt;
use std::net::IpAddr;

/// A DNS host name. Grammar: labels of `[A-Za-z0-9-]`, 1-63 characters, not starting or
/// ending with `-`, joined by `.`; 253 characters in all; one trailing `.` is dropped.
/// Kept as written (case is preserved; comparisons use [`dns_within`], which ignores case).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsName(String);

impl DnsName {
    /// Parses a DNS name.
    pub fn parse(s: &str) -> Result<Self, String> {
        if is_dns_name(s) {
            Ok(DnsName(s.strip_suffix('.').unwrap_or(s).to_string()))
        } else {
            Err(format!("`{}` is not a DNS name (letters, digits and `-` in dot-separated labels)", super::show(s)))
        }
    }
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `name` is a valid DNS host name (see [`DnsName`]).
pub fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// A host: a DNS name, an IPv4 address or an IPv6 address. Grammar: [`DnsName`], or an IP
/// address as `std::net` parses it; IPv6 may be written bare (`::1`) or bracketed (`[::1]`).
/// The brackets are not part of the value: [`Host::with_port`] adds them exactly once,
/// so `[::1]` renders `[::1]:443`, never `[[::1]]:443`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// An IP address.
    Ip(IpAddr),
    /// A DNS name.
    Dns(DnsName),
}

impl Host {
    /// Parses a host.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bare = s.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
        if let Some(b) = bare {
            return match b.parse::<IpAddr>() {
                Ok(ip @ IpAddr::V6(_)) => Ok(Host::Ip(ip)),
                _ => Err(format!("`{}`: brackets are only for IPv6 addresses, e.g. `[::1]`", super::show(s))),
            };
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Host::Ip(ip));
        }
        DnsName::parse(s).map(Host::Dns).map_err(|_| format!("`{}` is not an IP address or a DNS name", super::show(s)))
    }

    /// Whether this is a wildcard bind address (`0.0.0.0`, `::`).
    pub fn is_wildcard(&self) -> bool {
        matches!(self, Host::Ip(ip) if ip.is_unspecified())
    }

    /// `host:port`, with IPv6 bracketed once.
    pub fn with_port(&self, port: u16) -> String {
        match self {
            Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
            other => format!("{other}:{port}"),
        }
    }
}

impl fmt::Display for Host {
    /// The bare host (IPv6 without brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Dns(d) => write!(f, "{d}"),
        }
    }
}

/// A CIDR range. Grammar: `<ip>/<prefix>`, prefix 0-32 (IPv4) or 0-128 (IPv6), host bits zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// Parses a CIDR range; host bits must be zero.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let t = super::show(text);
        let (a, p) = text.split_once('/').ok_or_else(|| format!("`{t}` is not a CIDR range: write it as `address/prefix`, e.g. `10.0.0.0/8`"))?;
        let addr: IpAddr = a.parse().map_err(|_| format!("`{}` is not an IP address", super::show(a)))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = Some(p).filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())).and_then(|p| p.parse().ok()).filter(|p| *p <= max).ok_or_else(|| format!("`/{}` is not a prefix length (0-{max})", super::show(p)))?;
        let network = mask(addr, prefix);
        if network != addr {
            return Err(format!("`{t}` has host bits set; the range is `{network}/{prefix}`"));
        }
        Ok(Cidr { addr, prefix })
    }

    /// Whether the range contains `ip` (an IPv4 range never contains an IPv6 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let m = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            IpAddr::V4((u32::from(v4) & m).into())
        }
        IpAddr::V6(v6) => {
            let m = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            IpAddr::V6((u128::from(v6) & m).into())
        }
    }
}

/// Whether `name` is inside the permitted DNS subtree `base` (RFC 5280: equal, or a subdomain;
/// case-insensitive).
pub fn dns_within(name: &str, base: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let base = base.trim_end_matches('.').to_ascii_lowercase();
    name == base || name.strip_suffix(&base).is_some_and(|rest| rest.ends_with('.'))
}

/// The CA's permitted subtrees, parsed once by `check`.
///
/// Meaning (the same in `check`, `certs issue` and every later issue): a certificate name is
/// permitted only when it lies inside a permitted subtree **of its own type**. As soon as
/// any subtree is listed, a type with no subtree permits **nothing** of that type: this is
/// the safe reading, so `{ ips: [127.0.0.0/8] }` alone means "this CA signs only for
/// 127.0.0.0/8" and a DNS SAN is refused. (X.509 itself would leave the unlisted type open;
/// secctl never issues into that gap, see docs/ca.md.) With no constraint at all the CA is
/// unconstrained, and `check` warns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameConstraints {
    /// Permitted DNS subtrees (lowercase, no leading dot).
    pub dns: Vec<String>,
    /// Permitted IP ranges.
    pub ips: Vec<Cidr>,
}

impl NameConstraints {
    /// Whether there are no constraints at all.
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.ips.is_empty()
    }
    /// Whether a DNS name is permitted.
    pub fn permits_dns(&self, name: &str) -> bool {
        self.is_empty() || self.dns.iter().any(|d| dns_within(name, d))
    }
    /// Whether an IP address is permitted.
    pub fn permits_ip(&self, ip: IpAddr) -> bool {
        self.is_empty() || self.ips.iter().any(|c| c.contains(ip))
    }
    /// The permitted subtrees as text, for messages (`none` when a type has none).
    pub fn describe(&self) -> String {
        let all: Vec<String> = self.dns.iter().map(|d| format!("`{d}`")).chain(self.ips.iter().map(|c| format!("`{c}`"))).collect();
        if all.is_empty() { "none".into() } else { all.join(", ") }
    }
}

/// A web origin. Grammar: `http` or `https`, `://`, a [`Host`] (IPv6 bracketed), an optional
/// `:port` (1-65535); no path, query, fragment, user info or trailing `/`. Lowercase scheme
/// and host, as browsers send them in the `Origin` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `true` for https.
    pub https: bool,
    /// Host.
    pub host: Host,
    /// Explicit port.
    pub port: Option<u16>,
}

impl Origin {
    /// Parses an origin.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = super::show(s);
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("`{t}` is not an origin: write `https://host[:port]`"));
        };
        if rest.contains(['/', '?', '#', '@']) {
            return Err(format!("`{t}` is not an origin: an origin has no path, query or user info (browsers send `scheme://host[:port]`)"));
        }
        if rest.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(format!("`{t}` is not how browsers send an origin: write it in lowercase"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && (h.starts_with('[') == h.ends_with(']')) && (!h.contains(':') || h.starts_with('[')) => {
                let port = Some(p).filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())).and_then(|p| p.parse::<u16>().ok()).filter(|p| *p > 0).ok_or_else(|| format!("`{t}`: `{}` is not a port (1-65535)", super::show(p)))?;
                (h, Some(port))
            }
            _ => (rest, None),
        };
        let host = match Host::parse(host)? {
            Host::Ip(IpAddr::V6(_)) if !host.starts_with('[') => return Err(format!("`{t}`: an IPv6 origin is written with brackets, e.g. `https://[::1]:8443`")),
            h => h,
        };
        Ok(Origin { https, host, port })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        let host = match &self.host {
            Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
            h => h.to_string(),
        };
        match self.port {
            Some(p) => write!(f, "{scheme}://{host}:{p}"),
            None => write!(f, "{scheme}://{host}"),
        }
    }
}

/// An http(s) URL secctl calls or renders (`identity.url`, `identity.public_url`). Grammar:
/// `http://` or `https://`, a [`Host`] (IPv6 bracketed), an optional `:port`, then an optional
/// path of `/`-separated segments of `[A-Za-z0-9._~!*+,=:@-]` (no `.`/`..` segment); no user
/// info, query or fragment. A trailing `/` is dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// Scheme, host and port, as an origin.
    pub origin: Origin,
    /// The path without a trailing `/` (empty for none).
    pub path: String,
}

impl HttpUrl {
    /// Parses a URL.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = super::show(s);
        let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).ok_or_else(|| format!("`{t}` is not an http(s) URL: write `https://host[:port][/path]`"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(format!("`{t}` has no host"));
        }
        if authority.contains('@') || s.contains(['?', '#']) {
            return Err(format!("`{t}`: a base URL has no user info, query or fragment"));
        }
        let origin = Origin::parse(&s[..s.len() - rest.len() + authority.len()].to_ascii_lowercase())?;
        let path = path.strip_suffix('/').unwrap_or(path);
        for seg in path.split('/').skip(1) {
            let ok = !seg.is_empty() && seg != "." && seg != ".." && seg.chars().all(|c| c.is_ascii_alphanumeric() || "._~!*+,=:@-".contains(c));
            if !ok {
                return Err(format!("`{t}`: the path segment `{}` is not allowed (letters, digits and `._~!*+,=:@-`, no `.` or `..`)", super::show(seg)));
            }
        }
        Ok(HttpUrl { origin, path: path.to_string() })
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_and_subtrees() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.2.3.4".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.1/8").unwrap_err().contains("10.0.0.0/8"));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0.0/+8").is_err());
        assert!(Cidr::parse("fd00::/8").is_ok());
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("1.2.3.4".parse().unwrap()));
        assert!(dns_within("api.svc.internal", "svc.internal"));
        assert!(dns_within("SVC.internal", "svc.internal"));
        assert!(!dns_within("evilsvc.internal", "svc.internal"));
        assert!(!dns_within("svc.internal.evil", "svc.internal"));
        assert!(is_dns_name("api-1.svc.internal"));
        assert!(!is_dns_name(".svc.internal"));
        assert!(!is_dns_name("a_b.example"));
    }

    #[test]
    fn a_type_without_subtrees_permits_nothing_of_that_type() {
        let nc = NameConstraints { dns: vec![], ips: vec![Cidr::parse("127.0.0.0/8").unwrap()] };
        assert!(nc.permits_ip("127.0.0.1".parse().unwrap()));
        assert!(!nc.permits_ip("10.0.0.1".parse().unwrap()));
        assert!(!nc.permits_dns("localhost"));
        assert!(NameConstraints::default().permits_dns("anything.example"));
    }

    #[test]
    fn base_urls() {
        assert_eq!(HttpUrl::parse("https://keycloak.svc.internal:8443/").unwrap().to_string(), "https://keycloak.svc.internal:8443");
        assert_eq!(HttpUrl::parse("http://127.0.0.1:8080/auth").unwrap().path, "/auth");
        for bad in ["ftp://x", "https://", "https://a@b", "https://a/b?c", "https://a\nb", "https://a/../b", "https://a/b c", "https://a/$x", "https://a;include"] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ipv6_hosts_are_bracketed_once() {
        assert_eq!(Host::parse("[::1]").unwrap().with_port(443), "[::1]:443");
        assert_eq!(Host::parse("::1").unwrap().with_port(443), "[::1]:443");
        assert_eq!(Host::parse("127.0.0.1").unwrap().with_port(80), "127.0.0.1:80");
        assert!(Host::parse("[[::1]]").is_err());
        assert!(Host::parse("[127.0.0.1]").is_err());
        assert!(Host::parse("a;b").is_err());
        assert!(Host::parse("0.0.0.0").unwrap().is_wildcard());
    }

    #[test]
    fn origins_have_no_path_and_no_keywords() {
        assert_eq!(Origin::parse("https://app.example.com").unwrap().to_string(), "https://app.example.com");
        assert_eq!(Origin::parse("http://127.0.0.1:5173").unwrap().port, Some(5173));
        assert_eq!(Origin::parse("https://[::1]:8443").unwrap().to_string(), "https://[::1]:8443");
        for bad in ["include", "default", "*", "https://a.example/", "https://a.example/x", "https://u@a.example", "https://A.example", "https://a.example:0", "https://a.example:", "https://::1", "https://a b", "https://a.example\n;"] {
            assert!(Origin::parse(bad).is_err(), "{bad:?}");
        }
    }
}
