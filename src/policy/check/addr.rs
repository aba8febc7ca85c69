//! Address helpers for the checks. The parsing and matching themselves (DNS names, CIDR
//! ranges, DNS subtrees) have one implementation, in [`crate::policy::types::net`], shared
//! with the CA.

pub use crate::policy::types::{is_dns_name, Cidr};

/// Wildcard bind addresses: each container has its own, so two services may both use them.
pub fn is_wildcard(host: &str) -> bool {
    matches!(host, "0.0.0.0" | "::" | "[::]" | "*")
}
