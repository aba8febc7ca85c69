//! Docker Compose: `compose/docker-compose.secctl.yml`, an override that puts every
//! service on its trust-zone networks only, publishes ports only on the gateway,
//! hardens every container and mounts certificates, keys and Redis passwords as
//! Compose secrets at the paths the rendered configs use.

use anyhow::Result;

use super::{Context, RenderedFile, engine};

pub mod check;
pub mod plan;
pub mod verify;

pub use plan::ComposePlan;

/// Output path of the override, relative to the render directory.
pub const OVERRIDE_PATH: &str = "compose/docker-compose.secctl.yml";

const TEMPLATES: &[(&str, &str)] = &[(
    "override",
    include_str!("../../../templates/compose/docker-compose.secctl.yml.tera"),
)];

/// Renders the Compose override.
pub fn render(ctx: &Context) -> Result<Vec<RenderedFile>> {
    let policy = &ctx.loaded.policy;
    let plan = ComposePlan::from_policy(policy);
    let mut c = tera::Context::from_serialize(&plan)?;
    c.insert("header", &ctx.header("#"));
    c.insert("project", &policy.project.name.value);
    c.insert("self_path", OVERRIDE_PATH);
    let contents = engine(TEMPLATES)?.render("override", &c)?;
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
