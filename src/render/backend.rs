//! Backend: `backend/secctl_security.py`, a FastAPI dependency that validates
//! Keycloak access tokens with PyJWT and enforces the policy's routes (roles,
//! allowed calling clients, tenant claim).
//!
//! Everything the module decides comes from the policy: the issuer allow-list
//! and JWKS URL from `identity`, the audience from the `backend` client, the
//! `azp` allow-list per upstream from SPA clients plus the clients of services
//! that have a flow to that upstream, and the route rules from `routes`.

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::policy::model::{AuthMode, ClientKind, Listener, Policy};

use super::{Context, RenderedFile, engine_once};

static ENGINE: std::sync::OnceLock<tera::Tera> = std::sync::OnceLock::new();

const TEMPLATES: &[(&str, &str)] = &[(
    "module",
    include_str!("../../templates/backend/secctl_security.py.tera"),
)];

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

/// A Python literal for a string (JSON string syntax, ASCII only: valid Python whatever the value).
fn py_str(s: &str) -> String {
    super::escape::py(s)
}

fn py_set<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let v: Vec<String> = items.into_iter().map(|s| py_str(s)).collect();
    if v.is_empty() {
        "frozenset()".into()
    } else {
        format!("frozenset({{{}}})", v.join(", "))
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

#[derive(Serialize)]
struct RuleView {
    path: String,
    exact: &'static str,
    upstream: String,
    auth: &'static str,
    roles: String,
    tenant_scoped: &'static str,
    azp: String,
}

/// Renders the backend module (nothing when the policy has no `identity`).
pub fn render(ctx: &Context) -> Result<Vec<RenderedFile>> {
    let policy = &ctx.loaded.policy;
    let Some(identity) = &policy.identity else {
        return Ok(Vec::new());
    };
    let audiences: BTreeSet<String> = identity
        .clients
        .iter()
        .filter(|c| c.kind.value == ClientKind::Backend)
        .map(|c| c.client_id.value.clone())
        .collect();
    if audiences.is_empty() {
        bail!(crate::exit::Fail::invalid(anyhow::anyhow!(
            "{}: `identity.clients` has no client of kind `backend`, so backend/secctl_security.py has no audience to require; \
             add one (e.g. `{{ client_id: backend-api, kind: backend, service: backend }}`)",
            ctx.loaded.source.name
        )));
    }
    let realm = &identity.realm.value;
    let base = identity.url.value.trim_end_matches('/');
    let public = identity
        .public_url
        .as_ref()
        .map(|u| u.value.trim_end_matches('/').to_string())
        .unwrap_or_else(|| base.to_string());
    let issuer = format!("{public}/realms/{realm}");
    // The realm is one URL path segment: `../` in it must not retarget the JWKS URL.
    let jwks = format!("{base}/realms/{}/protocol/openid-connect/certs", super::escape::url_segment(realm));
    let tenancy = identity.tenancy.as_ref();
    let claim = tenancy
        .and_then(|t| t.claim.as_ref())
        .map(|c| c.value.clone())
        .unwrap_or_else(|| "tenant".into());
    let tenants: Vec<String> = identity
        .tenants
        .iter()
        .map(|t| t.id.value.clone())
        .collect();
    let rules: Vec<RuleView> = rules(policy)
        .into_iter()
        .map(|r| RuleView {
            path: py_str(&r.path),
            exact: py_bool(r.exact),
            upstream: py_str(&r.upstream),
            auth: py_bool(r.auth),
            roles: py_set(&r.roles),
            tenant_scoped: py_bool(r.tenant_scoped),
            azp: py_set(&r.azp),
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("header", &ctx.header("#"));
    c.insert("issuer", &py_str(&issuer));
    c.insert("jwks_url", &py_str(&jwks));
    c.insert("audiences", &py_set(&audiences));
    c.insert("tenant_claim", &py_str(&claim));
    c.insert("tenants", &py_set(&tenants));
    c.insert("rules", &rules);
    let contents = engine_once(&ENGINE, TEMPLATES)?.render("module", &c)?;
    Ok(vec![RenderedFile {
        path: "backend/secctl_security.py".into(),
        contents,
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
        assert!(m.contains("ISSUER = \"https://auth.acme.example/realms/acme\""));
        assert!(m.contains("JWKS_URL = \"https://keycloak.acme.internal:8443/realms/acme/protocol/openid-connect/certs\""));
        assert!(m.contains("AUDIENCES = frozenset({\"backend-api\"})"));
        assert!(m.contains("TENANT_CLAIM = \"organization\""));
    }

    #[test]
    fn realm_cannot_retarget_the_jwks_url_and_values_stay_literals() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/reference.yaml"))
            .unwrap()
            .replace("realm: acme", "realm: \"../../admin\\u2028x\"");
        let (policy, source) = parse_bytes("reference.yaml", text.as_bytes()).unwrap();
        let l = LoadedPolicy { policy, source, base_dir: ".".into() };
        let m = render(&Context::new(&crate::policy::ValidPolicy::assume_valid(l))).unwrap().remove(0).contents;
        let jwks = m.lines().find(|l| l.starts_with("JWKS_URL = ")).unwrap();
        assert_eq!(jwks, "JWKS_URL = \"https://keycloak.acme.internal:8443/realms/..%2F..%2Fadmin%E2%80%A8x/protocol/openid-connect/certs\"");
        assert!(m.contains("ISSUER = \"https://auth.acme.example/realms/../../admin\\u2028x\""), "the issuer is compared, never fetched: kept exact, escaped");
        assert!(!m.contains('\u{2028}'));
    }
}
