//! TLS on the public listener: protocol versions (legacy ones offered by a hand-made
//! ClientHello), cipher suites, and the served certificate chain.

use super::env::Env;
use super::gw;
use super::hello::{self, Answer};
use super::net::{self, NetError};
use super::probe::{Cx, Outcome, Probe};
use crate::policy::model::TlsProfile;

/// The TLS probes for the policy.
pub fn probes(env: &Env) -> Vec<Probe> {
    let Some(edge) = env.policy.edge.as_ref() else { return Vec::new() };
    let at = |path: &str| match &edge.tls_profile {
        Some(p) => env.at(p.span, path),
        None => env.at(edge.gateway.span, "edge.gateway"),
    };
    let mut v = vec![
        Probe::new("tls.protocols", None, at("edge.tls_profile"), protocols),
        Probe::new("tls.ciphers", None, at("edge.tls_profile"), ciphers),
    ];
    let cert_at = edge.hosts.first().map(|h| env.at(h.span, "edge.hosts")).unwrap_or_else(|| at("edge"));
    v.push(Probe::new("tls.certificate", None, cert_at, certificate));
    v
}

fn profile(env: &Env) -> TlsProfile {
    env.policy.edge.as_ref().map(|e| e.tls_profile()).unwrap_or(TlsProfile::Intermediate)
}

fn protocols(cx: &mut Cx<'_>) -> Outcome {
    let ep = gw::public(cx.env)?;
    let want12 = profile(cx.env) == TlsProfile::Intermediate;
    for (v, name, want) in [(&rustls::version::TLS13, "TLS 1.3", true), (&rustls::version::TLS12, "TLS 1.2", want12)] {
        let cfg = net::tls_config(None, &[v], None, None);
        let sent = format!("{name} ClientHello to {} ({})", ep.authority(), ep.addr);
        match net::tls(&ep, cfg, cx.env.timeout, &cx.n) {
            Ok(_) if !want => cx.fail(sent, format!("{name} handshake completed"), format!("{name} refused (profile {:?})", profile(cx.env))),
            Ok(_) => {}
            Err(NetError::Unreachable(e)) => return Err(e),
            Err(e) if want => cx.fail(sent, e.to_string(), format!("{name} accepted")),
            Err(_) => {}
        }
    }
    for v in [hello::TLS11, hello::TLS10, hello::SSL3] {
        let name = hello::version_name(v);
        match hello::offer(&ep, v, hello::LEGACY_SUITES, cx.env.timeout, &cx.n) {
            Ok(Answer::Accepted { suite, .. }) => cx.fail(
                format!("{name} ClientHello (hand-made, legacy suites) to {}", ep.authority()),
                format!("ServerHello {name}, suite 0x{suite:04x}"),
                format!("{name} refused"),
            ),
            Ok(Answer::Refused(_)) => {}
            Err(NetError::Unreachable(e)) => return Err(e),
            Err(_) => {}
        }
    }
    Ok(format!("TLS 1.3 accepted, TLS 1.2 {}, TLS 1.1/1.0/SSLv3 refused", if want12 { "accepted" } else { "refused" }))
}

fn ciphers(cx: &mut Cx<'_>) -> Outcome {
    let ep = gw::public(cx.env)?;
    match hello::offer(&ep, hello::TLS12, hello::WEAK_TLS12_SUITES, cx.env.timeout, &cx.n) {
        Ok(Answer::Accepted { suite, .. }) => cx.fail(
            format!("TLS 1.2 ClientHello offering only CBC, static-RSA, 3DES and RC4 suites to {}", ep.authority()),
            format!("ServerHello with suite 0x{suite:04x}"),
            "handshake refused: only AEAD suites with forward secrecy",
        ),
        Ok(Answer::Refused(_)) => {}
        Err(NetError::Unreachable(e)) => return Err(e),
        Err(_) => {}
    }
    if profile(cx.env) == TlsProfile::Intermediate {
        let (_, hs) = net::tls(&ep, net::tls_config(None, &[&rustls::version::TLS12], None, None), cx.env.timeout, &cx.n).map_err(|e| format!("TLS 1.2 handshake with an AEAD offer failed: {e}"))?;
        if let Some(s) = hs.suite {
            let name = format!("{s:?}");
            cx.expect(name.contains("GCM") || name.contains("CHACHA20"), || "TLS 1.2 ClientHello (rustls AEAD suites)".into(), || name.clone(), "an AEAD suite");
        }
    }
    Ok("weak suites refused; AEAD suites negotiated".into())
}

fn certificate(cx: &mut Cx<'_>) -> Outcome {
    let env = cx.env;
    let edge = gw::edge(env)?;
    let l = gw::public_listen(env).ok_or("no public listener")?;
    let cfg = gw::trusted(env, None)?;
    let renew = env.policy.ca.as_ref().map(|c| c.renew_before_days()).unwrap_or(0) as i64;
    let now = time::OffsetDateTime::now_utc();
    let mut checked = 0;
    for h in &edge.hosts {
        let ep = env.endpoint(&h.value, l)?;
        let sent = format!("TLS handshake with SNI {} to {} (trusting {})", h.value, ep.addr, env.pki_dir.join("ca/bundle.crt").display());
        match net::tls(&ep, cfg.clone(), env.timeout, &cx.n) {
            Ok((_, hs)) => {
                checked += 1;
                let Some(leaf) = hs.peer_chain.first() else { continue };
                match crate::ca::certinfo::info(leaf) {
                    Ok(info) => {
                        let left = (info.not_after - now).whole_days();
                        cx.expect(left > renew, || sent.clone(), || format!("leaf expires {} ({left} days left)", info.not_after), format!("more than {renew} days left (ca.renew_before_days)"));
                    }
                    Err(e) => cx.fail(sent, format!("unparsable leaf: {e:#}"), "a valid X.509 leaf"),
                }
            }
            Err(NetError::Unreachable(e)) => return Err(e),
            Err(e) => cx.fail(sent, e.to_string(), format!("a chain to the service CA valid for {}", h.value)),
        }
    }
    Ok(format!("{checked} host(s): chain, name and expiry valid"))
}
