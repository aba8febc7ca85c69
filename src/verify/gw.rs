//! The gateway as the probes see it: its public, plain-HTTP and internal endpoints, the path
//! a probe uses on each route, and an HTTPS request helper that tells "no answer" (not
//! evaluated) from an answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;

use super::env::Env;
use super::net::{self, Endpoint, NetError, Request, Response};
use super::probe::Cx;
use crate::policy::model::{Edge, Listen, Route};

/// The edge section, or why there is none.
pub fn edge(env: &Env) -> Result<&Edge, String> {
    env.policy.edge.as_ref().ok_or_else(|| "the policy has no `edge` section".to_string())
}

/// The public TLS listener: `edge.listen`, else the gateway service's `listen`.
pub fn public_listen(env: &Env) -> Option<&Listen> {
    let e = env.policy.edge.as_ref()?;
    e.listen.as_ref().or_else(|| env.policy.service(&e.gateway.value).and_then(|s| s.listen.as_ref()))
}

/// The first edge host (the name clients use).
pub fn host(env: &Env) -> Result<String, String> {
    edge(env)?.hosts.first().map(|h| h.value.clone()).ok_or_else(|| "edge.hosts is empty".to_string())
}

/// The public endpoint for the first edge host.
pub fn public(env: &Env) -> Result<Endpoint, String> {
    let l = public_listen(env).ok_or_else(|| "neither edge.listen nor the gateway service's listen is set".to_string())?;
    env.endpoint(&host(env)?, l)
}

/// The internal mTLS endpoint.
pub fn internal(env: &Env) -> Result<Endpoint, String> {
    let l = edge(env)?.internal_listen.as_ref().ok_or_else(|| "edge.internal_listen is not set".to_string())?;
    let name = env.policy.service(&edge(env)?.gateway.value).and_then(|s| s.dns_names.first()).map(|d| d.value.clone()).unwrap_or(host(env)?);
    env.endpoint(&name, l)
}

/// The path a probe requests on a route: the exact path, or `<prefix>secctl-verify`.
pub fn path_on(r: &Route) -> String {
    if r.path.value.ends_with('/') { format!("{}secctl-verify", r.path.value) } else { r.path.value.clone() }
}

/// The TLS config for HTTP probes of the public listener: any server certificate is taken,
/// because judging it is `tls.certificate`'s job; a bad certificate must fail that control
/// alone, not leave every header, CORS and WAF control unevaluated.
pub fn public_cfg() -> Arc<ClientConfig> {
    net::tls_config(None, &[&rustls::version::TLS13, &rustls::version::TLS12], None, None)
}

/// A TLS config that trusts the stack's CA, offering TLS 1.2 and 1.3.
pub fn trusted(env: &Env, id: Option<&net::ClientId>) -> Result<Arc<ClientConfig>, String> {
    Ok(net::tls_config(Some(env.roots()?), &[&rustls::version::TLS13, &rustls::version::TLS12], None, id))
}

/// Sends `req` over HTTPS to `ep`. A 429 on a probe that is not about rate limits means an
/// earlier run emptied the budget: wait for it to refill (up to 4 s) rather than report a
/// false alarm. No answer is `Err` (not evaluated).
pub fn https(cx: &Cx<'_>, ep: &Endpoint, cfg: &Arc<ClientConfig>, req: &Request) -> Result<Response, String> {
    let start = Instant::now();
    let mut wait = Duration::from_millis(250);
    loop {
        let r = net::http(ep, Some(cfg.clone()), req, cx.env.timeout, &cx.n).map_err(|e| format!("{} got no answer: {e}", req.describe("https", ep)))?;
        if r.status != 429 || start.elapsed() > Duration::from_secs(4) {
            return Ok(r);
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(1));
    }
}

/// Whether a connection error means "refused by the server" (TLS alert, reset) rather than
/// "nothing there".
pub fn refused(e: &NetError) -> bool {
    !matches!(e, NetError::Unreachable(_))
}
