//! What the stack gets when the policy leaves a field out.
//!
//! Every consumer (certs, render, keycloak) reads defaults through these
//! helpers, so one policy can never mean two different things.

use super::model::*;

/// Leaf validity when `ca.leaf_validity_days` is omitted.
pub const DEFAULT_LEAF_DAYS: u32 = 90;
/// Intermediate validity when omitted.
pub const DEFAULT_INTERMEDIATE_DAYS: u32 = 1095;
/// Root validity when omitted.
pub const DEFAULT_ROOT_DAYS: u32 = 3650;
/// HSTS max-age when omitted: two years, as Mozilla recommends.
pub const DEFAULT_HSTS_MAX_AGE: u64 = 63_072_000;
/// One year: the minimum HSTS max-age accepted in production.
pub const ONE_YEAR_SECONDS: u64 = 31_536_000;
/// Default CSP for an API gateway.
pub const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// Default Permissions-Policy: deny every powerful feature.
pub const DEFAULT_PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";

impl Environment {
    /// Production and staging get production-grade defaults.
    pub fn is_production_like(self) -> bool {
        matches!(self, Environment::Production | Environment::Staging)
    }
}

impl Service {
    /// The mTLS role, defaulted by kind.
    pub fn mtls_role(&self) -> MtlsRole {
        if let Some(r) = &self.mtls {
            return r.value;
        }
        match self.kind.value {
            ServiceKind::Gateway | ServiceKind::Fastapi => MtlsRole::Both,
            ServiceKind::Worker => MtlsRole::Client,
            ServiceKind::Redis | ServiceKind::Keycloak | ServiceKind::Loki => MtlsRole::Server,
            ServiceKind::Generic => MtlsRole::None,
        }
    }

    /// The trust zone, defaulted by kind.
    pub fn zone(&self) -> Zone {
        if let Some(z) = &self.zone {
            return z.value;
        }
        match self.kind.value {
            ServiceKind::Gateway => Zone::Edge,
            ServiceKind::Fastapi | ServiceKind::Worker | ServiceKind::Generic => Zone::App,
            ServiceKind::Redis => Zone::Data,
            ServiceKind::Keycloak => Zone::Identity,
            ServiceKind::Loki => Zone::Logs,
        }
    }
}

impl MtlsRole {
    /// Gets a server certificate.
    pub fn is_server(self) -> bool {
        matches!(self, MtlsRole::Server | MtlsRole::Both)
    }
    /// Gets a client certificate.
    pub fn is_client(self) -> bool {
        matches!(self, MtlsRole::Client | MtlsRole::Both)
    }
}

impl Ca {
    /// Key algorithm, default ECDSA P-256.
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.key_algorithm.as_ref().map(|k| k.value).unwrap_or(KeyAlgorithm::EcdsaP256)
    }
    /// Leaf validity in days.
    pub fn leaf_days(&self) -> u32 {
        self.leaf_validity_days.as_ref().map(|v| v.value).unwrap_or(DEFAULT_LEAF_DAYS)
    }
    /// Intermediate validity in days.
    pub fn intermediate_days(&self) -> u32 {
        self.intermediate_validity_days.as_ref().map(|v| v.value).unwrap_or(DEFAULT_INTERMEDIATE_DAYS)
    }
    /// Root validity in days.
    pub fn root_days(&self) -> u32 {
        self.root_validity_days.as_ref().map(|v| v.value).unwrap_or(DEFAULT_ROOT_DAYS)
    }
    /// Renew this many days before expiry: explicit, or a third of the leaf lifetime (step-ca and cert-manager renew at 2/3).
    pub fn renew_before_days(&self) -> u32 {
        self.renew_before_days.as_ref().map(|v| v.value).unwrap_or_else(|| self.leaf_days().div_ceil(3))
    }
    /// Organization for subjects.
    pub fn organization<'a>(&'a self, project: &'a Project) -> &'a str {
        self.organization.as_ref().map(|o| o.value.as_str()).unwrap_or(project.name.value.as_str())
    }
}

impl Edge {
    /// TLS profile, default intermediate.
    pub fn tls_profile(&self) -> TlsProfile {
        self.tls_profile.as_ref().map(|p| p.value).unwrap_or(TlsProfile::Intermediate)
    }
}

impl Hsts {
    /// Whether HSTS is sent, given the environment.
    pub fn enabled_in(&self, env: Environment) -> bool {
        self.enabled.as_ref().map(|e| e.value).unwrap_or(env.is_production_like())
    }
    /// max-age in seconds.
    pub fn max_age(&self) -> u64 {
        self.max_age.as_ref().map(|m| m.value).unwrap_or(DEFAULT_HSTS_MAX_AGE)
    }
}

impl Route {
    /// Listener, default public.
    pub fn listener(&self) -> Listener {
        self.listener.as_ref().map(|l| l.value).unwrap_or(Listener::Public)
    }
    /// Auth mode, default required.
    pub fn auth(&self) -> AuthMode {
        self.auth.as_ref().map(|a| a.value).unwrap_or(AuthMode::Required)
    }
}

impl Waf {
    /// Paranoia level, default 1.
    pub fn paranoia_level(&self) -> u8 {
        self.paranoia_level.as_ref().map(|p| p.value).unwrap_or(1)
    }
}

impl Policy {
    /// The environment.
    pub fn environment(&self) -> Environment {
        self.project.environment.value
    }
    /// Looks a service up by name.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.get(name)
    }
    /// Flows whose caller is `from`.
    pub fn flows_from<'a>(&'a self, from: &'a str) -> impl Iterator<Item = &'a Flow> + 'a {
        self.flows.iter().filter(move |f| f.from.value == from)
    }
    /// Flows whose callee is `to`.
    pub fn flows_to<'a>(&'a self, to: &'a str) -> impl Iterator<Item = &'a Flow> + 'a {
        self.flows.iter().filter(move |f| f.to.value == to)
    }
}

/// Deploy roots with defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployPaths {
    /// Rendered output root.
    pub config_dir: String,
    /// PKI root.
    pub pki_dir: String,
    /// Runtime state root.
    pub state_dir: String,
    /// Secret files root.
    pub secrets_dir: String,
}

impl Policy {
    /// Deploy roots: explicit, or the Compose defaults.
    pub fn deploy_paths(&self) -> DeployPaths {
        let get = |f: fn(&Deploy) -> &Option<SString>, d: &str| {
            self.deploy.as_ref().and_then(|x| f(x).as_ref()).map(|v| v.value.clone()).unwrap_or_else(|| d.to_string())
        };
        DeployPaths {
            config_dir: get(|d| &d.config_dir, "/etc/secctl"),
            pki_dir: get(|d| &d.pki_dir, "/etc/secctl/pki"),
            state_dir: get(|d| &d.state_dir, "/var/lib/secctl"),
            secrets_dir: get(|d| &d.secrets_dir, "/run/secrets"),
        }
    }
}

// ---- render (gateway) defaults -------------------------------------------------

/// Per-IP limit for ordinary routes when the policy sets none: (rate, burst).
pub const DEFAULT_ROUTE_PER_IP: (&str, u32) = ("20r/s", 40);
/// Per-IP limit for AI routes when the policy sets none.
pub const DEFAULT_AI_PER_IP: (&str, u32) = ("2r/s", 5);
/// Per-user (bearer token) limit for AI routes when the policy sets none.
pub const DEFAULT_AI_PER_USER: (&str, u32) = ("10r/m", 3);
/// Default request body limit.
pub const DEFAULT_MAX_BODY: &str = "1m";
/// Default CORS methods.
pub const DEFAULT_CORS_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// Default CORS request headers.
pub const DEFAULT_CORS_HEADERS: &[&str] = &["Authorization", "Content-Type"];
/// Default preflight cache lifetime.
pub const DEFAULT_CORS_MAX_AGE: u32 = 600;
/// Default methods CRS allows (REST verbs included, see rule 900200).
pub const DEFAULT_WAF_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// Default request content types CRS allows (rule 900220).
pub const DEFAULT_WAF_CONTENT_TYPES: &[&str] = &["application/json", "application/x-www-form-urlencoded", "multipart/form-data"];
/// Default ModSecurity JSON audit log.
pub const DEFAULT_WAF_AUDIT_LOG: &str = "/var/log/modsecurity/audit.json";

impl Route {
    /// Per-IP limit (rate, burst): explicit, or the default for the route kind. Every route has one.
    pub fn per_ip_limit(&self) -> (String, u32) {
        if let Some(l) = self.rate_limit.as_ref().and_then(|r| r.per_ip.as_ref()) {
            return (l.rate.value.clone(), l.burst.value);
        }
        let (r, b) = if self.ai.value { DEFAULT_AI_PER_IP } else { DEFAULT_ROUTE_PER_IP };
        (r.to_string(), b)
    }
    /// What the kit does when Redis cannot count: explicit, else closed on AI routes, open elsewhere.
    pub fn on_redis_down(&self) -> super::model::OnRedisDown {
        use super::model::OnRedisDown;
        match self.rate_limit.as_ref().and_then(|r| r.on_redis_down.as_ref()) {
            Some(v) => v.value,
            None if self.ai.value => OnRedisDown::Closed,
            None => OnRedisDown::Open,
        }
    }
    /// Per-user limit (rate, burst): explicit; for AI routes a default; otherwise none.
    pub fn per_user_limit(&self) -> Option<(String, u32)> {
        if let Some(l) = self.rate_limit.as_ref().and_then(|r| r.per_user.as_ref()) {
            return Some((l.rate.value.clone(), l.burst.value));
        }
        self.ai.value.then(|| (DEFAULT_AI_PER_USER.0.to_string(), DEFAULT_AI_PER_USER.1))
    }
    /// Upstream read timeout in seconds: explicit, else 60 (120 for AI routes).
    pub fn timeout_seconds(&self) -> u32 {
        self.timeout_seconds.as_ref().map(|t| t.value).unwrap_or(if self.ai.value { 120 } else { 60 })
    }
}

impl Edge {
    /// Request body limit, nginx size syntax.
    pub fn max_body_size(&self) -> &str {
        self.max_body_size.as_ref().map(|m| m.value.as_str()).unwrap_or(DEFAULT_MAX_BODY)
    }
}

impl Hsts {
    /// Add `includeSubDomains` (default true).
    pub fn include_subdomains(&self) -> bool {
        self.include_subdomains.as_ref().map(|v| v.value).unwrap_or(true)
    }
    /// Add `preload` (default false).
    pub fn preload(&self) -> bool {
        self.preload.as_ref().map(|v| v.value).unwrap_or(false)
    }
}

/// The header that carries the tenant on tenant-scoped routes (the kit checks it against the claim).
pub const TENANT_HEADER: &str = "X-Tenant-ID";

impl Cors {
    /// Allowed methods, defaulted.
    pub fn methods_or_default(&self) -> Vec<String> {
        or_default(&self.methods, DEFAULT_CORS_METHODS)
    }
    /// Allowed request headers, defaulted.
    pub fn headers_or_default(&self) -> Vec<String> {
        or_default(&self.headers, DEFAULT_CORS_HEADERS)
    }
    /// The request headers a preflight may name, as the gateway, the FastAPI kit and `verify`
    /// all see them: the policy's list (defaulted), plus [`TENANT_HEADER`] when a route is
    /// tenant-scoped, because the SPA sends it there and a preflight without it fails.
    pub fn effective_headers(&self, policy: &super::model::Policy) -> Vec<String> {
        let mut headers = self.headers_or_default();
        if policy.routes.iter().any(|r| r.tenant_scoped.value) && !headers.iter().any(|h| h.eq_ignore_ascii_case(TENANT_HEADER)) {
            headers.push(TENANT_HEADER.to_string());
        }
        headers
    }
    /// Preflight max-age, defaulted.
    pub fn max_age(&self) -> u32 {
        self.max_age.as_ref().map(|m| m.value).unwrap_or(DEFAULT_CORS_MAX_AGE)
    }
}

impl Waf {
    /// Allowed methods, defaulted.
    pub fn allowed_methods_or_default(&self) -> Vec<String> {
        or_default(&self.allowed_methods, DEFAULT_WAF_METHODS)
    }
    /// Allowed content types, defaulted.
    pub fn allowed_content_types_or_default(&self) -> Vec<String> {
        or_default(&self.allowed_content_types, DEFAULT_WAF_CONTENT_TYPES)
    }
    /// Inbound and outbound anomaly thresholds (CRS defaults 5 and 4).
    pub fn thresholds(&self) -> (u32, u32) {
        let t = self.anomaly_threshold.as_ref();
        (
            t.and_then(|t| t.inbound.as_ref()).map(|v| v.value).unwrap_or(5),
            t.and_then(|t| t.outbound.as_ref()).map(|v| v.value).unwrap_or(4),
        )
    }
    /// JSON audit log path.
    pub fn audit_log(&self) -> &str {
        self.audit_log.as_ref().map(|a| a.value.as_str()).unwrap_or(DEFAULT_WAF_AUDIT_LOG)
    }
}

fn or_default(v: &[SString], d: &[&str]) -> Vec<String> {
    if v.is_empty() { d.iter().map(|s| s.to_string()).collect() } else { v.iter().map(|s| s.value.clone()).collect() }
}

// --- Keycloak (identity) defaults -------------------------------------------------------------

/// Event types stored when `identity.events.types` is omitted: what an audit trail needs
/// (logins, logouts, token use, credential changes, and every error).
pub const DEFAULT_KC_EVENT_TYPES: &[&str] = &[
    "LOGIN", "LOGIN_ERROR", "LOGOUT", "LOGOUT_ERROR", "CODE_TO_TOKEN", "CODE_TO_TOKEN_ERROR",
    "CLIENT_LOGIN", "CLIENT_LOGIN_ERROR", "REFRESH_TOKEN_ERROR", "TOKEN_EXCHANGE_ERROR",
    "UPDATE_PASSWORD", "UPDATE_PASSWORD_ERROR", "RESET_PASSWORD", "RESET_PASSWORD_ERROR",
    "UPDATE_CREDENTIAL", "REMOVE_CREDENTIAL", "USER_DISABLED_BY_TEMPORARY_LOCKOUT",
    "USER_DISABLED_BY_PERMANENT_LOCKOUT",
];

impl Identity {
    /// Realm the admin account lives in.
    pub fn admin_realm(&self) -> &str {
        self.admin.realm.as_ref().map(|r| r.value.as_str()).unwrap_or("master")
    }
    /// Admin client id.
    pub fn admin_client_id(&self) -> &str {
        self.admin.client_id.as_ref().map(|r| r.value.as_str()).unwrap_or("admin-cli")
    }
    /// Keycloak `sslRequired`: `all` in production-like environments, `external` (loopback and
    /// private addresses may use http) elsewhere.
    pub fn ssl_required(&self, env: Environment) -> &'static str {
        if env.is_production_like() { "all" } else { "external" }
    }
    /// Tenancy model; `organizations` when omitted (Keycloak's own multi-tenancy).
    pub fn tenancy_model(&self) -> TenancyModel {
        self.tenancy.as_ref().map(|t| t.model.value).unwrap_or(TenancyModel::Organizations)
    }
    /// Token claim carrying the tenant.
    pub fn tenant_claim(&self) -> &str {
        self.tenancy.as_ref().and_then(|t| t.claim.as_ref()).map(|c| c.value.as_str()).unwrap_or("tenant")
    }
    /// User attribute holding the tenant (attribute model).
    pub fn tenant_attribute(&self) -> &str {
        self.tenancy.as_ref().and_then(|t| t.attribute.as_ref()).map(|c| c.value.as_str()).unwrap_or("tenant")
    }
}

impl Tokens {
    /// Access token lifespan, seconds.
    pub fn access(o: Option<&Tokens>) -> u32 {
        o.and_then(|t| t.access_token_lifespan.as_ref()).map(|v| v.value).unwrap_or(300)
    }
    /// SSO session idle, seconds.
    pub fn idle(o: Option<&Tokens>) -> u32 {
        o.and_then(|t| t.sso_session_idle.as_ref()).map(|v| v.value).unwrap_or(1800)
    }
    /// SSO session max, seconds.
    pub fn max(o: Option<&Tokens>) -> u32 {
        o.and_then(|t| t.sso_session_max.as_ref()).map(|v| v.value).unwrap_or(36000)
    }
}

impl BruteForce {
    /// (enabled, failures, wait increment, max wait) with defaults (on, 5, 60, 900).
    pub fn settings(o: Option<&BruteForce>) -> (bool, u32, u32, u32) {
        let g = |f: fn(&BruteForce) -> Option<u32>, d| o.and_then(f).unwrap_or(d);
        (
            o.and_then(|b| b.enabled.as_ref()).map(|v| v.value).unwrap_or(true),
            g(|b| b.max_failures.as_ref().map(|v| v.value), 5),
            g(|b| b.wait_increment_seconds.as_ref().map(|v| v.value), 60),
            g(|b| b.max_wait_seconds.as_ref().map(|v| v.value), 900),
        )
    }
}

impl PasswordPolicy {
    /// Minimum length (12).
    pub fn min_len(&self) -> u32 {
        self.min_length.as_ref().map(|v| v.value).unwrap_or(12)
    }
    /// Reject the username as password (true).
    pub fn rejects_username(&self) -> bool {
        self.not_username.as_ref().map(|v| v.value).unwrap_or(true)
    }
}

impl Events {
    /// (login events, admin events, admin details, retention seconds) with defaults (on, on, off, 30 days).
    pub fn settings(o: Option<&Events>) -> (bool, bool, bool, u64) {
        (
            o.and_then(|e| e.login.as_ref()).map(|v| v.value).unwrap_or(true),
            o.and_then(|e| e.admin.as_ref()).map(|v| v.value).unwrap_or(true),
            o.and_then(|e| e.admin_details.as_ref()).map(|v| v.value).unwrap_or(false),
            o.and_then(|e| e.expiration_seconds.as_ref()).map(|v| v.value).unwrap_or(2_592_000),
        )
    }
    /// Stored event types.
    pub fn types(o: Option<&Events>) -> Vec<String> {
        match o {
            Some(e) if !e.types.is_empty() => e.types.iter().map(|t| t.value.clone()).collect(),
            _ => DEFAULT_KC_EVENT_TYPES.iter().map(|s| s.to_string()).collect(),
        }
    }
}
