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

use crate::diag::Diagnostic;
use crate::policy::model::{Policy, ServiceKind};
use crate::policy::{LoadedPolicy, Span};

use super::glob;

/// Command rules applied when a user lists none.
pub const DEFAULT_COMMANDS: &[&str] = &[
    "+@read",
    "+@write",
    "+@connection",
    "-@dangerous",
    "-@admin",
];

/// ACL categories that exist in Redis 7.0 (`ACL CAT`). An unknown one aborts Redis at startup.
const CATEGORIES: &[&str] = &[
    "all",
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
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

/// Builds the ACL plan, or returns every problem found (all errors).
pub fn plan(loaded: &LoadedPolicy) -> Result<Option<AclPlan>, Vec<Diagnostic>> {
    let policy = &loaded.policy;
    let Some(redis) = &policy.redis else {
        return Ok(None);
    };
    let file = loaded.source.name.as_str();
    let mut diags = Vec::new();
    let svc = redis.service.value.as_str();
    match policy.service(svc) {
        Some(s) if s.kind.value == ServiceKind::Redis && s.listen.is_some() => {}
        _ => diags.push(
            Diagnostic::error(
                "redis-service-invalid",
                file,
                redis.service.span,
                "redis.service",
                format!("`{svc}` is not a service of kind `redis` with a `listen` address"),
            )
            .with_hint("point `redis.service` at the Redis entry in `services` and give it `listen: { host, port }`"),
        ),
    }
    let clients = clients_of(policy, svc);
    for (name, why) in &clients {
        if !redis.users.contains_key(name) {
            let span = policy
                .flows_from(name)
                .find(|f| f.to.value == svc)
                .map(|f| f.from.span)
                .unwrap_or(Span::UNKNOWN);
            diags.push(
                Diagnostic::error(
                    "redis-flow-without-user",
                    file,
                    span,
                    "flows",
                    format!("`{name}` has a flow to Redis but no entry in `redis.users` ({why})"),
                )
                .with_hint(format!(
                    "add `redis.users.{name}` with the key patterns it needs, or remove the flow"
                )),
            );
        }
    }
    for (name, u) in &redis.users {
        if !clients.contains_key(name) {
            // Map keys carry no span: point at the user's first value, else at `redis.service`.
            let span = u
                .keys
                .iter()
                .chain(&u.read_keys)
                .chain(&u.channels)
                .chain(&u.commands)
                .map(|v| v.span)
                .next()
                .unwrap_or(redis.service.span);
            diags.push(
                Diagnostic::error(
                    "redis-user-without-flow",
                    file,
                    span,
                    format!("redis.users.{name}"),
                    format!("Redis user `{name}` has no flow `{name} -> {svc}`"),
                )
                .with_hint(format!(
                    "add `{{ from: {name}, to: {svc} }}` to `flows`, or remove the user"
                )),
            );
        }
    }
    let mut users: BTreeMap<String, AclUser> = BTreeMap::new();
    for (name, u) in &redis.users {
        let base = format!("redis.users.{name}");
        let patterns = |list: &[crate::policy::model::SString],
                        field: &str,
                        diags: &mut Vec<Diagnostic>|
         -> Vec<String> {
            list.iter()
                .enumerate()
                .filter_map(|(i, p)| match check_pattern(&p.value) {
                    Ok(()) => Some(p.value.clone()),
                    Err(why) => {
                        diags.push(
                            Diagnostic::error("redis-invalid-rule", file, p.span, format!("{base}.{field}[{i}]"), format!("`{}` {why}", p.value))
                                .with_hint("use a glob such as `jobs:*` without spaces, quotes or control characters"),
                        );
                        None
                    }
                })
                .collect()
        };
        let keys = patterns(&u.keys, "keys", &mut diags);
        let read_keys = patterns(&u.read_keys, "read_keys", &mut diags);
        let channels = patterns(&u.channels, "channels", &mut diags);
        let mut commands = Vec::new();
        for (i, c) in u.commands.iter().enumerate() {
            match check_command(&c.value) {
                Ok(()) => commands.push(c.value.clone()),
                Err(why) => diags.push(
                    Diagnostic::error("redis-invalid-rule", file, c.span, format!("{base}.commands[{i}]"), format!("`{}` {why}", c.value))
                        .with_hint("write command rules as `+cmd`, `-cmd`, `+cmd|sub`, `+@category` or `-@category`; keys and passwords do not belong here"),
                ),
            }
        }
        if u.commands.is_empty() {
            commands = DEFAULT_COMMANDS.iter().map(|s| s.to_string()).collect();
        }
        let why = clients.get(name).cloned().unwrap_or_default();
        users.insert(
            name.clone(),
            AclUser {
                name: name.clone(),
                keys,
                read_keys,
                write_keys: Vec::new(),
                channels,
                commands,
                why,
            },
        );
    }
    for (qi, q) in redis.error_queues.iter().enumerate() {
        let qpath = format!("redis.error_queues[{qi}]");
        if let Err(why) = check_pattern(&q.key.value) {
            diags.push(Diagnostic::error(
                "redis-invalid-rule",
                file,
                q.key.span,
                format!("{qpath}.key"),
                format!("`{}` {why}", q.key.value),
            ));
            continue;
        }
        let members = q
            .producers
            .iter()
            .map(|p| (p, "producers"))
            .chain(q.consumers.iter().map(|c| (c, "consumers")));
        for (m, role) in members {
            if !users.contains_key(&m.value) {
                diags.push(
                    Diagnostic::error(
                        "redis-user-without-flow",
                        file,
                        m.span,
                        format!("{qpath}.{role}"),
                        format!(
                            "`{}` is listed as an error-queue {} but is not a Redis user",
                            m.value,
                            role.trim_end_matches('s')
                        ),
                    )
                    .with_hint(format!(
                        "add a flow `{} -> {svc}` and a `redis.users.{}` entry",
                        m.value, m.value
                    )),
                );
            }
        }
        let consumers: Vec<&str> = q.consumers.iter().map(|c| c.value.as_str()).collect();
        for user in users.values_mut() {
            if consumers.contains(&user.name.as_str()) {
                user.keys.push(q.key.value.clone());
                continue;
            }
            // Anyone else who can read keys overlapping the queue defeats "only consumers read errors".
            for p in user.keys.iter().chain(user.read_keys.iter()) {
                if glob::overlaps(p, &q.key.value) {
                    diags.push(
                        Diagnostic::error(
                            "redis-queue-overlap",
                            file,
                            q.key.span,
                            format!("{qpath}.key"),
                            format!("`{}` can read error queue `{}` through its key pattern `{p}`", user.name, q.key.value),
                        )
                        .with_hint(format!("narrow `redis.users.{}` patterns so they cannot match `{}`, or make it a consumer", user.name, q.key.value)),
                    );
                }
            }
            if q.producers.iter().any(|p| p.value == user.name) {
                user.write_keys.push(q.key.value.clone());
            }
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Some(AclPlan {
        service: svc.to_string(),
        users: users.into_values().collect(),
    }))
}

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

/// A key or channel pattern must be one ACL token: no whitespace, quotes or control characters.
fn check_pattern(p: &str) -> Result<(), &'static str> {
    if p.is_empty() {
        return Err("is empty");
    }
    if p.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\'')
    {
        return Err(
            "contains whitespace, a quote or a control character, which would split or corrupt the ACL line",
        );
    }
    Ok(())
}

/// A command rule: `+cmd`, `-cmd`, `+cmd|sub`, `+@cat`, `-@cat`, with a category Redis 7.0 knows.
fn check_command(c: &str) -> Result<(), String> {
    let Some(rest) = c.strip_prefix('+').or_else(|| c.strip_prefix('-')) else {
        return Err("is not a command rule (it must start with `+` or `-`)".into());
    };
    if let Some(cat) = rest.strip_prefix('@') {
        if CATEGORIES.contains(&cat) {
            return Ok(());
        }
        return Err(format!(
            "names an ACL category Redis 7.0 does not have (known: {})",
            CATEGORIES.join(", ")
        ));
    }
    let ok_word = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_')
    };
    let mut parts = rest.splitn(2, '|');
    let cmd = parts.next().unwrap_or("");
    let sub_ok = parts.next().is_none_or(ok_word);
    if ok_word(cmd) && sub_ok {
        Ok(())
    } else {
        Err("is not a lowercase command name (optionally `cmd|subcommand`)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_rules() {
        for ok in ["+@read", "-@dangerous", "+get", "+acl|whoami", "-flushall"] {
            assert!(check_command(ok).is_ok(), "{ok}");
        }
        for bad in [
            "@read", "+@nosuch", "~*", ">secret", "nopass", "allkeys", "+GET", "+get x",
        ] {
            assert!(check_command(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_line() {
        let u = AclUser {
            name: "api".into(),
            keys: vec!["jobs:*".into()],
            read_keys: vec![],
            write_keys: vec!["errors:*".into()],
            channels: vec![],
            commands: vec!["+@read".into(), "+@write".into()],
            why: String::new(),
        };
        assert_eq!(
            u.to_string(),
            "user api on resetkeys ~jobs:* %W~errors:* resetchannels -@all +@read +@write"
        );
    }
}
