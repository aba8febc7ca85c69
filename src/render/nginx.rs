//! nginx files: the whole `nginx.conf` (self-contained: pid, logs and temp paths under
//! the state root) plus snippets it includes by absolute path.

use anyhow::Result;

use super::gateway::GatewayPlan;
use super::{engine_once, Context, RenderedFile};

static ENGINE: std::sync::OnceLock<tera::Tera> = std::sync::OnceLock::new();

const TEMPLATES: &[(&str, &str)] = &[
    ("nginx/nginx.conf", include_str!("../../templates/nginx/nginx.conf.tera")),
    ("nginx/location.tera", include_str!("../../templates/nginx/location.tera")),
    ("nginx/snippets/tls.conf", include_str!("../../templates/nginx/tls.conf.tera")),
    ("nginx/snippets/security-headers.conf", include_str!("../../templates/nginx/security-headers.conf.tera")),
    ("nginx/snippets/cors.conf", include_str!("../../templates/nginx/cors.conf.tera")),
    ("nginx/snippets/proxy.conf", include_str!("../../templates/nginx/proxy.conf.tera")),
    ("nginx/upstream.conf", include_str!("../../templates/nginx/upstream.conf.tera")),
];

/// Renders the nginx files; nothing when the policy has no `edge`.
pub fn render(ctx: &Context) -> Result<Vec<RenderedFile>> {
    let Some(plan) = GatewayPlan::build(&ctx.loaded.policy, &ctx.loaded.source.name)? else { return Ok(Vec::new()) };
    let tera = engine_once(&ENGINE, TEMPLATES)?;
    let mut tctx = tera::Context::new();
    tctx.insert("header", &ctx.header("#"));
    tctx.insert("g", &plan);
    let file = |path: &str, contents: String| RenderedFile { path: path.to_string(), contents, mode: crate::fsutil::PUBLIC };
    let mut out = Vec::new();
    for name in ["nginx/nginx.conf", "nginx/snippets/tls.conf", "nginx/snippets/security-headers.conf", "nginx/snippets/proxy.conf"] {
        out.push(file(name, tera.render(name, &tctx)?));
    }
    if plan.cors.is_some() {
        out.push(file("nginx/snippets/cors.conf", tera.render("nginx/snippets/cors.conf", &tctx)?));
    }
    // Upstream snippets only need the certificate paths: a small context keeps this linear
    // in the number of upstreams (cloning the whole plan per upstream was quadratic).
    let mut small = tera::Context::new();
    small.insert("header", &ctx.header("#"));
    small.insert("g", &serde_json::json!({ "certs": &plan.certs }));
    for u in plan.upstreams.iter().filter(|u| u.tls) {
        let mut c = small.clone();
        c.insert("u", u);
        out.push(file(&format!("nginx/snippets/upstream-{}.conf", u.name), tera.render("nginx/upstream.conf", &c)?));
    }
    Ok(out)
}
