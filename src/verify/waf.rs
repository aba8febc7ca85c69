//! The WAF, route by route: canary attacks in the query, a JSON body and a header get 403;
//! benign requests and free text in the route's excluded arguments pass; the allowed methods
//! pass and others are refused; an oversized body gets 413.

use super::env::{nginx_size, Env};
use super::gw;
use super::net::Request;
use super::probe::{Cx, Outcome, Probe};
use crate::policy::model::{AuthMode, Listener, Route, WafMode};

/// (what, where, request) canaries for a route path.
fn canaries(path: &str) -> Vec<(&'static str, Request)> {
    let q = |s: &str| Request::get(format!("{path}?{s}"));
    let json = |s: &str| Request::new("POST", path.to_string()).body("application/json", s.to_string());
    vec![
        ("SQL injection in the query", q("id=1%27%20OR%20%271%27%3D%271")),
        ("XSS in the query", q("q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")),
        ("path traversal in the query", q("file=..%2F..%2F..%2F..%2Fetc%2Fpasswd")),
        ("command injection in the query", q("cmd=%3Bcat%20%2Fetc%2Fpasswd")),
        ("Log4Shell in the query", q("x=%24%7Bjndi%3Aldap%3A%2F%2Fcanary.invalid%2Fa%7D")),
        ("SQL injection in a JSON body", json(r#"{"id":"1' OR '1'='1"}"#)),
        ("XSS in a JSON body", json(r#"{"q":"<script>alert(1)</script>"}"#)),
        ("Log4Shell in a header", Request::get(path.to_string()).header("User-Agent", "${jndi:ldap://canary.invalid/a}")),
        ("SQL injection in a header", Request::get(path.to_string()).header("Referer", "https://x.invalid/?id=1' UNION SELECT password FROM users--")),
    ]
}

/// Routes with a small per-IP burst get one canary per place (query, body, header), so the
/// probes stay inside the budget the rate-limit probe measures later.
fn budgeted(path: &str, burst: u32) -> Vec<(&'static str, Request)> {
    let all = canaries(path);
    if burst as usize >= all.len() + 5 {
        return all;
    }
    all.into_iter().filter(|(w, _)| matches!(*w, "SQL injection in the query" | "XSS in a JSON body" | "Log4Shell in a header")).collect()
}

/// The WAF probes: per public route, when the WAF blocks.
pub fn probes(env: &Env) -> Vec<Probe> {
    let Some(waf) = env.policy.waf.as_ref() else { return Vec::new() };
    if waf.mode.value != WafMode::Blocking {
        return Vec::new();
    }
    let mut v = Vec::new();
    for (i, r) in env.policy.routes.iter().enumerate() {
        if r.listener() != Listener::Public {
            continue;
        }
        let at = env.at(r.path.span, format!("routes[{i}]"));
        let p = r.path.value.clone();
        let (rr, ri) = (r.clone(), i);
        v.push(Probe::new("waf.attack", Some(&p), at.clone(), move |cx| attack(cx, &rr)));
        let rr = r.clone();
        let excl_at = r.waf_exclusions.first().and_then(|e| e.args.first()).map(|a| env.at(a.span, format!("routes[{ri}].waf_exclusions"))).unwrap_or_else(|| at.clone());
        v.push(Probe::new("waf.benign", Some(&p), excl_at, move |cx| benign(cx, &rr)));
        let rr = r.clone();
        let m_at = waf.allowed_methods.first().map(|m| env.at(m.span, "waf.allowed_methods")).unwrap_or_else(|| env.at(waf.mode.span, "waf"));
        v.push(Probe::new("waf.methods", Some(&p), m_at, move |cx| methods(cx, &rr)));
        let rr = r.clone();
        let b_at = env.policy.edge.as_ref().and_then(|e| e.max_body_size.as_ref()).map(|m| env.at(m.span, "edge.max_body_size")).unwrap_or_else(|| at.clone());
        v.push(Probe::new("waf.body-size", Some(&p), b_at, move |cx| body_size(cx, &rr)));
    }
    v
}

fn with_token(env: &Env, r: &Route, req: Request, what: &str) -> Request {
    if r.auth() == AuthMode::Required { req.header("Authorization", format!("Bearer {}", env.fake_token(what))) } else { req }
}

fn attack(cx: &mut Cx<'_>, r: &Route) -> Outcome {
    let env = cx.env;
    let (ep, cfg) = (gw::public(env)?, gw::public_cfg());
    let list = budgeted(&gw::path_on(r), r.per_ip_limit().1);
    let n = list.len();
    for (what, req) in list {
        let req = with_token(env, r, req, "waf");
        let resp = gw::https(cx, &ep, &cfg, &req)?;
        cx.expect(resp.status == 403, || format!("{what}: {}", req.describe("https", &ep)), || resp.describe(&[]), "403 from the WAF");
    }
    Ok(format!("{n} canary attacks refused with 403"))
}

fn benign(cx: &mut Cx<'_>, r: &Route) -> Outcome {
    let env = cx.env;
    let (ep, cfg) = (gw::public(env)?, gw::public_cfg());
    let path = gw::path_on(r);
    let mut reqs = vec![("a plain query", Request::get(format!("{path}?id=42&q=hello%20world")))];
    // Excluded JSON arguments (route and global) must take text that would trip the excluded rules.
    let global = env.policy.waf.as_ref().map(|w| w.exclusions.clone()).unwrap_or_default();
    let mut args: Vec<String> = r.waf_exclusions.iter().chain(global.iter()).flat_map(|e| e.args.iter().map(|a| a.value.clone())).collect();
    args.dedup();
    for a in args.iter().filter_map(|a| a.strip_prefix("json.")) {
        if a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            reqs.push(("free text in an excluded argument", Request::new("POST", path.clone()).body("application/json", format!(r#"{{"{a}":"1' OR '1'='1"}}"#))));
        }
    }
    if reqs.len() == 1 {
        reqs.push(("a JSON body", Request::new("POST", path.clone()).body("application/json", r#"{"name":"widget","count":3}"#)));
    }
    let n = reqs.len();
    for (what, req) in reqs {
        let req = with_token(env, r, req, "benign");
        let resp = gw::https(cx, &ep, &cfg, &req)?;
        cx.expect(resp.status != 403, || format!("{what}: {}", req.describe("https", &ep)), || resp.describe(&[]), "not refused by the WAF (any status but 403)");
    }
    Ok(format!("{n} benign request(s) passed"))
}

fn methods(cx: &mut Cx<'_>, r: &Route) -> Outcome {
    let env = cx.env;
    let (ep, cfg) = (gw::public(env)?, gw::public_cfg());
    let path = gw::path_on(r);
    let allowed = env.policy.waf.as_ref().map(|w| w.allowed_methods_or_default()).unwrap_or_default();
    let small = r.per_ip_limit().1 < 15;
    let mut tried = 0;
    for m in allowed.iter().filter(|m| !small || matches!(m.as_str(), "POST")) {
        let req = if matches!(m.as_str(), "POST" | "PUT" | "PATCH") { Request::new(m, path.clone()).body("application/json", r#"{"name":"widget"}"#) } else { Request::new(m, path.clone()) };
        let req = with_token(env, r, req, "methods");
        let resp = gw::https(cx, &ep, &cfg, &req)?;
        tried += 1;
        // The WAF refuses with 403 (CRS 911100). A 405 comes from the application behind it
        // (FastAPI answers 405 for a method its route does not serve): the WAF let it through.
        cx.expect(resp.status != 403, || req.describe("https", &ep), || resp.describe(&[]), format!("{m} is in waf.allowed_methods: not refused by the WAF (no 403)"));
    }
    let foreign = ["PROPFIND", "MKCOL", "PURGE"].into_iter().find(|m| !allowed.iter().any(|a| a == m)).unwrap_or("PROPFIND");
    let req = with_token(env, r, Request::new(foreign, path.clone()), "methods");
    let resp = gw::https(cx, &ep, &cfg, &req)?;
    cx.expect(matches!(resp.status, 403 | 405 | 501), || req.describe("https", &ep), || resp.describe(&[]), format!("{foreign} is not in waf.allowed_methods: 403 or 405"));
    Ok(format!("{tried} allowed method(s) passed, {foreign} refused"))
}

fn body_size(cx: &mut Cx<'_>, r: &Route) -> Outcome {
    let env = cx.env;
    let (ep, cfg) = (gw::public(env)?, gw::public_cfg());
    let max = env.policy.edge.as_ref().map(|e| e.max_body_size().to_string()).unwrap_or_else(|| crate::policy::defaults::DEFAULT_MAX_BODY.into());
    let bytes = nginx_size(&max).map_err(|e| format!("{e:#}"))?;
    let pad = "a".repeat(bytes as usize + 1024);
    let req = with_token(env, r, Request::new("POST", gw::path_on(r)).body("application/json", format!(r#"{{"pad":"{pad}"}}"#)), "body");
    let resp = gw::https(cx, &ep, &cfg, &req)?;
    cx.expect(resp.status == 413, || req.describe("https", &ep), || resp.describe(&[]), format!("413: the body is larger than edge.max_body_size ({max})"));
    Ok(format!("a body over {max} got 413"))
}
