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
