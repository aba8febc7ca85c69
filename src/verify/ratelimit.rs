//! Rate limits, probed last: per route, requests from one address beyond the burst get 429
//! whatever token each carries, and requests without a token are limited too.

use std::time::Instant;

use super::env::{rate_per_sec, Env};
use super::gw;
use super::net::{self, Request};
use super::probe::{Cx, Outcome, Probe};
use crate::policy::model::{AuthMode, Listener, Route};

/// The rate-limit probes (late).
pub fn probes(env: &Env) -> Vec<Probe> {
    let mut v = Vec::new();
    for (i, r) in env.policy.routes.iter().enumerate().filter(|(_, r)| r.listener() == Listener::Public) {
        let at = match r.rate_limit.as_ref().and_then(|l| l.per_ip.as_ref()) {
            Some(l) => env.at(l.rate.span, format!("routes[{i}].rate_limit.per_ip")),
            None => env.at(r.path.span, format!("routes[{i}] (default per-IP limit)")),
        };
        let rr = r.clone();
        v.push(Probe::new("rate-limit.per-ip", Some(&r.path.value), at.clone(), move |cx| burst(cx, &rr, true)).late());
        if r.auth() == AuthMode::Required {
            let rr = r.clone();
            v.push(Probe::new("rate-limit.tokenless", Some(&r.path.value), at, move |cx| burst(cx, &rr, false)).late());
        }
    }
    v
}

/// Sends requests as fast as one client can until three 429s in a row, and checks that no
/// more got through than burst + 1 + what the rate refilled meanwhile.
fn burst(cx: &mut Cx<'_>, r: &Route, fresh_tokens: bool) -> Outcome {
    let env = cx.env;
    let (ep, cfg) = (gw::public(env)?, gw::public_cfg());
    let (rate, b) = r.per_ip_limit();
    let per_sec = rate_per_sec(&rate).map_err(|e| format!("{e:#}"))?;
    let path = gw::path_on(r);
    let start = Instant::now();
    let cap = (b as usize + 1) * 2 + 40;
    let (mut passed, mut limited_run, mut first_429) = (0usize, 0usize, None);
    let mut last = None;
    for i in 0..cap {
        let mut req = Request::get(path.clone());
        if fresh_tokens && r.auth() == AuthMode::Required {
            req = req.header("Authorization", format!("Bearer {}", env.fake_token(&format!("rl{i}"))));
        }
        let resp = net::http(&ep, Some(cfg.clone()), &req, env.timeout, &cx.n).map_err(|e| format!("{} got no answer: {e}", req.describe("https", &ep)))?;
        if resp.status == 429 {
            first_429.get_or_insert(i);
            limited_run += 1;
            if limited_run >= 3 {
                break;
            }
        } else {
            limited_run = 0;
            if first_429.is_none() {
                passed += 1;
            }
            last = Some(resp.status);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let allowed = b as usize + 1 + (per_sec * secs).ceil() as usize + 1;
    let what = if fresh_tokens && r.auth() == AuthMode::Required { "with a fresh bearer token each" } else { "without a token" };
    let sent = format!("{} requests to https://{}{path} {what} in {:.2} s", cx.n.get(), ep.authority(), secs);
    match first_429 {
        None => cx.fail(sent, format!("no 429 (last status {})", last.unwrap_or(0)), format!("429 after at most {allowed} requests ({rate}, burst {b})")),
        Some(_) if passed > allowed => cx.fail(sent, format!("{passed} passed before the first 429"), format!("at most {allowed} ({rate}, burst {b})")),
        Some(_) => {}
    }
    Ok(format!("{passed} passed, then 429 ({rate}, burst {b})"))
}
