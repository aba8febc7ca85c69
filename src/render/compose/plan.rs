//! The Compose override as a typed plan: one network per trust zone, membership
//! from the flows, ports only on the gateway, hardening and secret mounts.
//!
//! Membership rule: a service joins its own zone's network and the network of
//! every service it calls. The edge network is the one exception: nobody joins
//! it to call the gateway (that would give them egress); the gateway joins the
//! caller's zone instead (e.g. the worker's `via: gateway` calls).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::policy::model::{MtlsRole, Policy, ServiceKind, Zone};

use super::super::redis::secrets as redis_secrets;

/// Host-side roots, as Compose variables with defaults relative to the project directory.
pub const PKI_VAR: &str = "${SECCTL_PKI_DIR:-./pki}";
/// Rendered tree on the host.
pub const RENDER_VAR: &str = "${SECCTL_RENDER_DIR:-./generated}";
/// Redis secrets on the host (`redis.secrets_dir`).
pub const REDIS_SECRETS_VAR: &str = "${SECCTL_REDIS_SECRETS_DIR:-./secrets/redis}";

/// A policy value as a Compose string: `$` would start a variable, `$$` is a literal `$`.
pub fn lit(v: &str) -> String {
    v.replace('$', "$$")
}

/// Writable paths per kind (everything else is a read-only root filesystem).
fn tmpfs_for(kind: ServiceKind) -> Vec<&'static str> {
    match kind {
        ServiceKind::Gateway => vec![
            "/tmp",
            "/run",
            "/var/cache/nginx",
            "/var/lib/nginx",
            "/var/log/nginx",
            "/var/log/modsecurity",
        ],
        _ => vec!["/tmp"],
    }
}

/// The network name of a zone.
pub fn zone_name(z: Zone) -> &'static str {
    match z {
        Zone::Edge => "edge",
        Zone::App => "app",
        Zone::Data => "data",
        Zone::Identity => "identity",
        Zone::Logs => "logs",
    }
}

/// A secret mounted into a service.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SecretMount {
    /// Compose secret name.
    pub source: String,
    /// Absolute path in the container (the deploy path the rendered configs use).
    pub target: String,
}

/// One service in the override.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServicePlan {
    /// Network name to aliases (the service's dns_names).
    pub networks: BTreeMap<String, Vec<String>>,
    /// Published ports (`host:container`); only the gateway has any.
    pub ports: Vec<String>,
    /// Capabilities added back after `cap_drop: [ALL]`.
    pub cap_add: Vec<String>,
    /// tmpfs mounts.
    pub tmpfs: Vec<String>,
    /// Secrets.
    pub secrets: Vec<SecretMount>,
    /// Volumes (`source:target[:ro]`).
    pub volumes: Vec<String>,
    /// Command override, when secctl owns the process's config.
    pub command: Vec<String>,
}

/// The whole override.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ComposePlan {
    /// Network name to `internal`.
    pub networks: BTreeMap<String, bool>,
    /// Services by name.
    pub services: BTreeMap<String, ServicePlan>,
    /// Secret name to host file.
    pub secrets: BTreeMap<String, String>,
    /// Named volumes.
    pub volumes: BTreeSet<String>,
    /// The only service that may publish ports.
    pub gateway: Option<String>,
}

impl ComposePlan {
    /// Builds the plan from the policy.
    pub fn from_policy(policy: &Policy) -> ComposePlan {
        let paths = policy.deploy_paths();
        // Compose interpolates `$` in every value: policy text is escaped as `$$`.
        let pki = lit(paths.pki_dir.trim_end_matches('/'));
        let cfg = lit(paths.config_dir.trim_end_matches('/'));
        let sec = lit(paths.secrets_dir.trim_end_matches('/'));
        let state = lit(paths.state_dir.trim_end_matches('/'));
        let mut plan = ComposePlan {
            gateway: policy.edge.as_ref().map(|e| e.gateway.value.clone()),
            ..Default::default()
        };
        let zone_of = |s: &str| policy.service(s).map(|x| x.zone()).unwrap_or(Zone::App);
        // Membership from flows.
        let mut member: BTreeMap<String, BTreeSet<Zone>> = policy
            .services
            .iter()
            .map(|(n, s)| (n.clone(), BTreeSet::from([s.zone()])))
            .collect();
        for f in &policy.flows {
            let (from, to) = (
                f.from.value.as_str(),
                f.via
                    .as_ref()
                    .map(|v| v.value.as_str())
                    .unwrap_or(f.to.value.as_str()),
            );
            if !policy.services.contains_key(from) || !policy.services.contains_key(to) {
                continue; // `secctl check` reports unknown services.
            }
            if zone_of(to) == Zone::Edge {
                if zone_of(from) != Zone::Edge {
                    member.get_mut(to).unwrap().insert(zone_of(from));
                }
            } else {
                member.get_mut(from).unwrap().insert(zone_of(to));
            }
        }
        let redis_users: BTreeSet<String> = policy
            .redis
            .as_ref()
            .map(|r| r.users.keys().cloned().collect())
            .unwrap_or_default();
        let redis_service = policy.redis.as_ref().map(|r| r.service.value.clone());
        for (name, s) in &policy.services {
            let mut sp = ServicePlan::default();
            let aliases: Vec<String> = s
                .dns_names
                .iter()
                .filter(|d| d.value != "localhost")
                .map(|d| lit(&d.value))
                .collect();
            for z in &member[name] {
                plan.networks
                    .insert(zone_name(*z).to_string(), *z != Zone::Edge);
                sp.networks
                    .insert(zone_name(*z).to_string(), aliases.clone());
            }
            sp.tmpfs = tmpfs_for(s.kind.value)
                .into_iter()
                .map(String::from)
                .collect();
            // The rendered nginx.conf keeps its pid file, temp dirs and logs in the deploy
            // state dir; under a read-only root filesystem that must be writable too.
            if s.kind.value == ServiceKind::Gateway && !sp.tmpfs.contains(&lit(&paths.state_dir)) {
                sp.tmpfs.push(lit(&paths.state_dir));
            }
            let mut add_secret =
                |sp: &mut ServicePlan, name: String, host: String, target: String| {
                    plan.secrets.insert(name.clone(), host);
                    sp.secrets.push(SecretMount {
                        source: name,
                        target,
                    });
                };
            let role = s.mtls_role();
            let name_lit = lit(name);
            let svc_dir = |f: &str| {
                (
                    format!("{PKI_VAR}/services/{name_lit}/{f}"),
                    format!("{pki}/services/{name_lit}/{f}"),
                )
            };
            if role.is_server() {
                for (suffix, f) in [
                    ("server_crt", "server-fullchain.crt"),
                    ("server_key", "server.key"),
                ] {
                    let (h, t) = svc_dir(f);
                    add_secret(&mut sp, format!("{name}_{suffix}"), h, t);
                }
            }
            if role.is_client() {
                for (suffix, f) in [
                    ("client_crt", "client-fullchain.crt"),
                    ("client_key", "client.key"),
                ] {
                    let (h, t) = svc_dir(f);
                    add_secret(&mut sp, format!("{name}_{suffix}"), h, t);
                }
            }
            if role != MtlsRole::None {
                add_secret(
                    &mut sp,
                    "ca_chain".into(),
                    format!("{PKI_VAR}/ca/chain.crt"),
                    format!("{pki}/ca/chain.crt"),
                );
                add_secret(
                    &mut sp,
                    "ca_bundle".into(),
                    format!("{PKI_VAR}/ca/bundle.crt"),
                    format!("{pki}/ca/bundle.crt"),
                );
            }
            if s.kind.value == ServiceKind::Gateway {
                add_secret(
                    &mut sp,
                    "ca_crl".into(),
                    format!("{PKI_VAR}/ca/crl.pem"),
                    format!("{pki}/ca/crl.pem"),
                );
                // Only the gateway's own config dirs: the PKI secrets mount under `<config_dir>/pki`,
                // and a mount point inside a read-only bind of the whole tree cannot be created.
                sp.volumes.push(format!("{RENDER_VAR}/nginx:{cfg}/nginx:ro"));
                sp.volumes.push(format!("{RENDER_VAR}/modsecurity:{cfg}/modsecurity:ro"));
                sp.volumes.push(format!("gateway-state:{state}/nginx"));
                plan.volumes.insert("gateway-state".into());
            }
            if redis_users.contains(name) {
                let f = lit(&redis_secrets::password_file(name));
                add_secret(
                    &mut sp,
                    f.clone(),
                    format!("{REDIS_SECRETS_VAR}/{f}"),
                    format!("{sec}/{f}"),
                );
            }
            if redis_service.as_deref() == Some(name.as_str()) {
                let f = redis_secrets::ACL_FILE.to_string();
                add_secret(
                    &mut sp,
                    f.clone(),
                    format!("{REDIS_SECRETS_VAR}/{f}"),
                    format!("{sec}/{f}"),
                );
                sp.volumes
                    .push(format!("{RENDER_VAR}/redis:{cfg}/redis:ro"));
                sp.volumes.push(format!("redis-data:{state}/redis"));
                plan.volumes.insert("redis-data".into());
                sp.command = vec!["redis-server".into(), format!("{cfg}/redis/redis.conf")];
            }
            match s.kind.value {
                ServiceKind::Fastapi => sp
                    .volumes
                    .push(format!("{RENDER_VAR}/backend:{cfg}/backend:ro")),
                ServiceKind::Keycloak => {
                    sp.volumes.push("keycloak-data:/opt/keycloak/data".into());
                    plan.volumes.insert("keycloak-data".into());
                }
                ServiceKind::Loki => {
                    sp.volumes.push("loki-data:/loki".into());
                    plan.volumes.insert("loki-data".into());
                }
                _ => {}
            }
            sp.secrets.sort();
            if plan.gateway.as_deref() == Some(name.as_str()) {
                let edge = policy.edge.as_ref().expect("gateway implies edge");
                let mut low = false;
                if let Some(l) = edge.listen.as_ref().or(s.listen.as_ref()) {
                    sp.ports.push(format!("443:{}", l.port.value));
                    low |= l.port.value < 1024;
                }
                if let Some(l) = &edge.http_redirect {
                    sp.ports.push(format!("80:{}", l.port.value));
                    low |= l.port.value < 1024;
                }
                if low {
                    sp.cap_add.push("NET_BIND_SERVICE".into());
                }
            }
            plan.services.insert(name.clone(), sp);
        }
        plan
    }

    /// The networks each service may be on, for [`super::check`].
    pub fn expected_networks(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.services
            .iter()
            .map(|(n, s)| (n.clone(), s.networks.keys().cloned().collect()))
            .collect()
    }
}
