//! The policy file as written (`version: 1`).
//!
//! These types mirror the YAML one to one. They are deserialized with spans
//! (see [`Spanned`]) and carry no defaults that hide intent: a field left out
//! is `None`, and [`crate::policy::effective`] decides what the stack gets.
//! Semantic checks live in [`crate::policy::check`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::span::Spanned;

/// Shorthand for a spanned string.
pub type SString = Spanned<String>;

/// The whole policy document.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "secctl policy", description = "One file that describes how a stack is secured. See docs/policy.md.")]
pub struct Policy {
    /// Policy format version. Only `1` exists.
    pub version: Spanned<u32>,
    /// Project name and environment.
    pub project: Project,
    /// Every service in the stack, by name. The name is the service's identity:
    /// it becomes the certificate CN, the SPIFFE path, the Redis user and the Compose service.
    pub services: BTreeMap<String, Service>,
    /// The allowed service-to-service connections. Anything not listed is denied.
    #[serde(default)]
    pub flows: Vec<Flow>,
    /// The public edge: host names, TLS, HSTS, headers and CORS.
    pub edge: Option<Edge>,
    /// Path prefixes on the gateway and where they go.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Identity provider (Keycloak) realm, roles, clients and tenants.
    pub identity: Option<Identity>,
    /// ModSecurity with the OWASP CRS.
    pub waf: Option<Waf>,
    /// Redis users, key patterns and error queues.
    pub redis: Option<Redis>,
    /// The private service CA that issues every mTLS certificate.
    pub ca: Option<Ca>,
    /// Audit events and where they are shipped.
    pub audit: Option<Audit>,
    /// Where rendered configs, certificates and runtime state live on the target hosts.
    pub deploy: Option<Deploy>,
}

/// Paths on the hosts or containers that run the stack. Rendered configs refer to
/// files through these roots, so the same policy renders for Compose (defaults) and,
/// in a copy with other roots, for a loopback test stack.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// Where the rendered output directory is mounted. Default `/etc/secctl`.
    pub config_dir: Option<SString>,
    /// Where the PKI directory is mounted (layout in docs/ca.md). Default `/etc/secctl/pki`.
    pub pki_dir: Option<SString>,
    /// Writable runtime state (pid files, temp files, logs). Default `/var/lib/secctl`.
    pub state_dir: Option<SString>,
    /// Where secret files (Redis passwords) are mounted. Default `/run/secrets`.
    pub secrets_dir: Option<SString>,
}

/// Project metadata.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Short project name (lowercase letters, digits and `-`). Used in generated names.
    pub name: SString,
    /// Which environment this policy describes. Production turns on stricter defaults (HSTS, no test users).
    pub environment: Spanned<Environment>,
}

/// Deployment environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Environment {
    /// Live traffic: strictest defaults.
    Production,
    /// Pre-production: production-like.
    Staging,
    /// Developer machines and test stacks.
    Dev,
}

/// What a service is; drives defaults such as its trust zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceKind {
    /// The nginx gateway with ModSecurity.
    Gateway,
    /// A FastAPI (uvicorn) application: the backend or the AI service.
    Fastapi,
    /// A background worker.
    Worker,
    /// Redis.
    Redis,
    /// Keycloak.
    Keycloak,
    /// Loki (log sink).
    Loki,
    /// Anything else.
    Generic,
}

/// Which side of mTLS a service plays; decides which certificates it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MtlsRole {
    /// Accepts mTLS connections: gets a server certificate.
    Server,
    /// Makes mTLS connections: gets a client certificate.
    Client,
    /// Both: gets both certificates.
    Both,
    /// Takes no part in mTLS.
    None,
}

/// A Compose network / trust zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Zone {
    /// The only zone with published ports.
    Edge,
    /// Application services.
    App,
    /// Data stores (Redis).
    Data,
    /// Identity (Keycloak).
    Identity,
    /// Log shipping.
    Logs,
}

/// One service.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// What the service is.
    pub kind: Spanned<ServiceKind>,
    /// DNS names the service is reached by (Compose service names, internal FQDNs). They become server-certificate SANs.
    #[serde(default)]
    pub dns_names: Vec<SString>,
    /// IP addresses the service is reached by. They become server-certificate SANs.
    #[serde(default)]
    pub ips: Vec<SString>,
    /// Where the service listens.
    pub listen: Option<Listen>,
    /// Which mTLS certificates the service needs. Defaults by kind (see docs/policy.md).
    pub mtls: Option<Spanned<MtlsRole>>,
    /// Trust zone (Compose network). Defaults by kind.
    pub zone: Option<Spanned<Zone>>,
}

/// A listen address.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// Bind address or host, e.g. `0.0.0.0` or `127.0.0.1`.
    pub host: SString,
    /// TCP port.
    pub port: Spanned<u16>,
}

/// An allowed connection from one service to another.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// The calling service.
    pub from: SString,
    /// The called service.
    pub to: SString,
    /// Set to the gateway's name when the call goes through the gateway's internal mTLS listener;
    /// the gateway then admits the caller's certificate identity for routes whose upstream is `to`.
    pub via: Option<SString>,
    /// Why this flow exists (kept in generated comments).
    pub description: Option<String>,
}

/// Mozilla Server Side TLS profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TlsProfile {
    /// TLS 1.3 only.
    Modern,
    /// TLS 1.2 and 1.3 with AEAD ciphers (the default).
    Intermediate,
}

/// The public edge of the gateway.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// The gateway service (must have kind `gateway`).
    pub gateway: SString,
    /// Public host names served (nginx `server_name`).
    pub hosts: Vec<SString>,
    /// Public TLS listener. Defaults to the gateway service's `listen`.
    pub listen: Option<Listen>,
    /// Plain-HTTP listener that only redirects to HTTPS (308). Omit for none.
    pub http_redirect: Option<Listen>,
    /// Internal mTLS listener for service-to-service calls through the gateway.
    pub internal_listen: Option<Listen>,
    /// TLS profile; `intermediate` when omitted.
    pub tls_profile: Option<Spanned<TlsProfile>>,
    /// HSTS. On by default in production and staging.
    pub hsts: Option<Hsts>,
    /// Security headers.
    pub headers: Option<Headers>,
    /// CORS allowlist. Omit to send no CORS headers at all.
    pub cors: Option<Cors>,
    /// Maximum request body, nginx size syntax (`1m`, `512k`). Default `1m`.
    pub max_body_size: Option<SString>,
}

/// HTTP Strict Transport Security.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hsts {
    /// Whether to send the header. Default: on in production and staging, off in dev.
    pub enabled: Option<Spanned<bool>>,
    /// `max-age` in seconds. Default 63072000 (two years).
    pub max_age: Option<Spanned<u64>>,
    /// Add `includeSubDomains`. Default true.
    pub include_subdomains: Option<Spanned<bool>>,
    /// Add `preload`. Default false; only set it when the domain is on the preload list.
    pub preload: Option<Spanned<bool>>,
}

/// Security response headers. Each has a safe default; set one to override it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Headers {
    /// Content-Security-Policy. Default for an API: `default-src 'none'; frame-ancestors 'none'; base-uri 'none'`.
    pub content_security_policy: Option<SString>,
    /// Referrer-Policy. Default `no-referrer`.
    pub referrer_policy: Option<SString>,
    /// Permissions-Policy. Default denies every powerful feature.
    pub permissions_policy: Option<SString>,
    /// X-Frame-Options. Default `DENY`.
    pub frame_options: Option<SString>,
    /// Cross-Origin-Opener-Policy. Default `same-origin`.
    pub cross_origin_opener_policy: Option<SString>,
    /// Cross-Origin-Resource-Policy. Default `same-origin`.
    pub cross_origin_resource_policy: Option<SString>,
    /// Extra headers, name to value.
    #[serde(default)]
    pub extra: BTreeMap<String, SString>,
}

/// CORS by origin allowlist.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    /// Exact allowed origins (`https://app.example.com`). `*` cannot be combined with credentials.
    pub origins: Vec<SString>,
    /// Allowed methods. Default GET, POST, PUT, PATCH, DELETE, OPTIONS.
    #[serde(default)]
    pub methods: Vec<SString>,
    /// Allowed request headers. Default Authorization, Content-Type.
    #[serde(default)]
    pub headers: Vec<SString>,
    /// Response headers exposed to the browser.
    #[serde(default)]
    pub expose_headers: Vec<SString>,
    /// Send `Access-Control-Allow-Credentials: true`.
    #[serde(default)]
    pub credentials: Spanned<bool>,
    /// Preflight cache lifetime in seconds. Default 600.
    pub max_age: Option<Spanned<u32>>,
}

/// Whether a route needs a bearer token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// Anonymous access.
    None,
    /// A valid access token is required.
    Required,
}

/// Which gateway listener serves a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Listener {
    /// The public TLS listener (default).
    Public,
    /// The internal mTLS listener; callers are authorized by certificate identity from `flows`.
    Internal,
}

/// One route on the gateway.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Path prefix, starting and ending with `/` (e.g. `/api/`), or an exact path such as `/healthz`.
    pub path: SString,
    /// Upstream service name.
    pub upstream: SString,
    /// Which listener serves the route. Default `public`.
    pub listener: Option<Spanned<Listener>>,
    /// Bearer token required? Default `required`.
    pub auth: Option<Spanned<AuthMode>>,
    /// Realm roles allowed (any of). Empty means any authenticated user.
    #[serde(default)]
    pub roles: Vec<SString>,
    /// The token's tenant claim must match the tenant in the request.
    #[serde(default)]
    pub tenant_scoped: Spanned<bool>,
    /// AI endpoint: gets the stricter AI rate-limit defaults and longer timeouts.
    #[serde(default)]
    pub ai: Spanned<bool>,
    /// Rate limits. Defaults depend on `ai`.
    pub rate_limit: Option<RateLimit>,
    /// ModSecurity exclusions for this route only.
    #[serde(default)]
    pub waf_exclusions: Vec<WafExclusion>,
    /// Upstream read timeout in seconds. Default 60 (120 for AI routes).
    pub timeout_seconds: Option<Spanned<u32>>,
}

/// Rate limits for a route.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Keyed on the client address (the gateway, and the FastAPI kit with IPv6 grouped by /64).
    pub per_ip: Option<Limit>,
    /// Keyed on the verified user (`sub` and tenant), counted by the FastAPI kit in Redis.
    pub per_user: Option<Limit>,
    /// What the FastAPI kit does when Redis cannot count: `closed` answers 503, `open` serves the
    /// request and logs. Default: `closed` on AI routes, `open` elsewhere.
    pub on_redis_down: Option<Spanned<OnRedisDown>>,
}

/// The FastAPI kit's answer when its rate limiter cannot reach Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnRedisDown {
    /// Refuse with 503 (the default for AI routes: an unmetered model is a cost and abuse risk).
    Closed,
    /// Serve the request and log the limiter failure (the default elsewhere).
    Open,
}

/// One limit, in nginx `limit_req` terms.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Sustained rate: `<n>r/s` or `<n>r/m`.
    pub rate: SString,
    /// Requests allowed above the rate before 429s start.
    #[serde(default)]
    pub burst: Spanned<u32>,
}

/// ModSecurity engine mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WafMode {
    /// Block requests over the anomaly threshold (`SecRuleEngine On`).
    Blocking,
    /// Log only (`SecRuleEngine DetectionOnly`).
    DetectionOnly,
}

/// ModSecurity + OWASP CRS 3.3.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Waf {
    /// Engine mode.
    pub mode: Spanned<WafMode>,
    /// CRS paranoia level, 1 to 4. Default 1.
    pub paranoia_level: Option<Spanned<u8>>,
    /// Anomaly score thresholds.
    pub anomaly_threshold: Option<AnomalyThreshold>,
    /// HTTP methods CRS allows. Default GET HEAD POST PUT PATCH DELETE OPTIONS.
    #[serde(default)]
    pub allowed_methods: Vec<SString>,
    /// Request content types CRS allows. Default JSON, form and multipart.
    #[serde(default)]
    pub allowed_content_types: Vec<SString>,
    /// Exclusions that apply to every route.
    #[serde(default)]
    pub exclusions: Vec<WafExclusion>,
    /// Your own rules, as ModSecurity `SecRule` text. Ids must be in 20000-29999.
    #[serde(default)]
    pub custom_rules: Vec<CustomRule>,
    /// Where the JSON audit log is written. Default `/var/log/modsecurity/audit.json`.
    pub audit_log: Option<SString>,
}

/// CRS anomaly thresholds.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnomalyThreshold {
    /// Inbound threshold. Default 5.
    pub inbound: Option<Spanned<u32>>,
    /// Outbound threshold. Default 4.
    pub outbound: Option<Spanned<u32>>,
}

/// A CRS false-positive exclusion.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WafExclusion {
    /// CRS rule ids to exclude. Empty with `args` set means every rule, for those arguments.
    #[serde(default)]
    pub rule_ids: Vec<Spanned<u32>>,
    /// Only for these arguments (e.g. `json.prompt`). Empty means the whole rule.
    #[serde(default)]
    pub args: Vec<SString>,
    /// Why (kept in the generated rule).
    pub reason: Option<String>,
}

/// A custom ModSecurity rule.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomRule {
    /// Rule id, in 20000-29999.
    pub id: Spanned<u32>,
    /// What it does.
    pub description: Option<String>,
    /// The full `SecRule ...` text. Its `id:` action must equal `id`.
    pub rule: SString,
}

/// Where a secret comes from. Exactly one of `env` and `file`; `value` exists only so that an
/// inline secret can be reported with its position (it is always an error).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Environment variable holding the secret.
    pub env: Option<SString>,
    /// File holding the secret (trailing newline is stripped).
    pub file: Option<SString>,
    /// Never use: inline secrets are rejected by `secctl check`.
    pub value: Option<SString>,
}

/// Identity provider configuration.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The Keycloak service in `services`.
    pub service: SString,
    /// Base URL of Keycloak as secctl reaches it (admin API), e.g. `https://keycloak.internal:8443`.
    pub url: SString,
    /// Issuer base URL as clients see it, when different from `url`.
    pub public_url: Option<SString>,
    /// The realm secctl manages.
    pub realm: SString,
    /// Display name for the realm.
    pub display_name: Option<String>,
    /// How secctl authenticates to the admin API.
    pub admin: KeycloakAdmin,
    /// Tenancy model.
    pub tenancy: Option<Tenancy>,
    /// Tenants.
    #[serde(default)]
    pub tenants: Vec<Tenant>,
    /// Realm roles.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// OIDC clients.
    #[serde(default)]
    pub clients: Vec<Client>,
    /// Token lifespans.
    pub tokens: Option<Tokens>,
    /// Brute-force protection.
    pub brute_force: Option<BruteForce>,
    /// Password policy.
    pub password_policy: Option<PasswordPolicy>,
    /// Login and admin events.
    pub events: Option<Events>,
    /// Test users. Refused in production.
    pub fixtures: Option<Fixtures>,
}

/// Admin API credentials. Never inline.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeycloakAdmin {
    /// Realm the admin account lives in. Default `master`.
    pub realm: Option<SString>,
    /// Grant type.
    pub grant: Spanned<AdminGrant>,
    /// Client id: `admin-cli` for the password grant, or your admin service client.
    pub client_id: Option<SString>,
    /// Admin username (password grant). Not a secret, but may also come from the environment.
    pub username: Option<SecretRef>,
    /// Admin password (password grant).
    pub password: Option<SecretRef>,
    /// Client secret (client-credentials grant).
    pub client_secret: Option<SecretRef>,
    /// PEM bundle to trust for Keycloak's TLS certificate, in addition to the system roots.
    pub ca_bundle: Option<SString>,
}

/// Admin grant type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AdminGrant {
    /// Resource-owner password grant through `admin-cli`.
    Password,
    /// A confidential admin client.
    ClientCredentials,
}

/// How tenants are represented.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tenancy {
    /// `organizations` (Keycloak 26 Organizations) or `attribute` (a user attribute plus mapper).
    pub model: Spanned<TenancyModel>,
    /// Claim carrying the tenant in access tokens. Default `tenant`.
    pub claim: Option<SString>,
    /// User attribute name for the `attribute` model. Default `tenant`.
    pub attribute: Option<SString>,
}

/// Tenancy model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TenancyModel {
    /// One Keycloak Organization per tenant.
    Organizations,
    /// An admin-only user attribute.
    Attribute,
}

/// A tenant.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// Stable id (lowercase, `-`), used as the organization alias or attribute value.
    pub id: SString,
    /// Display name.
    pub name: Option<String>,
    /// Email domains (Organizations model).
    #[serde(default)]
    pub domains: Vec<SString>,
}

/// A realm role.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Role name.
    pub name: SString,
    /// Description shown in Keycloak.
    pub description: Option<String>,
    /// Roles this role includes.
    #[serde(default)]
    pub composites: Vec<SString>,
}

/// OIDC client kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// Public browser client, authorization code + PKCE S256 only.
    Spa,
    /// Confidential backend; the access-token audience.
    Backend,
    /// Confidential client used only through its service account.
    ServiceAccount,
}

/// An OIDC client.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// `clientId`.
    pub client_id: SString,
    /// Kind.
    pub kind: Spanned<ClientKind>,
    /// Display name.
    pub name: Option<String>,
    /// Exact redirect URIs (SPA). Must be https in production.
    #[serde(default)]
    pub redirect_uris: Vec<SString>,
    /// Allowed web origins (SPA).
    #[serde(default)]
    pub web_origins: Vec<SString>,
    /// Realm roles granted to the service account (service-account clients).
    #[serde(default)]
    pub roles: Vec<SString>,
    /// The service (in `services`) that uses this client.
    pub service: Option<SString>,
    /// Allow the password grant (only for fixture/test clients; never in production).
    #[serde(default)]
    pub direct_access_grants: Spanned<bool>,
    /// Where the client secret is read from when secctl needs it (verification tokens).
    pub secret: Option<SecretRef>,
}

/// Token lifespans, seconds.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    /// Access token lifespan. Default 300.
    pub access_token_lifespan: Option<Spanned<u32>>,
    /// SSO session idle timeout. Default 1800.
    pub sso_session_idle: Option<Spanned<u32>>,
    /// SSO session max lifespan. Default 36000.
    pub sso_session_max: Option<Spanned<u32>>,
}

/// Brute-force detection.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BruteForce {
    /// On by default.
    pub enabled: Option<Spanned<bool>>,
    /// Failures before lockout. Default 5.
    pub max_failures: Option<Spanned<u32>>,
    /// Lockout increment, seconds. Default 60.
    pub wait_increment_seconds: Option<Spanned<u32>>,
    /// Maximum lockout, seconds. Default 900.
    pub max_wait_seconds: Option<Spanned<u32>>,
}

/// Password policy (rendered into Keycloak's policy string).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Minimum length. Default 12.
    pub min_length: Option<Spanned<u32>>,
    /// Require a digit.
    #[serde(default)]
    pub digits: Spanned<bool>,
    /// Require upper and lower case.
    #[serde(default)]
    pub mixed_case: Spanned<bool>,
    /// Require a special character.
    #[serde(default)]
    pub special: Spanned<bool>,
    /// Reject the username as password. Default true.
    pub not_username: Option<Spanned<bool>>,
    /// Remember this many previous passwords.
    pub history: Option<Spanned<u32>>,
}

/// Login and admin events.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Events {
    /// Store login events. Default true.
    pub login: Option<Spanned<bool>>,
    /// Store admin events. Default true.
    pub admin: Option<Spanned<bool>>,
    /// Include representations in admin events. Default false (they may contain personal data).
    pub admin_details: Option<Spanned<bool>>,
    /// Event types to store. Default: the login, logout, token and error types audit needs.
    #[serde(default)]
    pub types: Vec<SString>,
    /// Retention in seconds. Default 2592000 (30 days).
    pub expiration_seconds: Option<Spanned<u64>>,
}

/// Test fixtures; refused when the environment is production.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    /// Test users.
    #[serde(default)]
    pub users: Vec<FixtureUser>,
}

/// A test user.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixtureUser {
    /// Username.
    pub username: SString,
    /// Email (Keycloak requires a complete profile for the password grant).
    pub email: Option<SString>,
    /// Tenant id.
    pub tenant: Option<SString>,
    /// Realm roles.
    #[serde(default)]
    pub roles: Vec<SString>,
    /// Password source.
    pub password: SecretRef,
}

/// Redis users and queues.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Redis {
    /// The Redis service in `services`.
    pub service: SString,
    /// Per client service: what its Redis user may touch. Every service with a flow to Redis needs an entry.
    pub users: BTreeMap<String, RedisUser>,
    /// Error queues: producers may only write, consumers read.
    #[serde(default)]
    pub error_queues: Vec<ErrorQueue>,
    /// Where generated Redis passwords are written (0600 files). Default `secrets/redis` next to the policy.
    pub secrets_dir: Option<SString>,
}

/// One Redis user's permissions.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisUser {
    /// Key patterns (`~pattern`) with full access.
    #[serde(default)]
    pub keys: Vec<SString>,
    /// Key patterns with read-only access (`%R~`).
    #[serde(default)]
    pub read_keys: Vec<SString>,
    /// Pub/sub channel patterns.
    #[serde(default)]
    pub channels: Vec<SString>,
    /// Command rules, e.g. `+@read`, `+@write`, `-@dangerous`. Default `+@read +@write +@connection -@dangerous -@admin`.
    #[serde(default)]
    pub commands: Vec<SString>,
}

/// A Redis error queue.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorQueue {
    /// Key or pattern, e.g. `errors:*`.
    pub key: SString,
    /// Services that push errors (write-only: `%W~`).
    pub producers: Vec<SString>,
    /// Services that read and remove errors. Only the worker, normally.
    pub consumers: Vec<SString>,
}

/// Key algorithm for CA and leaf keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    /// ECDSA P-256 with SHA-256 (default).
    EcdsaP256,
    /// ECDSA P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA 3072 with SHA-256.
    Rsa3072,
}

/// The private service CA.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ca {
    /// PKI directory, relative to the policy file. Default `pki`. `--pki-dir` overrides it.
    pub pki_dir: Option<SString>,
    /// SPIFFE trust domain for client-certificate URI SANs (`spiffe://<trust_domain>/<service>`).
    pub trust_domain: SString,
    /// Key algorithm. Default `ecdsa-p256`.
    pub key_algorithm: Option<Spanned<KeyAlgorithm>>,
    /// Organization name in subjects.
    pub organization: Option<SString>,
    /// Root CA validity in days. Default 3650.
    pub root_validity_days: Option<Spanned<u32>>,
    /// Intermediate CA validity in days. Default 1095.
    pub intermediate_validity_days: Option<Spanned<u32>>,
    /// Leaf validity in days. Default 90.
    pub leaf_validity_days: Option<Spanned<u32>>,
    /// Renew leaves this many days before expiry. Default: a third of the leaf validity.
    pub renew_before_days: Option<Spanned<u32>>,
    /// Name constraints on the intermediate CA.
    pub name_constraints: NameConstraints,
    /// Passphrase that encrypts the root key (encrypted PKCS#8). Omit to store it unencrypted (0600).
    pub root_passphrase: Option<SecretRef>,
}

/// Permitted subtrees.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameConstraints {
    /// Permitted DNS subtrees, without a leading dot (`svc.internal` covers every subdomain).
    #[serde(default)]
    pub dns: Vec<SString>,
    /// Permitted IP ranges in CIDR notation.
    #[serde(default)]
    pub ips: Vec<SString>,
}

/// Audit logging.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// Which events are shipped.
    pub events: Vec<Spanned<AuditEvent>>,
    /// Where they go.
    pub sink: AuditSink,
    /// Days the log store keeps events (1-36500). The worker dead-letters events older than this,
    /// because the store would drop them silently with a 200. Default 365.
    pub retention_days: Option<Spanned<u32>>,
    /// Event categories whose operation is refused (503) when its audit event cannot be queued.
    /// Events of other categories fail open: written to stderr and the request proceeds.
    /// Default `[admin]`.
    pub fail_closed: Option<Vec<Spanned<AuditCategory>>>,
    /// The `worker` service that runs the audit task and alone may read the audit streams.
    /// Default: the only service of kind `worker`.
    pub worker: Option<SString>,
}

impl Policy {
    /// The service that runs the audit task: `audit.worker`, else the only service of kind `worker`.
    pub fn audit_worker(&self) -> Option<String> {
        let a = self.audit.as_ref()?;
        if let Some(w) = &a.worker {
            return Some(w.value.clone());
        }
        let mut workers = self.services.iter().filter(|(_, s)| s.kind.value == ServiceKind::Worker).map(|(n, _)| n.clone());
        match (workers.next(), workers.next()) {
            (Some(w), None) => Some(w),
            _ => None,
        }
    }
}

/// A category of audit events (the kit derives it from the event name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuditCategory {
    /// Logins and token failures (`auth.*`, `login.*`).
    Authentication,
    /// RBAC and tenant denials (`authz.*`, `tenant.*`).
    Authorization,
    /// Administrative operations (`admin.*`).
    Admin,
    /// Rate limits and mTLS refusals.
    Security,
    /// Gateway access records.
    Access,
}

/// An auditable event class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuditEvent {
    /// Keycloak login events.
    Login,
    /// Keycloak admin events.
    Admin,
    /// WAF blocks and detections (ModSecurity audit log).
    Waf,
    /// Rate-limit rejections (nginx 429s).
    RateLimit,
    /// Rejected mTLS handshakes and identities.
    Mtls,
    /// Gateway access log.
    Access,
}

/// Audit sink kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SinkKind {
    /// Loki push API (`url` required).
    Loki,
    /// Elasticsearch bulk API (`url` required).
    Elasticsearch,
    /// A local file (`path` required).
    File,
}

/// Audit sink.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditSink {
    /// Kind.
    pub kind: Spanned<SinkKind>,
    /// Push URL: the Loki push endpoint (`.../loki/api/v1/push`) or the Elasticsearch `_bulk`
    /// endpoint. VictoriaLogs serves both (`/insert/loki/api/v1/push`, `/insert/elasticsearch/_bulk`).
    /// Must be https in production.
    pub url: Option<SString>,
    /// File path (file).
    pub path: Option<SString>,
    /// Basic-auth user for the sink, by reference.
    pub username: Option<SecretRef>,
    /// Basic-auth password for the sink, by reference.
    pub password: Option<SecretRef>,
    /// PEM file of the CA that signs the sink's certificate (default: the service CA bundle).
    pub ca_file: Option<SString>,
}
