//! mTLS: the gateway's internal listener (no certificate, foreign CA and revoked certificates
//! refused; identities authorized by `flows`), and every mTLS service reached directly.

use super::env::Env;
use super::gw;
use super::net::{self, ClientId, Endpoint, NetError, Request};
use super::probe::{Cx, Outcome, Probe};
use crate::policy::model::{Listener, Route, ServiceKind};

/// The mTLS probes.
pub fn probes(env: &Env) -> Vec<Probe> {
    let mut v = Vec::new();
    if let Some(edge) = env.policy.edge.as_ref()
        && let Some(il) = &edge.internal_listen {
            let at = env.at(il.port.span, "edge.internal_listen");
            v.push(Probe::new("mtls.internal.refuse", None, at.clone(), refuse));
            for (i, r) in env.policy.routes.iter().enumerate().filter(|(_, r)| r.listener() == Listener::Internal) {
                let rr = r.clone();
                v.push(Probe::new("mtls.internal.authz", Some(&r.path.value), env.at(r.path.span, format!("routes[{i}]")), move |cx| authz(cx, &rr)));
            }
        }
    for (name, s) in &env.policy.services {
        // Redis has its own family (redis.transport), which also proves plaintext is refused.
        if !s.mtls_role().is_server() || matches!(s.kind.value, ServiceKind::Gateway | ServiceKind::Redis) {
            continue;
        }
        let Some(l) = &s.listen else { continue };
        let n = name.clone();
        v.push(Probe::new("mtls.upstream", Some(name), env.at(l.port.span, format!("services.{name}.listen")), move |cx| upstream(cx, &n)));
    }
    v
}

/// Callers a flow admits through the gateway to `upstream`.
fn allowed(env: &Env, upstream: &str) -> Vec<String> {
    let gw_name = env.policy.edge.as_ref().map(|e| e.gateway.value.clone()).unwrap_or_default();
    env.policy.flows.iter().filter(|f| f.to.value == upstream && f.via.as_ref().is_some_and(|v| v.value == gw_name)).map(|f| f.from.value.clone()).collect()
}

/// What the server did with a client: `Ok(status)` when it answered over HTTP, `Err` when
/// the handshake or the first read failed (a refusal), except when nothing answered at all.
fn try_http(cx: &Cx<'_>, ep: &Endpoint, id: Option<&ClientId>, path: &str) -> Result<Result<(u16, String), String>, String> {
    let cfg = gw::trusted(cx.env, id)?;
    match net::http(ep, Some(cfg), &Request::get(path.to_string()), cx.env.timeout, &cx.n) {
        Ok(r) => Ok(Ok((r.status, String::from_utf8_lossy(&r.body).chars().take(200).collect()))),
        Err(NetError::Unreachable(e)) => Err(e),
        Err(e) if e.untrusted_server() => Err(format!("the server at {} ({}) is not proven to be the service: {e}", ep.authority(), ep.addr)),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// nginx answers a missing or unverifiable client certificate with 400 and says why.
fn is_refusal(res: &Result<(u16, String), String>) -> bool {
    match res {
        Err(_) => true,
        Ok((s, body)) => matches!(s, 495 | 496) || (*s == 400 && body.contains("SSL certificate")),
    }
}

fn show(res: &Result<(u16, String), String>) -> String {
    match res {
        Ok((s, b)) => format!("HTTP {s} {}", b.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(120).collect::<String>()),
        Err(e) => e.clone(),
    }
}

fn internal_route(env: &Env) -> Result<&Route, String> {
    env.policy.routes.iter().find(|r| r.listener() == Listener::Internal).ok_or_else(|| "no route on the internal listener".into())
}

/// The revoked client certificates in the PKI that still have their key: serials the CRL lists.
fn revoked(env: &Env) -> Vec<(String, ClientId)> {
    let Ok(text) = std::fs::read(env.pki_dir.join("ca/crl.pem")) else { return Vec::new() };
    let Ok(crl) = crate::ca::crl::parse(&text) else { return Vec::new() };
    env.clients
        .iter()
        .filter(|(_, id)| {
            id.chain.first().and_then(|c| crate::ca::certinfo::info(c).ok()).is_some_and(|i| crl.revoked.iter().any(|s| s.eq_ignore_ascii_case(&i.serial)))
        })
        .map(|(n, id)| (n.clone(), id.clone()))
        .collect()
}

fn refuse(cx: &mut Cx<'_>) -> Outcome {
    let env = cx.env;
    let ep = gw::internal(env)?;
    let route = internal_route(env)?;
    let path = gw::path_on(route);
    // First prove the listener is up and accepts a valid client, so the refusals below mean something.
    let ok_id = allowed(env, &route.upstream.value).into_iter().find(|s| env.clients.contains_key(s)).ok_or_else(|| format!("no client certificate in the PKI for a caller of {} (the flows allow {:?})", route.path.value, allowed(env, &route.upstream.value)))?;
    let good = try_http(cx, &ep, Some(env.client(&ok_id)?), &path)?;
    if is_refusal(&good) {
        return Err(format!("the internal listener refused even `{ok_id}`, whom a flow allows ({}); see mtls.internal.authz", show(&good)));
    }
    let mut cases: Vec<(String, Option<ClientId>)> = vec![("no client certificate".into(), None), ("a client certificate from a foreign CA (same subject)".into(), Some(env.foreign.clone()))];
    let rev = revoked(env);
    for (n, id) in &rev {
        cases.push((format!("`{n}`'s revoked client certificate"), Some(id.clone())));
    }
    for (what, id) in &cases {
        let res = try_http(cx, &ep, id.as_ref(), &path)?;
        cx.expect(is_refusal(&res), || format!("GET https://{}{path} with {what}", ep.authority()), || show(&res), "refused: TLS alert, or 400 \"SSL certificate\"");
    }
    let note = if rev.is_empty() { "; the PKI holds no revoked certificate with its key, so revocation was not exercised (mtls.internal.refuse proves the CRL only when one exists)" } else { "" };
    Ok(format!("{} refusal(s) proven, `{ok_id}` accepted{note}", cases.len()))
}

fn authz(cx: &mut Cx<'_>, r: &Route) -> Outcome {
    let env = cx.env;
    let ep = gw::internal(env)?;
    let path = gw::path_on(r);
    let ok = allowed(env, &r.upstream.value);
    let mut n = 0;
    for svc in &ok {
        let res = try_http(cx, &ep, Some(env.client(svc)?), &path)?;
        n += 1;
        cx.expect(!is_refusal(&res) && !matches!(&res, Ok((403, _))), || format!("GET https://{}{path} as `{svc}`", ep.authority()), || show(&res), format!("`{svc}` passes (flow {svc} -> {} via the gateway)", r.upstream.value));
    }
    // Revoked certificates are refused by TLS (mtls.internal.refuse), never reach authorization.
    let rev: Vec<String> = revoked(env).into_iter().map(|(n, _)| n).collect();
    let denied: Vec<&String> = env.clients.keys().filter(|k| !ok.contains(k) && !rev.contains(k)).collect();
    if denied.is_empty() {
        return Err("the PKI holds no client certificate of a service that no flow allows: cannot show a 403".into());
    }
    for svc in &denied {
        let res = try_http(cx, &ep, Some(env.client(svc)?), &path)?;
        n += 1;
        cx.expect(matches!(&res, Ok((403, _))), || format!("GET https://{}{path} as `{svc}`", ep.authority()), || show(&res), format!("403: no flow lets `{svc}` reach {} through the gateway", r.upstream.value));
    }
    Ok(format!("{} allowed and {} denied identities checked ({n} requests)", ok.len(), denied.len()))
}

/// A caller that may reach `svc` (a flow from it), with a client certificate in the PKI.
fn caller(env: &Env, svc: &str) -> Option<String> {
    env.policy.flows.iter().filter(|f| f.to.value == svc && f.via.is_none()).map(|f| f.from.value.clone()).find(|c| env.clients.contains_key(c))
}

fn upstream(cx: &mut Cx<'_>, svc: &str) -> Outcome {
    let env = cx.env;
    let s = env.policy.service(svc).ok_or("unknown service")?;
    let l = s.listen.as_ref().ok_or("no listen")?;
    let name = s.dns_names.first().map(|d| d.value.clone()).unwrap_or_else(|| l.host.value.clone());
    let ep = env.endpoint(&name, l)?;
    let call = |cx: &Cx<'_>, id: Option<&ClientId>| try_http(cx, &ep, id, "/");
    let who = caller(env, svc).ok_or_else(|| format!("no client certificate in the PKI for a service with a flow to `{svc}`"))?;
    let good = call(cx, Some(env.client(&who)?))?;
    if is_refusal(&good) {
        cx.fail(format!("TLS to {} ({}) as `{who}`", ep.authority(), ep.addr), show(&good), format!("accepted: a flow lets `{who}` reach `{svc}`"));
        return Ok(String::new());
    }
    for (what, id) in [("no client certificate", None), ("a client certificate from a foreign CA", Some(&env.foreign))] {
        let res = call(cx, id)?;
        cx.expect(is_refusal(&res), || format!("TLS to {} ({}) with {what}", ep.authority(), ep.addr), || show(&res), "refused (TLS alert, or 400 \"SSL certificate\")");
    }
    Ok(format!("`{who}` accepted; no certificate and a foreign CA refused"))
}
