//! Keycloak provisioning: read actual state, plan a typed diff, apply it.
//!
//! - [`desired`]: the state the policy asks for (declared fields only) and Keycloak-specific checks.
//! - [`read`]: the actual state, read through [`http::Admin`] (or from [`fake`] in unit tests).
//! - [`plan`]: the typed diff (Display for people, Serialize for `--format json`).
//! - [`apply`]: executes a plan (GET → merge → PUT; 409 on create → update), with progress.
//! - [`token`]: access tokens for fixture users and service clients (verification).
//!
//! Ownership: secctl marks what it creates (`secctl.managed` attribute, `secctl-` mapper prefix)
//! and only ever deletes marked objects, only with `--prune`. Built-ins are never touched.

pub mod apply;
pub mod desired;
pub mod fake;
pub mod http;
pub mod json;
pub mod plan;
pub mod read;
pub mod secret;
pub mod token;

use std::path::Path;

use anyhow::{Context, Result};

use crate::exit::Fail;
use crate::policy::model::{AdminGrant, Identity};
use crate::policy::ValidPolicy;
use http::{Admin, Grant, Login};

/// Logs in to the admin API with the credentials `identity.admin` names (`None`: the policy
/// has no `identity`).
pub fn connect(valid: &ValidPolicy) -> Option<Result<Admin>> {
    let id = valid.policy().identity.as_ref()?;
    Some(login(id, valid.base_dir()))
}

fn login(id: &Identity, base_dir: &Path) -> Result<Admin> {
    let a = &id.admin;
    // `check` proved the grant's references exist and are well formed (secret-ref-invalid,
    // env-name-invalid); what is left is reading them.
    let need = |r: &Option<crate::policy::model::SecretRef>, what: &str| -> Result<zeroize::Zeroizing<String>> {
        secret::resolve(&r.clone().unwrap_or_default(), base_dir, &format!("identity.admin.{what}")).map_err(Fail::invalid)
    };
    let grant = match a.grant.value {
        AdminGrant::Password => Grant::Password { username: need(&a.username, "username")?, password: need(&a.password, "password")? },
        AdminGrant::ClientCredentials => Grant::ClientCredentials { secret: need(&a.client_secret, "client_secret")? },
    };
    let ca_bundle = a
        .ca_bundle
        .as_ref()
        .map(|p| std::fs::read(base_dir.join(&p.value)).with_context(|| format!("cannot read identity.admin.ca_bundle {}", p.value)).map_err(Fail::invalid))
        .transpose()?;
    // An http(s) URL without credentials: judged by `check` (invalid-address, inline-secret).
    let base = id.url.value.trim_end_matches('/').to_string();
    Admin::connect(Login { base, realm: id.admin_realm().to_string(), client_id: id.admin_client_id().to_string(), grant, ca_bundle })
}

#[cfg(test)]
mod tests;
