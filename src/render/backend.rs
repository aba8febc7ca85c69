//! Backend: the route rules the FastAPI kit enforces (roles, allowed calling clients, tenant
//! scope), and `backend/secctl_security.py`, the shim that keeps the old import path working.
//!
//! The `azp` allow-list per upstream is the SPA clients (public routes only) plus the clients of
//! services that have a flow to that upstream. [`super::kit`] serializes these rules into
//! `kit/<service>.json`.

use std::collections::BTreeSet;

use anyhow::Result;
use serde::Serialize;

use crate::policy::model::{AuthMode, ClientKind, Listener, Policy};

use super::{Context, RenderedFile};

const SHIM: &str = include_str!("../../templates/backend/secctl_security.py");

/// A route rule as the Python module sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteRule {
    /// Path prefix (ends with `/`) or exact path.
    pub path: String,
    /// Exact-path match.
    pub exact: bool,
    /// Upstream service.
    pub upstream: String,
    /// Token required.
    pub auth: bool,
    /// Realm roles, any of.
    pub roles: BTreeSet<String>,
    /// Tenant must match the token's tenant claim.
    pub tenant_scoped: bool,
    /// Allowed `azp` values.
    pub azp: BTreeSet<String>,
}

/// Route rules for every public or internal route, longest path first (first match wins).
pub fn rules(policy: &Policy) -> Vec<RouteRule> {
    let Some(identity) = &policy.identity else {
        return Vec::new();
    };
    let spa: BTreeSet<String> = identity
        .clients
        .iter()
        .filter(|c| c.kind.value == ClientKind::Spa)
        .map(|c| c.client_id.value.clone())
        .collect();
    let mut out: Vec<RouteRule> = policy
        .routes
        .iter()
        .map(|r| {
            let up = r.upstream.value.clone();
            // Clients of services that have a flow to this upstream (direct or through the gateway).
            let callers: BTreeSet<&str> = policy
                .flows_to(&up)
                .map(|f| f.from.value.as_str())
                .collect();
            let mut azp: BTreeSet<String> = identity
                .clients
                .iter()
                .filter(|c| {
                    c.kind.value != ClientKind::Spa
                        && c.service
                            .as_ref()
                            .is_some_and(|s| callers.contains(s.value.as_str()))
                })
                .map(|c| c.client_id.value.clone())
                .collect();
            // Browsers reach public routes only.
            if r.listener() == Listener::Public {
                azp.extend(spa.iter().cloned());
            }
            RouteRule {
                exact: !r.path.value.ends_with('/'),
                path: r.path.value.clone(),
                upstream: up,
                auth: r.auth() == AuthMode::Required,
                roles: r.roles.iter().map(|x| x.value.clone()).collect(),
                tenant_scoped: r.tenant_scoped.value,
                azp,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.path
            .len()
            .cmp(&a.path.len())
            .then_with(|| a.path.cmp(&b.path))
    });
    out
}

/// Renders `backend/secctl_security.py`: a compatibility shim with no policy data (the logic and
/// the settings moved to `secctl_fastapi` and `kit/<service>.json`; see docs/fastapi.md).
/// Nothing when the policy has no `identity`.
pub fn render(ctx: &Context) -> Result<Vec<RenderedFile>> {
    if ctx.loaded.policy.identity.is_none() {
        return Ok(Vec::new());
    }
    Ok(vec![RenderedFile {
        path: "backend/secctl_security.py".into(),
        contents: format!("{}{}", ctx.header("#"), SHIM),
        mode: 0o644,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{LoadedPolicy, load::parse_bytes};

    #[test]
    fn reference_rules() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/reference.yaml"
        ))
        .unwrap();
        let (policy, source) = parse_bytes("reference.yaml", text.as_bytes()).unwrap();
        let r = rules(&policy);
        assert_eq!(r[0].path, "/api/admin/", "longest prefix first");
        let api = r.iter().find(|x| x.path == "/api/").unwrap();
        assert_eq!(
            api.azp.iter().map(String::as_str).collect::<Vec<_>>(),
            ["web", "worker"],
            "SPA + worker (flow via gateway)"
        );
        let internal = r.iter().find(|x| x.path == "/internal/").unwrap();
        assert_eq!(
            internal.azp.iter().map(String::as_str).collect::<Vec<_>>(),
            ["worker"],
            "no browser on the internal listener"
        );
        let ai = r.iter().find(|x| x.path == "/ai/").unwrap();
        assert_eq!(
            ai.azp.iter().map(String::as_str).collect::<Vec<_>>(),
            ["web"]
        );
        assert!(
            r.iter()
                .find(|x| x.path == "/healthz")
                .is_some_and(|h| h.exact && !h.auth)
        );
        let l = LoadedPolicy {
            policy,
            source,
            base_dir: ".".into(),
        };
        let m = render(&Context::new(&crate::policy::ValidPolicy::assume_valid(l.clone()))).unwrap().remove(0).contents;
        assert!(m.contains("from secctl_fastapi import"), "the shim re-exports the kit");
        assert!(!m.contains("acme"), "the shim carries no policy data");
    }
}
