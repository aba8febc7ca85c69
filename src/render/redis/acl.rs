//! The Redis ACL as a typed plan, derived from the policy's flows and `redis` section.
//!
//! Who gets a user follows from `flows` (every service with a flow to the Redis
//! service, nobody else); what each user may touch comes from `redis.users` and
//! `redis.error_queues`. Producers of an error queue get write-only access
//! (`%W~`), consumers get read-write access, and no other user may hold a key
//! pattern that overlaps a queue, so "only the worker reads errors" holds by
//! construction rather than by review.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::policy::model::Policy;
use crate::policy::ValidPolicy;

/// Command rules applied when a user lists none.
pub const DEFAULT_COMMANDS: &[&str] = &[
    "+@read",
    "+@write",
    "+@connection",
    "-@dangerous",
    "-@admin",
];

/// One Redis ACL user: a client service and what it may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AclUser {
    /// User name = service name (the certificate CN of the same service).
    pub name: String,
    /// Key patterns with read and write access (`~`).
    pub keys: Vec<String>,
    /// Key patterns with read-only access (`%R~`).
    pub read_keys: Vec<String>,
    /// Key patterns with write-only access (`%W~`): error queues this service produces to.
    pub write_keys: Vec<String>,
    /// Pub/Sub channel patterns (`&`).
    pub channels: Vec<String>,
    /// Command rules, applied after `-@all`.
    pub commands: Vec<String>,
    /// Redis 7 selectors `(...)`: extra key+command pairs (the audit streams; see `render::audit`).
    pub selectors: Vec<String>,
    /// Why the user exists (flow descriptions), for the generated comment.
    pub why: String,
}

impl AclUser {
    /// The ACL rules after `user <name> on`, without credentials.
    pub fn rules(&self) -> String {
        let mut r = vec!["resetkeys".to_string()];
        r.extend(self.keys.iter().map(|k| format!("~{k}")));
        r.extend(self.read_keys.iter().map(|k| format!("%R~{k}")));
        r.extend(self.write_keys.iter().map(|k| format!("%W~{k}")));
        r.push("resetchannels".into());
        r.extend(self.channels.iter().map(|c| format!("&{c}")));
        r.push("-@all".into());
        r.extend(self.commands.iter().cloned());
        r.extend(self.selectors.iter().cloned());
        r.join(" ")
    }
}

impl fmt::Display for AclUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user {} on {}", self.name, self.rules())
    }
}

/// The whole ACL: the Redis service and its users, sorted by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AclPlan {
    /// The Redis service name.
    pub service: String,
    /// Users, sorted by name.
    pub users: Vec<AclUser>,
}

impl AclPlan {
    /// Refuses, as a secctl bug, any token an ACL line cannot carry (ACL lines are split on
    /// spaces and cannot quote) and any user name that would leave the secrets directory as a
    /// file name. `check` refuses these with a code; this is the second depth.
    pub fn ensure_safe(&self) -> anyhow::Result<()> {
        use crate::render::escape::{acl_token, path_segment};
        for u in &self.users {
            // `default` is Redis's own user, which secctl disables: a service of that name
            // would redefine it (Redis 7.0 aborts on the duplicate; a later version may not).
            if u.name == "default" {
                return Err(crate::render::escape::unsafe_value("a Redis ACL", "the Redis user name (reserved by Redis)", &u.name));
            }
            acl_token(&u.name, "the Redis user name")?;
            path_segment(&u.name, "the Redis user name")?;
            for t in u.keys.iter().chain(&u.read_keys).chain(&u.write_keys).chain(&u.channels).chain(&u.commands) {
                acl_token(t, &format!("a rule of Redis user {}", u.name))?;
            }
        }
        Ok(())
    }
}

/// Builds the ACL plan from a policy `check` accepted (`None` without a `redis` section).
/// Patterns, command rules and error-queue privacy were judged there (`policy::check::redis`),
/// so this only lays out users and their rules.
pub fn plan(valid: &ValidPolicy) -> Option<AclPlan> {
    let policy = valid.policy();
    let redis = policy.redis.as_ref()?;
    let svc = redis.service.value.as_str();
    let clients = clients_of(policy, svc);
    let texts = |list: &[crate::policy::model::SString]| list.iter().map(|p| p.value.clone()).collect::<Vec<_>>();
    let mut users: BTreeMap<String, AclUser> = BTreeMap::new();
    for (name, u) in &redis.users {
        let commands = if u.commands.is_empty() { DEFAULT_COMMANDS.iter().map(|s| s.to_string()).collect() } else { texts(&u.commands) };
        let why = clients.get(name).cloned().unwrap_or_default();
        users.insert(
            name.clone(),
            AclUser { name: name.clone(), keys: texts(&u.keys), read_keys: texts(&u.read_keys), write_keys: Vec::new(), channels: texts(&u.channels), commands, selectors: Vec::new(), why },
        );
    }
    for q in &redis.error_queues {
        let consumers: Vec<&str> = q.consumers.iter().map(|c| c.value.as_str()).collect();
        for user in users.values_mut() {
            if consumers.contains(&user.name.as_str()) {
                user.keys.push(q.key.value.clone());
            } else if q.producers.iter().any(|p| p.value == user.name) {
                user.write_keys.push(q.key.value.clone());
            }
        }
    }
    for user in users.values_mut() {
        if policy.services.get(&user.name).is_some_and(|s| s.kind.value == crate::policy::model::ServiceKind::Fastapi) {
            kit_rules(user);
        }
    }
    audit_streams(policy, &mut users);
    Some(AclPlan { service: svc.to_string(), users: users.into_values().collect() })
}

/// What the FastAPI kit needs, and nothing more: its limiter's own `ratelimit:<service>:*` keys,
/// EVALSHA of the GCRA script (SCRIPT LOAD once after a restart) and TIME inside it, so every
/// process shares Redis' clock (python/secctl_fastapi/src/secctl_fastapi/ratelimit.py). Its audit
/// stream comes from [`audit_streams`] (XADD only, through a selector).
fn kit_rules(user: &mut AclUser) {
    let own = format!("ratelimit:{}:*", user.name);
    // A policy pattern that already covers the prefix (`ratelimit:*`) needs no second one.
    if !user.keys.iter().any(|k| k.strip_suffix('*').is_some_and(|p| own.starts_with(p))) {
        user.keys.push(own);
    }
    for c in ["+evalsha", "+script|load", "+time"] {
        user.commands.push(c.to_string());
    }
}

/// Audit streams: each producer may only `XADD` to its own `audit:<svc>` (a selector, so its other
/// write rules never reach the stream: no DEL, XTRIM or XADD MAXLEN on another stream); the audit
/// worker alone reads, acks, claims and trims. That nobody else holds a pattern matching `audit:*`
/// was judged by `check` (`redis-audit-overlap`, in `policy::check::data`).
fn audit_streams(policy: &Policy, users: &mut BTreeMap<String, AclUser>) {
    // The FastAPI kit emits its audit events into its own stream whatever the sink, so producers
    // always get their XADD; only a Loki or Elasticsearch sink has a worker that ships them.
    let worker = if crate::render::audit::pipeline_enabled(policy) { policy.audit_worker() } else { None };
    let producers = crate::render::audit::producers(policy);
    for user in users.values_mut() {
        if Some(&user.name) == worker.as_ref() {
            user.selectors.push(WORKER_AUDIT_SELECTOR.to_string());
        } else if producers.contains(&user.name) {
            user.selectors.push(format!("(%W~{} +xadd)", crate::render::audit::stream_of(&user.name)));
        }
    }
}

/// What the audit worker may do on `audit:*`: consume through its group, re-queue gateway and
/// Keycloak events and dead letters, keep cursors, trim after delivery. No DEL, no XRANGE.
pub const WORKER_AUDIT_SELECTOR: &str = "(~audit:* +xreadgroup +xack +xautoclaim +xclaim +xgroup|create +xinfo|groups +xinfo|stream +xpending +xtrim +xadd +xlen +hget +hset +multi +exec +ping)";

/// Services with a flow to `svc`, with the flows' descriptions.
fn clients_of(policy: &Policy, svc: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for f in policy.flows_to(svc) {
        let d = f
            .description
            .clone()
            .unwrap_or_else(|| format!("flow {} -> {svc}", f.from.value));
        out.entry(f.from.value.clone())
            .and_modify(|e| {
                e.push_str("; ");
                e.push_str(&d)
            })
            .or_insert(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_line() {
        let u = AclUser {
            name: "api".into(),
            keys: vec!["jobs:*".into()],
            read_keys: vec![],
            write_keys: vec!["errors:*".into()],
            channels: vec![],
            commands: vec!["+@read".into(), "+@write".into()],
            selectors: Vec::new(),
            why: String::new(),
        };
        assert_eq!(
            u.to_string(),
            "user api on resetkeys ~jobs:* %W~errors:* resetchannels -@all +@read +@write"
        );
    }
}
