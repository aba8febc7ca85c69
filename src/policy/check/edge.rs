//! The public edge: CORS, HSTS, routes and their rate limits.

use crate::policy::defaults::ONE_YEAR_SECONDS;
use crate::policy::model::{AuthMode, Limit};

use super::rate::{parse_rate, MAX_BURST, MAX_PER_SECOND};
use super::{Cx, Finish};

pub(super) fn check(cx: &mut Cx) {
    cors(cx);
    hsts(cx);
    routes(cx);
}

fn cors(cx: &mut Cx) {
    let Some(cors) = cx.policy.edge.as_ref().and_then(|e| e.cors.as_ref()) else { return };
    for (i, o) in cors.origins.iter().enumerate() {
        let path = format!("edge.cors.origins[{i}]");
        if o.value.trim() == "*" {
            if cors.credentials.value {
                cx.error("cors-wildcard-credentials", o.span, path, "CORS origin `*` together with `credentials: true` lets any site make authenticated requests")
                    .label("any origin")
                    .hint("list the exact origins that need credentials (e.g. `https://app.example.com`), or set `credentials: false`");
            }
        } else if o.value.starts_with("http://") && cx.is_production() {
            cx.warning("cors-insecure-origin", o.span, path, format!("plain-http CORS origin `{}` in production", o.value))
                .label("not https")
                .hint("use the https origin; a plain-http page can be tampered with on the network");
        }
    }
}

fn hsts(cx: &mut Cx) {
    if !cx.is_production() {
        return;
    }
    let Some(h) = cx.policy.edge.as_ref().and_then(|e| e.hsts.as_ref()) else { return };
    if let Some(en) = &h.enabled
        && !en.value
    {
        cx.error("hsts-disabled", en.span, "edge.hsts.enabled", "HSTS is turned off in production")
            .label("disabled")
            .hint("remove `enabled: false`: production sends HSTS so browsers never fall back to plain http");
    }
    if let Some(age) = &h.max_age
        && age.value < ONE_YEAR_SECONDS
    {
        cx.error("hsts-too-short", age.span, "edge.hsts.max_age", format!("HSTS max-age {} is under one year ({ONE_YEAR_SECONDS} seconds) in production", age.value))
            .label("too short")
            .hint("use at least 31536000; 63072000 (two years) is the recommended value");
    }
}

/// Path segments that usually mean an administrative or operational surface.
const ADMIN_WORDS: &[&str] = &["admin", "administrator", "manage", "management", "console", "actuator", "debug", "internal", "superuser"];

fn looks_administrative(path: &str) -> bool {
    path.split(['/', '.', '-', '_']).any(|seg| {
        let seg = seg.to_ascii_lowercase();
        ADMIN_WORDS.contains(&seg.as_str()) || seg.starts_with("admin")
    })
}

fn routes(cx: &mut Cx) {
    let p = cx.policy;
    let gateway = cx.gateway().map(str::to_string);
    for (i, r) in p.routes.iter().enumerate() {
        if !r.path.value.starts_with('/') {
            cx.error("route-path-invalid", r.path.span, format!("routes[{i}].path"), format!("route path `{}` does not start with `/`", r.path.value))
                .label("must start with /")
                .hint(format!("write `/{}`", r.path.value.trim_start_matches('/')));
        }
        if let Some(gw) = &gateway
            && cx.has_service(&r.upstream)
            && !cx.has_flow(gw, &r.upstream)
        {
            cx.error("route-without-flow", r.upstream.span, format!("routes[{i}].upstream"), format!("the gateway `{gw}` has no flow to `{}`, so this route cannot reach it", r.upstream.value))
                .label("no flow from the gateway")
                .hint(format!("add `- {{ from: {gw}, to: {} }}` to `flows`", r.upstream.value));
        }
        if let Some(auth) = &r.auth
            && auth.value == AuthMode::None
            && looks_administrative(&r.path)
        {
            cx.warning("unauthenticated-admin-route", r.path.span, format!("routes[{i}].path"), format!("route `{}` looks administrative but needs no authentication", r.path.value))
                .label("no auth")
                .hint("remove `auth: none` (auth is required by default) and restrict `roles`, or rename the path if it is really public");
        }
        if let Some(rl) = &r.rate_limit {
            for (name, limit) in [("per_ip", &rl.per_ip), ("per_user", &rl.per_user)] {
                if let Some(l) = limit {
                    rate_limit(cx, l, &format!("routes[{i}].rate_limit.{name}"));
                }
            }
        }
    }
}

fn rate_limit(cx: &mut Cx, l: &Limit, path: &str) {
    match parse_rate(&l.rate) {
        Err(why) => {
            cx.error("rate-limit-invalid", l.rate.span, format!("{path}.rate"), why).label("not a rate").hint("write `<n>r/s` or `<n>r/m`, e.g. `10r/s` or `30r/m`");
        }
        Ok(rate) if rate.per_second_f64() > MAX_PER_SECOND => {
            cx.error("rate-limit-out-of-bounds", l.rate.span, format!("{path}.rate"), format!("rate {rate} is above {MAX_PER_SECOND} requests per second and limits nothing"))
                .label("too high")
                .hint("use a rate a single client could plausibly need, e.g. `20r/s`");
        }
        Ok(_) => {}
    }
    if l.burst.value > MAX_BURST {
        cx.error("rate-limit-out-of-bounds", l.burst.span, format!("{path}.burst"), format!("burst {} is above {MAX_BURST}", l.burst.value))
            .label("too high")
            .hint("a burst is the number of requests queued above the rate; keep it to a few seconds' worth");
    }
}
