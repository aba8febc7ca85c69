//! secctl: a security control plane for small container stacks.
//!
//! One policy file ([`policy`]) drives a private service CA ([`ca`]),
//! rendered gateway/WAF/Redis/Compose configs ([`render`]) and Keycloak
//! provisioning ([`keycloak`]). All findings are [`diag::Diagnostic`]s and all
//! output goes through [`report::Reporter`].

#![warn(missing_docs)]

pub mod ca;
pub mod cli;
pub mod diag;
pub mod exit;
pub mod fsutil;
pub mod keycloak;
pub mod policy;
pub mod render;
pub mod report;
pub mod verify;
