//! Address syntax: DNS names, IPs and CIDR ranges, and name-constraint matching.

use std::net::IpAddr;

/// Whether `name` is a valid DNS host name (letters, digits, `-`; labels of 1-63; 253 in all).
pub fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A CIDR range (`10.0.0.0/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

/// Parses a CIDR range; host bits must be zero.
pub fn parse_cidr(text: &str) -> Result<Cidr, String> {
    let (a, p) = text.split_once('/').ok_or_else(|| format!("`{text}` is not a CIDR range: write it as `address/prefix`, e.g. `10.0.0.0/8`"))?;
    let addr: IpAddr = a.parse().map_err(|_| format!("`{a}` is not an IP address"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = p.parse().ok().filter(|p| *p <= max).ok_or_else(|| format!("`/{p}` is not a prefix length (0-{max})"))?;
    let network = mask(addr, prefix);
    if network != addr {
        return Err(format!("`{text}` has host bits set; the range is `{network}/{prefix}`"));
    }
    Ok(Cidr { addr, prefix })
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            IpAddr::V6((bits & m).into())
        }
    }
}

impl Cidr {
    /// Whether the range contains `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

/// Whether `name` is inside the permitted DNS subtree `base` (RFC 5280: equal, or a subdomain).
pub fn dns_within(name: &str, base: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let base = base.trim_end_matches('.').to_ascii_lowercase();
    name == base || name.ends_with(&format!(".{base}"))
}

/// Wildcard bind addresses: each container has its own, so two services may both use them.
pub fn is_wildcard(host: &str) -> bool {
    matches!(host, "0.0.0.0" | "::" | "[::]" | "*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_and_subtrees() {
        let c = parse_cidr("10.0.0.0/8").unwrap();
        assert!(c.contains("10.2.3.4".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(parse_cidr("10.0.0.1/8").unwrap_err().contains("10.0.0.0/8"));
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("fd00::/8").is_ok());
        assert!(dns_within("api.svc.internal", "svc.internal"));
        assert!(dns_within("svc.internal", "svc.internal"));
        assert!(!dns_within("evilsvc.internal", "svc.internal"));
        assert!(is_dns_name("api-1.svc.internal"));
        assert!(!is_dns_name(".svc.internal"));
        assert!(!is_dns_name("a_b.example"));
    }
}
