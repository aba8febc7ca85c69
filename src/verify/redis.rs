//! Redis: TLS only with client certificates of the service CA, the default user off, each ACL
//! user confined to its keys and commands, and error queues write-only for producers.
//!
//! Probes use each service's own client certificate and password file (the one `render`
//! provisions); a missing one is a missing credential (not evaluated). Only keys named
//! `…secctl-verify-<run>` are ever written, and they are deleted again; no command that could
//! destroy data (FLUSHALL, DEL on a real key) is ever sent.

use std::io::{BufRead, BufReader, Read, Write};

use zeroize::Zeroizing;

use super::env::Env;
use super::gw;
use super::net::{self, ClientId, Endpoint, NetError, Tls};
use super::probe::{Cx, Outcome, Probe};
use crate::policy::model::Redis;
use crate::policy::types::glob::overlaps;

/// The Redis probes.
pub fn probes(env: &Env) -> Vec<Probe> {
    let Some(r) = env.policy.redis.as_ref() else { return Vec::new() };
    if env.policy.service(&r.service.value).and_then(|s| s.listen.as_ref()).is_none() {
        return Vec::new();
    }
    let at = env.at(r.service.span, "redis.service");
    let mut v = vec![Probe::new("redis.transport", None, at.clone(), transport), Probe::new("redis.default-user", None, at, default_user)];
    for (name, u) in &r.users {
        let uat = u.keys.first().or(u.read_keys.first()).map(|k| env.at(k.span, format!("redis.users.{name}"))).unwrap_or_else(|| env.at(r.service.span, "redis.users"));
        let n = name.clone();
        v.push(Probe::new("redis.acl", Some(name), uat, move |cx| acl(cx, &n)));
    }
    for (i, q) in r.error_queues.iter().enumerate() {
        let i2 = i;
        v.push(Probe::new("redis.error-queue", Some(&q.key.value), env.at(q.key.span, format!("redis.error_queues[{i}]")), move |cx| error_queue(cx, i2)));
    }
    v
}

fn redis(env: &Env) -> Result<&Redis, String> {
    env.policy.redis.as_ref().ok_or_else(|| "no redis section".into())
}

fn endpoint(env: &Env) -> Result<Endpoint, String> {
    let r = redis(env)?;
    let s = env.policy.service(&r.service.value).ok_or("the redis service is not in services")?;
    let l = s.listen.as_ref().ok_or("the redis service has no listen")?;
    let name = s.dns_names.first().map(|d| d.value.clone()).unwrap_or_else(|| l.host.value.clone());
    env.endpoint(&name, l)
}

/// One RESP reply, reduced to what the probes judge.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Ok(String),
    Err(String),
}

impl Reply {
    fn denied(&self) -> bool {
        matches!(self, Reply::Err(e) if e.starts_with("NOPERM"))
    }
    fn text(&self) -> String {
        match self {
            Reply::Ok(s) => s.clone(),
            Reply::Err(e) => format!("-{e}"),
        }
    }
}

struct Conn(BufReader<Tls>);

impl Conn {
    fn cmd(&mut self, args: &[&str]) -> Result<Reply, String> {
        let mut b = format!("*{}\r\n", args.len());
        for a in args {
            b.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.0.get_mut().write_all(b.as_bytes()).and_then(|_| self.0.get_mut().flush()).map_err(|e| format!("connection lost: {e}"))?;
        read_reply(&mut self.0, 0)
    }
}

fn read_reply(r: &mut impl BufRead, depth: usize) -> Result<Reply, String> {
    let mut line = String::new();
    let n = r.read_line(&mut line).map_err(|e| format!("connection lost: {e}"))?;
    if n == 0 {
        return Err("connection closed".into());
    }
    let line = line.trim_end().to_string();
    let (kind, rest) = line.split_at(1.min(line.len()));
    match kind {
        "+" | ":" => Ok(Reply::Ok(rest.to_string())),
        "-" => Ok(Reply::Err(rest.to_string())),
        "$" => {
            let len: i64 = rest.parse().map_err(|_| format!("bad reply `{line}`"))?;
            if len < 0 {
                return Ok(Reply::Ok("(nil)".into()));
            }
            let mut buf = vec![0u8; len as usize + 2];
            r.read_exact(&mut buf).map_err(|e| format!("connection lost: {e}"))?;
            Ok(Reply::Ok(format!("bulk of {len} bytes")))
        }
        "*" if depth < 4 => {
            let len: i64 = rest.parse().map_err(|_| format!("bad reply `{line}`"))?;
            for _ in 0..len.max(0) {
                read_reply(r, depth + 1)?;
            }
            Ok(Reply::Ok(format!("array of {len}")))
        }
        _ => Err(format!("not a Redis reply: `{}`", line.chars().take(40).collect::<String>())),
    }
}

/// Connects over TLS with `id`. Outer `Err`: nothing answered (not evaluated); inner `Err`: refused.
fn connect(cx: &Cx<'_>, id: Option<&ClientId>) -> Result<Result<Conn, String>, String> {
    let ep = endpoint(cx.env)?;
    let cfg = gw::trusted(cx.env, id)?;
    match net::tls(&ep, cfg, cx.env.timeout, &cx.n) {
        Ok((s, _)) => Ok(Ok(Conn(BufReader::new(s)))),
        Err(NetError::Unreachable(e)) => Err(e),
        Err(e) if e.untrusted_server() => Err(format!("the server at {} ({}) is not proven to be Redis of this stack: {e}", ep.authority(), ep.addr)),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// The password `render` provisioned for `user`, or why it is missing.
fn password(env: &Env, user: &str) -> Result<Zeroizing<String>, String> {
    let p = crate::render::redis::secrets::host_dir(env.valid.loaded()).join(crate::render::redis::secrets::password_file(user));
    let text = std::fs::read_to_string(&p).map_err(|e| format!("missing credential: cannot read the Redis password of `{user}` at {} ({e}); run `secctl render` or give the secrets directory", p.display()))?;
    Ok(Zeroizing::new(text.trim().to_string()))
}

/// A connection authenticated as `user` with its own certificate and password.
fn login(cx: &mut Cx<'_>, user: &str) -> Result<Option<Conn>, String> {
    let env = cx.env;
    let id = env.client(user)?;
    let pw = password(env, user)?;
    let ep = endpoint(env)?;
    let mut c = match connect(cx, Some(id))? {
        Ok(c) => c,
        Err(e) => {
            cx.fail(format!("TLS to {} as `{user}`", ep.authority()), e, "a client of the service CA is accepted");
            return Ok(None);
        }
    };
    let r = c.cmd(&["AUTH", user, &pw])?;
    if r != Reply::Ok("OK".into()) {
        cx.fail(format!("AUTH {user} <password file>"), r.text(), "+OK: the password `render` provisioned");
        return Ok(None);
    }
    Ok(Some(c))
}

/// A key of this run that matches `pattern` (a Redis glob), if one can be made.
fn key_for(pattern: &str, tag: &str) -> Option<String> {
    if pattern.contains('[') || pattern.contains('\\') {
        return None;
    }
    let k = pattern.replacen('*', &format!("secctl-verify-{tag}"), 1).replace(['*', '?'], "x");
    overlaps(pattern, &k).then_some(k)
}

fn transport(cx: &mut Cx<'_>) -> Outcome {
    let env = cx.env;
    let ep = endpoint(env)?;
    let r = redis(env)?;
    let who = r.users.keys().find(|u| env.clients.contains_key(*u)).cloned().ok_or("no client certificate in the PKI for any Redis user")?;
    // Up, and accepts a client of the service CA: the refusals below then mean something.
    match connect(cx, Some(env.client(&who)?))? {
        Ok(mut c) => {
            c.cmd(&["PING"]).map_err(|e| format!("Redis accepted the TLS handshake of `{who}` but then: {e}"))?;
        }
        Err(e) => return Err(format!("Redis refuses even `{who}`'s certificate ({e}): see redis.acl"))
    }
    // Plaintext on the same port.
    let mut s = net::tcp(&ep, env.timeout, &cx.n).map_err(|e| e.to_string())?;
    let _ = s.write_all(b"PING\r\n");
    let mut buf = [0u8; 64];
    let got = match s.read(&mut buf) {
        Ok(k) if k > 0 => String::from_utf8_lossy(&buf[..k]).to_string(),
        _ => String::new(),
    };
    cx.expect(!(got.starts_with('+') || got.starts_with('-')), || format!("plaintext PING to {} ({})", ep.authority(), ep.addr), || got.trim().to_string(), "no plaintext Redis: TLS only");
    for (what, id) in [("no client certificate", None), ("a client certificate from a foreign CA", Some(env.foreign.clone()))] {
        let res = match connect(cx, id.as_ref())? {
            Ok(mut c) => c.cmd(&["PING"]).map(|r| r.text()),
            Err(e) => Err(e),
        };
        cx.expect(res.is_err(), || format!("TLS to {} with {what}, then PING", ep.authority()), || res.clone().unwrap_or_else(|e| e), "the handshake is refused");
    }
    Ok(format!("TLS with `{who}`'s certificate accepted; plaintext, no certificate and a foreign CA refused"))
}

fn default_user(cx: &mut Cx<'_>) -> Outcome {
    let env = cx.env;
    let who = redis(env)?.users.keys().find(|u| env.clients.contains_key(*u)).cloned().ok_or("no client certificate in the PKI for any Redis user")?;
    let mut c = connect(cx, Some(env.client(&who)?))?.map_err(|e| format!("Redis refuses `{who}`'s certificate ({e}): see redis.transport"))?;
    let r = c.cmd(&["PING"])?;
    cx.expect(matches!(&r, Reply::Err(e) if e.starts_with("NOAUTH")), || "PING before AUTH".into(), || r.text(), "-NOAUTH: the default user is off");
    let r = c.cmd(&["AUTH", "default", "secctl-verify-not-a-password"])?;
    cx.expect(matches!(&r, Reply::Err(_)), || "AUTH default <a wrong password>".into(), || r.text(), "an error: the default user is off");
    Ok("the default user is off".into())
}

fn acl(cx: &mut Cx<'_>, user: &str) -> Outcome {
    let env = cx.env;
    let u = redis(env)?.users.get(user).ok_or("unknown user")?.clone();
    let Some(mut c) = login(cx, user)? else { return Ok(String::new()) };
    let tag = env.tag.clone();
    let mut n = 0;
    if let Some(k) = u.keys.iter().find_map(|p| key_for(&p.value, &tag)) {
        let r = c.cmd(&["SET", &k, "1", "EX", "60"])?;
        cx.expect(!matches!(r, Reply::Err(_)), || format!("SET {k} as `{user}`"), || r.text(), format!("+OK: `{k}` matches {user}'s keys"));
        let _ = c.cmd(&["DEL", &k]);
        n += 1;
    }
    let all_patterns: Vec<String> = u.keys.iter().chain(&u.read_keys).map(|p| p.value.clone()).chain(redis(env)?.error_queues.iter().map(|q| q.key.value.clone())).collect();
    let outside = format!("secctl-verify-outside-{tag}");
    if !all_patterns.iter().any(|p| overlaps(p, &outside)) {
        let r = c.cmd(&["GET", &outside])?;
        cx.expect(r.denied(), || format!("GET {outside} as `{user}`"), || r.text(), "-NOPERM: outside every key pattern of the user");
        n += 1;
    }
    let cmds: Vec<String> = u.commands.iter().map(|c| c.value.to_ascii_lowercase()).collect();
    let admin_allowed = cmds.iter().any(|c| matches!(c.as_str(), "+@all" | "+@admin" | "+@dangerous" | "+config" | "allcommands"));
    if !admin_allowed {
        let r = c.cmd(&["CONFIG", "GET", "port"])?;
        cx.expect(r.denied(), || format!("CONFIG GET port as `{user}`"), || r.text(), "-NOPERM: CONFIG is not in the user's commands");
        n += 1;
    }
    Ok(format!("{n} permission checks for `{user}`"))
}

fn error_queue(cx: &mut Cx<'_>, i: usize) -> Outcome {
    let env = cx.env;
    let q = redis(env)?.error_queues.get(i).ok_or("unknown queue")?.clone();
    let key = key_for(&q.key.value, &env.tag).ok_or_else(|| format!("cannot make a test key for the pattern `{}`", q.key.value))?;
    let mut checked = Vec::new();
    for p in &q.producers {
        let Some(mut c) = login(cx, &p.value)? else { continue };
        let r = c.cmd(&["RPUSH", &key, "secctl verify canary"])?;
        cx.expect(!matches!(r, Reply::Err(_)), || format!("RPUSH {key} as producer `{}`", p.value), || r.text(), "a producer may push errors");
        for args in [vec!["LRANGE", key.as_str(), "0", "-1"], vec!["LPOP", key.as_str()], vec!["DEL", key.as_str()]] {
            let r = c.cmd(&args)?;
            cx.expect(r.denied(), || format!("{} as producer `{}`", args.join(" "), p.value), || r.text(), "-NOPERM: producers may not read or delete error queues");
        }
        checked.push(p.value.clone());
    }
    // Clean up with a consumer (it may read and delete).
    let mut cleaned = false;
    for consumer in &q.consumers {
        if let Ok(Some(mut c)) = login(cx, &consumer.value) {
            let r = c.cmd(&["LRANGE", &key, "0", "-1"])?;
            cx.expect(!r.denied(), || format!("LRANGE {key} as consumer `{}`", consumer.value), || r.text(), "consumers read the error queue");
            cleaned = !matches!(c.cmd(&["DEL", &key])?, Reply::Err(_));
            break;
        }
    }
    let note = if cleaned { String::new() } else { format!("; the test key {key} could not be removed (no consumer credential)") };
    Ok(format!("producers {checked:?} write-only{note}"))
}
