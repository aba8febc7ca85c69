//! Listen addresses, service addresses and the CA's name constraints.
//!
//! Listen conflicts: two listeners conflict when they share a port and either
//! belong to the same service (one process, one network namespace) or bind the
//! same concrete host. A wildcard bind (`0.0.0.0`, `::`) in two *different*
//! services does not conflict: under Compose each service is its own container
//! with its own network namespace. A loopback test stack binds concrete hosts
//! (`127.0.0.1`), where a shared port is a real clash.

use std::net::IpAddr;

use crate::policy::model::Listen;
use crate::policy::types::NameConstraints;
use crate::policy::span::Span;

use super::addr::{is_dns_name, is_wildcard, Cidr};
use super::{Cx, Finish};

pub(super) fn check(cx: &mut Cx) {
    listen_conflicts(cx);
    addresses(cx);
    name_constraints(cx);
}

struct Listener<'a> {
    owner: &'a str,
    path: String,
    listen: &'a Listen,
}

fn listen_conflicts(cx: &mut Cx) {
    let p = cx.policy;
    let mut all: Vec<Listener> = p.services.iter().filter_map(|(n, s)| s.listen.as_ref().map(|l| Listener { owner: n, path: format!("services.{n}.listen"), listen: l })).collect();
    if let Some(e) = &p.edge {
        let gw = e.gateway.value.as_str();
        let gw_listen = p.services.get(gw).and_then(|s| s.listen.as_ref());
        for (key, l) in [("listen", &e.listen), ("http_redirect", &e.http_redirect), ("internal_listen", &e.internal_listen)] {
            let Some(l) = l else { continue };
            // `edge.listen` restating the gateway's own listen is the same socket, not a second one.
            if key == "listen" && gw_listen.is_some_and(|g| g.host.value == l.host.value && g.port.value == l.port.value) {
                continue;
            }
            all.push(Listener { owner: gw, path: format!("edge.{key}"), listen: l });
        }
    }
    // Report each listener against the first one earlier in the file that it clashes with.
    all.sort_by_key(|l| (l.listen.port.span.line, l.listen.port.span.col));
    for (j, b) in all.iter().enumerate() {
        let clash = all[..j].iter().find(|a| {
            a.listen.port.value == b.listen.port.value
                && (a.owner == b.owner && (a.listen.host.value == b.listen.host.value || is_wildcard(&a.listen.host) || is_wildcard(&b.listen.host))
                    || a.listen.host.value == b.listen.host.value && !is_wildcard(&a.listen.host))
        });
        if let Some(a) = clash {
            let (ap, aline) = (a.path.clone(), a.listen.port.span.line);
            let (host, port) = (b.listen.host.value.clone(), b.listen.port.value);
            cx.error("listen-conflict", b.listen.port.span, format!("{}.port", b.path), format!("`{}` and `{ap}` both listen on {host}:{port}", b.path))
                .label("port already in use")
                .hint(format!("give one of them another port (the other is at line {aline})"));
        }
    }
}

fn addresses(cx: &mut Cx) {
    let p = cx.policy;
    for (name, s) in &p.services {
        for (i, d) in s.dns_names.iter().enumerate() {
            if !is_dns_name(d) {
                cx.error("invalid-address", d.span, format!("services.{name}.dns_names[{i}]"), format!("`{}` is not a valid DNS name", d.value))
                    .label("not a DNS name")
                    .hint("use letters, digits, `-` and dots only (IP addresses go in `ips`)");
            }
        }
        for (i, ip) in s.ips.iter().enumerate() {
            if ip.value.parse::<IpAddr>().is_err() {
                cx.error("invalid-address", ip.span, format!("services.{name}.ips[{i}]"), format!("`{}` is not an IP address", ip.value))
                    .label("not an IP")
                    .hint("write a single IPv4 or IPv6 address, e.g. `10.0.0.5` (names go in `dns_names`)");
            }
        }
        if let Some(l) = &s.listen {
            listen_host(cx, l, &format!("services.{name}.listen.host"));
        }
    }
    if let Some(e) = &p.edge {
        for (i, h) in e.hosts.iter().enumerate() {
            if !is_dns_name(&h.value) {
                cx.error("invalid-address", h.span, format!("edge.hosts[{i}]"), format!("`{}` is not a valid host name", h.value))
                    .label("not a host name")
                    .hint("list bare host names, without scheme, port or path (e.g. `api.example.com`)");
            }
        }
        for (key, l) in [("listen", &e.listen), ("http_redirect", &e.http_redirect), ("internal_listen", &e.internal_listen)] {
            if let Some(l) = l {
                listen_host(cx, l, &format!("edge.{key}.host"));
            }
        }
    }
}

fn listen_host(cx: &mut Cx, l: &Listen, path: &str) {
    if let Err(why) = crate::policy::types::Host::parse(&l.host) {
        cx.error("invalid-address", l.host.span, path, why)
            .label("not an address")
            .hint("use an IP such as `0.0.0.0` or `127.0.0.1`, or a host name");
    }
}

fn name_constraints(cx: &mut Cx) {
    let p = cx.policy;
    let Some(ca) = &p.ca else { return };
    let mut dns_bases: Vec<&str> = Vec::new();
    for (i, d) in ca.name_constraints.dns.iter().enumerate() {
        let path = format!("ca.name_constraints.dns[{i}]");
        if let Some(rest) = d.value.strip_prefix('.') {
            // Still match against the intended subtree, so one typo does not cascade.
            dns_bases.push(rest);
            cx.error("name-constraint-invalid", d.span, path, format!("DNS constraint `{}` starts with a dot", d.value))
                .label("leading dot")
                .hint(format!("write `{rest}`: a DNS subtree already covers every subdomain, and pkilint rejects the dotted form"));
        } else if !is_dns_name(&d.value) {
            cx.error("name-constraint-invalid", d.span, path, format!("DNS constraint `{}` is not a domain name", d.value)).label("not a domain").hint("write a domain such as `svc.internal`");
        } else {
            dns_bases.push(&d.value);
        }
    }
    let mut ranges: Vec<Cidr> = Vec::new();
    for (i, r) in ca.name_constraints.ips.iter().enumerate() {
        match Cidr::parse(&r.value) {
            Ok(c) => ranges.push(c),
            Err(why) => {
                cx.error("name-constraint-invalid", r.span, format!("ca.name_constraints.ips[{i}]"), why).label("not a CIDR range").hint("write a network in CIDR notation, e.g. `10.0.0.0/8`");
            }
        }
    }
    // One meaning everywhere (see `NameConstraints`): once any subtree is listed, a name
    // must lie in a subtree of its own type; a type with no subtree permits nothing.
    let nc = NameConstraints { dns: dns_bases.iter().map(|d| d.to_ascii_lowercase()).collect(), ips: ranges };
    let constrained = !(ca.name_constraints.dns.is_empty() && ca.name_constraints.ips.is_empty());
    let permitted = nc.describe();
    for (name, s) in &p.services {
        if !s.mtls_role().is_server() {
            continue; // only server certificates carry DNS and IP SANs
        }
        for (i, d) in s.dns_names.iter().enumerate() {
            if constrained && is_dns_name(d) && !nc.permits_dns(d) {
                outside(cx, d.span, format!("services.{name}.dns_names[{i}]"), &d.value, &permitted);
            }
        }
        for (i, ip) in s.ips.iter().enumerate() {
            if let Ok(addr) = ip.value.parse::<IpAddr>()
                && constrained
                && !nc.permits_ip(addr)
            {
                outside(cx, ip.span, format!("services.{name}.ips[{i}]"), &ip.value, &permitted);
            }
        }
    }
}

fn outside(cx: &mut Cx, span: Span, path: String, name: &str, permitted: &str) {
    cx.error("name-outside-constraints", span, path, format!("`{name}` is outside the CA's name constraints (permitted: {permitted}); a type with no subtree permits nothing"))
        .label("not permitted by the CA")
        .hint("certificates for it would be rejected by every verifier: rename it under a permitted subtree, or add a subtree to `ca.name_constraints`");
}
