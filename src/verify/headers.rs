//! Response headers on every kind of response (2xx, 3xx, 401, WAF 403, 404; 429 in the late
//! phase), and the plain-HTTP redirect.

use std::sync::{Arc, OnceLock};

use super::env::Env;
use super::gw;
use super::net::{self, Request, Response};
use super::probe::{Cx, Outcome, Probe};
use crate::policy::defaults::{DEFAULT_CSP, DEFAULT_HSTS_MAX_AGE, DEFAULT_PERMISSIONS_POLICY};
use crate::policy::model::{AuthMode, Listener, WafMode};

/// One response a header probe looks at.
#[derive(Clone, Debug)]
pub struct Sample {
    /// `2xx`, `3xx`, `401`, `403 (WAF)`, `404`.
    pub kind: &'static str,
    /// The request, described.
    pub sent: String,
    /// The response.
    pub resp: Response,
}

type Shared = Arc<OnceLock<Result<Vec<Sample>, String>>>;

/// What the policy says each response must carry: (header, exact value), HSTS apart.
pub fn expected(env: &Env) -> Vec<(String, String)> {
    let Some(edge) = env.policy.edge.as_ref() else { return Vec::new() };
    let h = edge.headers.clone().unwrap_or_default();
    let pick = |v: &Option<crate::policy::model::SString>, d: &str| v.as_ref().map(|s| s.value.clone()).unwrap_or_else(|| d.to_string());
    let mut out = vec![
        ("Content-Security-Policy".to_string(), pick(&h.content_security_policy, DEFAULT_CSP)),
        ("X-Content-Type-Options".into(), "nosniff".into()),
        ("X-Frame-Options".into(), pick(&h.frame_options, "DENY")),
        ("Referrer-Policy".into(), pick(&h.referrer_policy, "no-referrer")),
        ("Permissions-Policy".into(), pick(&h.permissions_policy, DEFAULT_PERMISSIONS_POLICY)),
        ("Cross-Origin-Opener-Policy".into(), pick(&h.cross_origin_opener_policy, "same-origin")),
        ("Cross-Origin-Resource-Policy".into(), pick(&h.cross_origin_resource_policy, "same-origin")),
    ];
    for (k, v) in &h.extra {
        out.push((k.clone(), v.value.clone()));
    }
    out
}

/// The Strict-Transport-Security value the environment requires, or None when it must be absent.
pub fn hsts(env: &Env) -> Option<String> {
    let edge = env.policy.edge.as_ref()?;
    let prod = env.policy.environment().is_production_like();
    match &edge.hsts {
        Some(h) if h.enabled_in(env.policy.environment()) => {
            let mut v = format!("max-age={}", h.max_age());
            if h.include_subdomains() {
                v.push_str("; includeSubDomains");
            }
            if h.preload() {
                v.push_str("; preload");
            }
            Some(v)
        }
        Some(_) => None,
        None if prod => Some(format!("max-age={DEFAULT_HSTS_MAX_AGE}; includeSubDomains")),
        None => None,
    }
}

/// HSTS directives compare as a set, case-insensitively (RFC 6797 §6.1).
fn same_hsts(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let mut v: Vec<String> = s.split(';').map(|d| d.trim().to_ascii_lowercase().replace(' ', "")).filter(|d| !d.is_empty()).collect();
        v.sort();
        v
    };
    norm(a) == norm(b)
}

/// The header probes.
pub fn probes(env: &Env) -> Vec<Probe> {
    let Some(edge) = env.policy.edge.as_ref() else { return Vec::new() };
    let shared: Shared = Arc::new(OnceLock::new());
    let mut v = Vec::new();
    let hsts_at = match &edge.hsts {
        Some(h) => h.enabled.as_ref().map(|e| env.at(e.span, "edge.hsts.enabled")).or_else(|| h.max_age.as_ref().map(|m| env.at(m.span, "edge.hsts.max_age"))),
        None => None,
    }
    .unwrap_or_else(|| env.at(env.policy.project.environment.span, "project.environment"));
    let s = shared.clone();
    v.push(Probe::new("headers.hsts", None, hsts_at, move |cx| {
        let samples = fetch(cx, &s)?;
        let want = hsts(cx.env);
        for smp in &samples {
            let got = smp.resp.all("strict-transport-security");
            let ok = match &want {
                Some(w) => got.len() == 1 && same_hsts(got[0], w),
                None => got.is_empty(),
            };
            let exp = want.clone().map(|w| format!("Strict-Transport-Security: {w} (once)")).unwrap_or_else(|| "no Strict-Transport-Security (HSTS off in this environment)".into());
            cx.expect(ok, || format!("{} ({})", smp.sent, smp.kind), || smp.resp.describe(&["Strict-Transport-Security"]), exp);
        }
        Ok(format!("HSTS as required on {} response kinds", samples.len()))
    }));
    let csp_at = edge.headers.as_ref().and_then(|h| h.content_security_policy.as_ref()).map(|c| env.at(c.span, "edge.headers.content_security_policy")).unwrap_or_else(|| env.at(edge.gateway.span, "edge"));
    let s = shared.clone();
    v.push(Probe::new("headers.csp", None, csp_at, move |cx| {
        let samples = fetch(cx, &s)?;
        let want = expected(cx.env).into_iter().find(|(k, _)| k == "Content-Security-Policy").map(|(_, v)| v).unwrap_or_default();
        for smp in &samples {
            let got = smp.resp.all("content-security-policy");
            cx.expect(got == [want.as_str()], || format!("{} ({})", smp.sent, smp.kind), || smp.resp.describe(&["Content-Security-Policy"]), format!("Content-Security-Policy: {want} (exactly, once)"));
        }
        Ok(format!("exact CSP on {} response kinds", samples.len()))
    }));
    let sec_at = edge.headers.as_ref().and_then(|h| h.referrer_policy.as_ref().or(h.frame_options.as_ref())).map(|c| env.at(c.span, "edge.headers")).unwrap_or_else(|| env.at(edge.gateway.span, "edge"));
    let s = shared.clone();
    v.push(Probe::new("headers.security", None, sec_at.clone(), move |cx| {
        let samples = fetch(cx, &s)?;
        let want: Vec<(String, String)> = expected(cx.env).into_iter().filter(|(k, _)| k != "Content-Security-Policy").collect();
        for smp in &samples {
            for (k, w) in &want {
                let got = smp.resp.all(k);
                cx.expect(got.len() == 1 && got[0].eq_ignore_ascii_case(w), || format!("{} ({})", smp.sent, smp.kind), || smp.resp.describe(&[k]), format!("{k}: {w} (once)"));
            }
        }
        Ok(format!("{} headers on {} response kinds", want.len(), samples.len()))
    }));
    let s = shared.clone();
    v.push(Probe::new("headers.server-version", None, env.at(edge.gateway.span, "edge.gateway"), move |cx| {
        let samples = fetch(cx, &s)?;
        for smp in &samples {
            let server = smp.resp.header("server").unwrap_or("");
            let leaky = server.contains('/') || server.chars().any(|c| c.is_ascii_digit());
            let extra = ["x-powered-by", "x-aspnet-version", "x-runtime"].iter().any(|h| smp.resp.header(h).is_some());
            cx.expect(!leaky && !extra, || format!("{} ({})", smp.sent, smp.kind), || smp.resp.describe(&["Server", "X-Powered-By"]), "no version in Server, no X-Powered-By");
        }
        Ok(format!("no version leaked on {} response kinds", samples.len()))
    }));
    if let Some(http) = &edge.http_redirect {
        v.push(Probe::new("headers.redirect", None, env.at(http.port.span, "edge.http_redirect"), redirect));
    }
    // The 429 sample needs an exhausted budget: a late probe.
    if let Some((i, r)) = env.policy.routes.iter().enumerate().filter(|(_, r)| r.listener() == Listener::Public).min_by_key(|(_, r)| r.per_ip_limit().1) {
        let path = gw::path_on(r);
        let burst = r.per_ip_limit().1;
        v.push(Probe::new("headers.on-429", None, env.at(r.path.span, format!("routes[{i}]")), move |cx| on_429(cx, &path, burst)).late());
    }
    v
}

/// Fetches the shared samples once per run.
fn fetch(cx: &Cx<'_>, shared: &Shared) -> Result<Vec<Sample>, String> {
    shared.get_or_init(|| samples(cx)).clone()
}

fn samples(cx: &Cx<'_>) -> Result<Vec<Sample>, String> {
    let env = cx.env;
    let ep = gw::public(env)?;
    let cfg = gw::public_cfg();
    let public: Vec<_> = env.policy.routes.iter().filter(|r| r.listener() == Listener::Public).collect();
    let token = format!("Bearer {}", env.fake_token("headers"));
    let mut reqs: Vec<(&'static str, Request, Option<u16>)> = Vec::new();
    if let Some(r) = public.iter().find(|r| r.auth() == AuthMode::None) {
        reqs.push(("2xx", Request::get(gw::path_on(r)), None));
    }
    if let Some(r) = public.iter().find(|r| r.path.value.ends_with('/') && r.path.value.len() > 1) {
        reqs.push(("3xx", Request::get(r.path.value.trim_end_matches('/').to_string()).header("Authorization", token.clone()), None));
    }
    if let Some(r) = public.iter().find(|r| r.auth() == AuthMode::Required) {
        reqs.push(("401", Request::get(gw::path_on(r)), Some(401)));
        if env.policy.waf.as_ref().is_some_and(|w| w.mode.value == WafMode::Blocking) {
            reqs.push(("403 (WAF)", Request::get(format!("{}?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", gw::path_on(r))).header("Authorization", token.clone()), Some(403)));
        }
    }
    reqs.push(("404", Request::get(format!("/secctl-verify-{}-missing", env.tag)), Some(404)));
    let mut out = Vec::new();
    for (kind, req, want) in reqs {
        let resp = gw::https(cx, &ep, &cfg, &req)?;
        let class_ok = match (kind, want) {
            (_, Some(w)) => resp.status == w,
            ("2xx", None) => (200..300).contains(&resp.status),
            ("3xx", None) => (300..400).contains(&resp.status),
            _ => true,
        };
        // A response of another class is a different sample, not a header finding: the
        // controls that own that behaviour report it. Keep it, under its real status.
        let kind: &'static str = if class_ok { kind } else { "unexpected status" };
        out.push(Sample { kind, sent: req.describe("https", &ep), resp });
    }
    Ok(out)
}

fn redirect(cx: &mut Cx<'_>) -> Outcome {
    let env = cx.env;
    let edge = gw::edge(env)?;
    let l = edge.http_redirect.as_ref().ok_or("no http_redirect")?;
    let host = gw::host(env)?;
    let ep = env.endpoint(&host, l)?;
    let target = format!("/secctl-verify/{}?a=1", env.tag);
    for client_host in [host.clone(), "evil.invalid".to_string()] {
        let req = Request::get(target.clone()).header("Host", client_host.clone());
        let r = net::http(&ep, None, &req, env.timeout, &cx.n).map_err(|e| format!("{} got no answer: {e}", req.describe("http", &ep)))?;
        let loc = r.header("location").unwrap_or("");
        let want_prefix = format!("https://{host}");
        let rest = loc.strip_prefix(&want_prefix).unwrap_or("\u{0}");
        let host_ok = rest.starts_with('/') || (rest.starts_with(':') && rest[1..].split('/').next().is_some_and(|p| p.parse::<u16>().is_ok()));
        let path_ok = loc.ends_with(&target);
        cx.expect(
            (300..400).contains(&r.status) && host_ok && path_ok,
            || req.describe("http", &ep),
            || r.describe(&["Location"]),
            format!("a redirect to https://{host}[:port]{target}, whatever Host the client sent"),
        );
    }
    Ok(format!("redirects to https://{host} only"))
}

fn on_429(cx: &mut Cx<'_>, path: &str, burst: u32) -> Outcome {
    let env = cx.env;
    let ep = gw::public(env)?;
    let cfg = gw::public_cfg();
    for i in 0..burst + 30 {
        let req = Request::get(path.to_string()).header("Authorization", format!("Bearer {}", env.fake_token(&format!("h429-{i}"))));
        let r = net::http(&ep, Some(cfg.clone()), &req, env.timeout, &cx.n).map_err(|e| format!("no answer: {e}"))?;
        if r.status == 429 {
            let sent = format!("{} (request {} of a burst)", req.describe("https", &ep), i + 1);
            if let Some(w) = hsts(env) {
                let got = r.all("strict-transport-security");
                cx.expect(got.len() == 1 && same_hsts(got[0], &w), || sent.clone(), || r.describe(&["Strict-Transport-Security"]), format!("Strict-Transport-Security: {w}"));
            }
            for (k, w) in expected(env) {
                let got = r.all(&k);
                cx.expect(got.len() == 1 && got[0].eq_ignore_ascii_case(&w), || sent.clone(), || r.describe(&[&k]), format!("{k}: {w} (once)"));
            }
            return Ok("the 429 carries every security header".into());
        }
    }
    Err(format!("no 429 after {} requests to {path}: see rate-limit.per-ip for that route", burst + 30))
}
