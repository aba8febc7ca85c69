//! Docker Compose: `compose/docker-compose.secctl.yml`, an override that puts every
//! service on its trust-zone networks only, publishes ports only on the gateway,
//! hardens every container and mounts certificates, keys and Redis passwords as
//! Compose secrets at the paths the rendered configs use.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use super::{Context, RenderedFile};

pub mod check;
pub mod plan;
pub mod verify;

pub use plan::ComposePlan;

/// Output path of the override, relative to the render directory.
pub const OVERRIDE_PATH: &str = "compose/docker-compose.secctl.yml";

/// The override as Compose sees it, serialized by serde (never a text template): a policy
/// value can only ever be a YAML string, never a key, a line or a flag.
#[derive(Serialize)]
struct Override<'a> {
    services: BTreeMap<&'a str, ServiceOut<'a>>,
    networks: BTreeMap<&'a str, NetworkOut>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: BTreeMap<&'a str, Empty>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    secrets: BTreeMap<&'a str, SecretOut<'a>>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct NetworkOut {
    internal: bool,
}

#[derive(Serialize)]
struct SecretOut<'a> {
    file: &'a str,
}

#[derive(Serialize)]
struct Attach<'a> {
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    aliases: &'a [String],
}

#[derive(Serialize)]
struct ServiceOut<'a> {
    read_only: bool,
    cap_drop: [&'static str; 1],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    cap_add: &'a [String],
    security_opt: [&'static str; 1],
    privileged: bool,
    pids_limit: u32,
    tmpfs: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    command: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    ports: &'a [String],
    networks: BTreeMap<&'a str, Attach<'a>>,
    #[serde(skip_serializing_if = "<[plan::SecretMount]>::is_empty")]
    secrets: &'a [plan::SecretMount],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    volumes: &'a [String],
}

/// Compose v1's grammar for service names; names also become file and secret names here, so
/// `.` and `..` are refused too.
fn compose_name(name: &str) -> Result<()> {
    if name.is_empty() || name.bytes().all(|b| b == b'.') || !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return Err(super::escape::unsafe_value("Compose", "the service name", name));
    }
    Ok(())
}

/// The override text: the header, a comment block, then the document as JSON (valid YAML 1.1
/// and 1.2, ASCII only, so PyYAML's docker-compose reads exactly what serde wrote).
fn override_text(ctx: &Context, plan: &ComposePlan) -> Result<String> {
    let doc = Override {
        services: plan
            .services
            .iter()
            .map(|(n, s)| {
                let out = ServiceOut {
                    read_only: true,
                    cap_drop: ["ALL"],
                    cap_add: &s.cap_add,
                    security_opt: ["no-new-privileges:true"],
                    privileged: false,
                    pids_limit: 256,
                    tmpfs: &s.tmpfs,
                    command: &s.command,
                    ports: &s.ports,
                    networks: s.networks.iter().map(|(k, a)| (k.as_str(), Attach { aliases: a })).collect(),
                    secrets: &s.secrets,
                    volumes: &s.volumes,
                };
                (n.as_str(), out)
            })
            .collect(),
        networks: plan.networks.iter().map(|(k, i)| (k.as_str(), NetworkOut { internal: *i })).collect(),
        volumes: plan.volumes.iter().map(|v| (v.as_str(), Empty {})).collect(),
        secrets: plan.secrets.iter().map(|(k, f)| (k.as_str(), SecretOut { file: f })).collect(),
    };
    let json = super::escape::ascii_json(&serde_json::to_string_pretty(&doc)?);
    let project = super::escape::comment(&ctx.loaded.policy.project.name.value);
    Ok(format!(
        "{header}#
# Network isolation and hardening for the {project} stack. Use it LAST:
#   docker-compose -f docker-compose.yml -f {OVERRIDE_PATH} config
# A Compose v1 override cannot remove `ports:` or `networks:` from the base file, so the
# base file must publish no ports except the gateway's and join no networks; secctl
# checks the merged result (docs/render-data.md).
# Host paths come from SECCTL_PKI_DIR, SECCTL_RENDER_DIR and SECCTL_REDIS_SECRETS_DIR
# (defaults relative to the project directory). The document is JSON, which is YAML.
{json}
",
        header = ctx.header("#"),
    ))
}

/// Renders the Compose override.
pub fn render(ctx: &Context) -> Result<Vec<RenderedFile>> {
    let policy = &ctx.loaded.policy;
    let plan = ComposePlan::from_policy(policy);
    for name in plan.services.keys() {
        compose_name(name)?;
    }
    let contents = override_text(ctx, &plan)?;
    // The override must pass secctl's own checks by construction.
    let doc = check::parse(&contents)?;
    let diags = check::check(OVERRIDE_PATH, &doc, Some(&expectations(&plan)));
    if !diags.is_empty() {
        return Err(super::redis::policy_error(&diags));
    }
    Ok(vec![RenderedFile {
        path: OVERRIDE_PATH.into(),
        contents,
        mode: 0o644,
    }])
}

/// What the merged Compose file must satisfy for this policy.
pub fn expectations(plan: &ComposePlan) -> check::Expectations {
    check::Expectations {
        gateway: plan.gateway.clone(),
        edge_network: plan::zone_name(crate::policy::model::Zone::Edge).into(),
        networks: plan.expected_networks(),
    }
}

#[cfg(test)]
mod tests;
