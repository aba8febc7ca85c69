//! secctl's own checks on a Compose document (an override, or the merged output of
//! `docker-compose config`).
//!
//! `docker-compose config` (v1) and the compose-spec schema accept undefined
//! network and secret references, and the schema types booleans as
//! `boolean|string`; these checks close those gaps and, given the policy's
//! plan, enforce the isolation the override is meant to produce.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::diag::Diagnostic;
use crate::policy::Span;

/// What the policy expects of the (merged) file.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    /// The only service allowed to publish ports.
    pub gateway: Option<String>,
    /// The only network allowed to be non-internal.
    pub edge_network: String,
    /// Service name to the networks it may join. Services not listed are not constrained.
    pub networks: BTreeMap<String, BTreeSet<String>>,
}

/// Boolean keys of a service, network, volume or secret that must be real booleans.
const SERVICE_BOOLS: &[&str] = &["read_only", "privileged", "init", "tty", "stdin_open"];
const NETWORK_BOOLS: &[&str] = &["internal", "attachable", "enable_ipv6", "external"];
const TOP_BOOLS: &[&str] = &["external"];

/// Parses Compose YAML into a JSON value (YAML 1.2 booleans: `"true"` and `yes` stay strings).
pub fn parse(text: &str) -> anyhow::Result<Value> {
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| anyhow::anyhow!("not valid Compose YAML: {e}"))
}

/// Runs every check on `doc` (from `file`). With `expect`, also checks ports,
/// internal networks, network membership and hardening.
pub fn check(file: &str, doc: &Value, expect: Option<&Expectations>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut err = |code: &str, path: String, msg: String, hint: &str| {
        out.push(
            Diagnostic::error(code, file, Span::UNKNOWN, path, msg).with_hint(hint.to_string()),
        );
    };
    let keys = |k: &str| -> BTreeSet<String> {
        doc.get(k)
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (networks, secrets, volumes) = (keys("networks"), keys("secrets"), keys("volumes"));
    for top in ["networks", "volumes", "secrets"] {
        for (name, def) in doc
            .get(top)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let bools = if top == "networks" {
                NETWORK_BOOLS
            } else {
                TOP_BOOLS
            };
            for b in bools {
                if let Some(Value::String(s)) = def.get(*b) {
                    err(
                        "compose-string-boolean",
                        format!("{top}.{name}.{b}"),
                        format!("`{b}: \"{s}\"` is a string, not a boolean"),
                        "write `true` or `false` without quotes",
                    );
                }
            }
        }
    }
    let empty = serde_json::Map::new();
    let services = doc
        .get("services")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, svc) in services {
        let at = |k: &str| format!("services.{name}.{k}");
        for b in SERVICE_BOOLS {
            if let Some(Value::String(s)) = svc.get(*b) {
                err(
                    "compose-string-boolean",
                    at(b),
                    format!("`{b}: \"{s}\"` is a string, not a boolean"),
                    "write `true` or `false` without quotes",
                );
            }
        }
        let joined = service_networks(svc);
        for n in &joined {
            if n != "default" && !networks.contains(n) {
                err(
                    "compose-undefined-network",
                    at("networks"),
                    format!("service `{name}` joins network `{n}`, which is not defined"),
                    "define it under the top-level `networks:` or fix the name",
                );
            }
        }
        for s in svc
            .get("secrets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let src = s
                .as_str()
                .or_else(|| s.get("source").and_then(Value::as_str))
                .unwrap_or("");
            if !secrets.contains(src) {
                err(
                    "compose-undefined-secret",
                    at("secrets"),
                    format!("service `{name}` uses secret `{src}`, which is not defined"),
                    "define it under the top-level `secrets:` with a `file:`",
                );
            }
        }
        for v in svc
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let named = match v {
                Value::String(s) => s
                    .split(':')
                    .next()
                    .filter(|src| s.contains(':') && is_named_volume(src))
                    .map(str::to_string),
                Value::Object(m) if m.get("type").and_then(Value::as_str) == Some("volume") => {
                    m.get("source").and_then(Value::as_str).map(str::to_string)
                }
                _ => None,
            };
            if let Some(n) = named
                && !volumes.contains(&n)
            {
                err(
                    "compose-undefined-volume",
                    at("volumes"),
                    format!("service `{name}` mounts named volume `{n}`, which is not defined"),
                    "define it under the top-level `volumes:`, or use a path starting with `./` or `/` for a bind mount",
                );
            }
        }
        let Some(exp) = expect else { continue };
        let has_ports = svc
            .get("ports")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty());
        if has_ports && exp.gateway.as_deref() != Some(name.as_str()) {
            err(
                "compose-unexpected-ports",
                at("ports"),
                format!("service `{name}` publishes ports; only the gateway may"),
                "remove `ports:` from the base file too: a Compose v1 override cannot remove them",
            );
        }
        if let Some(allowed) = exp.networks.get(name) {
            for n in joined.difference(allowed) {
                err(
                    "compose-unexpected-network",
                    at("networks"),
                    format!(
                        "service `{name}` is on network `{n}`, which its flows do not need (allowed: {})",
                        allowed.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                    "remove the membership from the base file (a Compose v1 override cannot), or add the flow to the policy",
                );
            }
            if svc.get("read_only") != Some(&Value::Bool(true)) {
                err(
                    "compose-missing-hardening",
                    at("read_only"),
                    format!("service `{name}` does not have `read_only: true`"),
                    "keep the secctl override last in the `-f` list",
                );
            }
            let caps: Vec<&str> = svc
                .get("cap_drop")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if !caps.contains(&"ALL") {
                err(
                    "compose-missing-hardening",
                    at("cap_drop"),
                    format!("service `{name}` does not drop all capabilities"),
                    "set `cap_drop: [ALL]` and add back only what is needed",
                );
            }
            let opts: Vec<&str> = svc
                .get("security_opt")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if !opts
                .iter()
                .any(|o| *o == "no-new-privileges:true" || *o == "no-new-privileges")
            {
                err(
                    "compose-missing-hardening",
                    at("security_opt"),
                    format!("service `{name}` lacks `no-new-privileges`"),
                    "add `security_opt: [\"no-new-privileges:true\"]`",
                );
            }
            if svc.get("privileged") == Some(&Value::Bool(true)) {
                err(
                    "compose-missing-hardening",
                    at("privileged"),
                    format!("service `{name}` is privileged"),
                    "remove `privileged: true`",
                );
            }
            if svc.get("network_mode").and_then(Value::as_str).is_some() {
                err(
                    "compose-unexpected-network",
                    at("network_mode"),
                    format!("service `{name}` sets `network_mode`, bypassing the zone networks"),
                    "remove `network_mode`",
                );
            }
        }
    }
    if let Some(exp) = expect {
        for (name, def) in doc
            .get("networks")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let used = services
                .values()
                .any(|s| service_networks(s).contains(name));
            if name != &exp.edge_network && used && def.get("internal") != Some(&Value::Bool(true))
            {
                err(
                    "compose-network-not-internal",
                    format!("networks.{name}.internal"),
                    format!("network `{name}` is not `internal: true`"),
                    "only the edge network may reach the outside; set `internal: true`",
                );
            }
        }
    }
    out
}

/// Networks a service joins: list or mapping form. No `networks:` means `default`.
fn service_networks(svc: &Value) -> BTreeSet<String> {
    match svc.get("networks") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::Object(m)) => m.keys().cloned().collect(),
        _ if svc.get("network_mode").is_some() => BTreeSet::new(),
        _ => BTreeSet::from(["default".to_string()]),
    }
}

fn is_named_volume(src: &str) -> bool {
    !(src.is_empty() || src.starts_with(['.', '/', '~', '$']))
}
