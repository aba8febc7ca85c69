//! CORS on the public listener: exact echo for allowed origins, nothing for the rest
//! (suffix and prefix tricks, `null`, the wrong scheme), and preflights.

use super::env::Env;
use super::gw;
use super::net::{Request, Response};
use super::probe::{Cx, Outcome, Probe};
use crate::policy::model::{AuthMode, Cors, Listener, Route};

const ACA: &[&str] = &["Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Vary"];

/// The CORS probes (none when the policy has no `edge.cors`).
pub fn probes(env: &Env) -> Vec<Probe> {
    let Some(cors) = env.policy.edge.as_ref().and_then(|e| e.cors.as_ref()) else { return Vec::new() };
    let at = |path: &str| cors.origins.first().map(|o| env.at(o.span, path)).unwrap_or_else(|| env.at(Default::default(), path));
    vec![
        Probe::new("cors.allowed-origin", None, at("edge.cors.origins"), allowed),
        Probe::new("cors.denied-origin", None, at("edge.cors.origins"), denied),
        Probe::new("cors.preflight", None, cors.methods.first().map(|m| env.at(m.span, "edge.cors.methods")).unwrap_or_else(|| at("edge.cors")), preflight),
    ]
}

fn cors(env: &Env) -> Result<&Cors, String> {
    env.policy.edge.as_ref().and_then(|e| e.cors.as_ref()).ok_or_else(|| "no edge.cors".to_string())
}

/// A public route to send CORS requests to (prefer one that needs a token: the common API case).
fn route(env: &Env) -> Result<&Route, String> {
    let public: Vec<&Route> = env.policy.routes.iter().filter(|r| r.listener() == Listener::Public).collect();
    public.iter().find(|r| r.auth() == AuthMode::Required).or(public.first()).copied().ok_or_else(|| "no public route".to_string())
}

fn simple(cx: &Cx<'_>, origin: &str) -> Result<(String, Response), String> {
    let env = cx.env;
    let ep = gw::public(env)?;
    let cfg = gw::public_cfg();
    let req = Request::get(gw::path_on(route(env)?)).header("Origin", origin).header("Authorization", format!("Bearer {}", env.fake_token("cors")));
    let r = gw::https(cx, &ep, &cfg, &req)?;
    Ok((req.describe("https", &ep), r))
}

fn pre(cx: &Cx<'_>, origin: &str, method: &str, headers: &str) -> Result<(String, Response), String> {
    let env = cx.env;
    let ep = gw::public(env)?;
    let cfg = gw::public_cfg();
    let req = Request::new("OPTIONS", gw::path_on(route(env)?)).header("Origin", origin).header("Access-Control-Request-Method", method).header("Access-Control-Request-Headers", headers);
    let r = gw::https(cx, &ep, &cfg, &req)?;
    Ok((req.describe("https", &ep), r))
}

fn vary_origin(r: &Response) -> bool {
    r.all("vary").iter().flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case("origin"))
}

fn allowed(cx: &mut Cx<'_>) -> Outcome {
    let c = cors(cx.env)?.clone();
    for o in &c.origins {
        let (sent, r) = simple(cx, &o.value)?;
        let acao = r.all("access-control-allow-origin");
        let creds = r.all("access-control-allow-credentials");
        let want_creds = c.credentials.value;
        let ok = acao == [o.value.as_str()] && vary_origin(&r) && if want_creds { creds == ["true"] } else { creds.is_empty() };
        cx.expect(ok, || sent.clone(), || r.describe(ACA), format!("Access-Control-Allow-Origin: {} (once), Vary: Origin, {}", o.value, if want_creds { "Access-Control-Allow-Credentials: true" } else { "no credentials header" }));
    }
    Ok(format!("{} allowed origin(s) echoed exactly", c.origins.len()))
}

/// Origins that must get nothing: a foreign site, suffix and prefix tricks on each allowed
/// origin, the other scheme, `null`.
pub fn tricky(c: &Cors) -> Vec<String> {
    let mut v = vec!["https://evil.invalid".to_string(), "null".to_string()];
    for o in &c.origins {
        let o = o.value.as_str();
        if o == "*" {
            continue;
        }
        v.push(format!("{o}.evil.invalid"));
        if let Some((scheme, rest)) = o.split_once("://") {
            v.push(format!("{scheme}://evil{rest}"));
            v.push(format!("{scheme}://evil.invalid.{rest}"));
            let other = if scheme == "https" { "http" } else { "https" };
            let flipped = format!("{other}://{rest}");
            if !c.origins.iter().any(|x| x.value == flipped) {
                v.push(flipped);
            }
        }
    }
    v.retain(|t| !c.origins.iter().any(|o| &o.value == t));
    v.dedup();
    v
}

fn denied(cx: &mut Cx<'_>) -> Outcome {
    let c = cors(cx.env)?.clone();
    let bad = tricky(&c);
    for o in &bad {
        let (sent, r) = simple(cx, o)?;
        cx.expect(
            r.header("access-control-allow-origin").is_none() && r.header("access-control-allow-credentials").is_none(),
            || sent.clone(),
            || r.describe(ACA),
            "no Access-Control-Allow-Origin and no Access-Control-Allow-Credentials",
        );
        let (sent, r) = pre(cx, o, "GET", "authorization")?;
        cx.expect(
            ACA[..4].iter().all(|h| r.header(h).is_none()),
            || sent.clone(),
            || r.describe(ACA),
            "a preflight from a foreign origin gets no Access-Control-Allow-* header",
        );
    }
    Ok(format!("{} foreign origins refused (suffix, prefix, scheme, null)", bad.len()))
}

fn list(v: &str) -> Vec<String> {
    let mut x: Vec<String> = v.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect();
    x.sort();
    x
}

fn preflight(cx: &mut Cx<'_>) -> Outcome {
    let c = cors(cx.env)?.clone();
    let origin = c.origins.first().map(|o| o.value.clone()).ok_or("edge.cors.origins is empty")?;
    let methods = c.methods_or_default();
    let headers = c.effective_headers(&cx.env.policy);
    let method = methods.iter().find(|m| !matches!(m.as_str(), "GET" | "HEAD" | "POST" | "OPTIONS")).cloned().unwrap_or_else(|| methods[0].clone());
    let (sent, r) = pre(cx, &origin, &method, &headers.join(", ").to_ascii_lowercase())?;
    let want_m = list(&methods.join(","));
    let want_h = list(&headers.join(","));
    let got_m = list(&r.all("access-control-allow-methods").join(","));
    let got_h = list(&r.all("access-control-allow-headers").join(","));
    let max_age = r.header("access-control-max-age").unwrap_or("").to_string();
    let ok = (200..300).contains(&r.status) && r.all("access-control-allow-origin") == [origin.as_str()] && got_m == want_m && got_h == want_h && max_age == c.max_age().to_string();
    cx.expect(
        ok,
        || sent.clone(),
        || r.describe(&["Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age"]),
        format!("2xx, Access-Control-Allow-Origin: {origin}, methods {}, headers {}, max-age {}", methods.join(", "), headers.join(", "), c.max_age()),
    );
    Ok("preflight answered with the policy's lists".into())
}
