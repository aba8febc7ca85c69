//! Redis: the service, every user's key and channel patterns and command rules, error-queue
//! keys, and the rule that only an error queue's consumers can read it. (Users and flows
//! matching each other is in [`super::data`].) The ACL planner in `render::redis::acl` then
//! only lays out what this module accepted.

use std::collections::BTreeMap;

use crate::policy::model::ServiceKind;
use crate::policy::types::glob;
use crate::policy::types::redis::{RedisCommandRule, RedisPattern};

use super::{Cx, Finish};

pub(super) fn check(cx: &mut Cx) {
    let p = cx.policy;
    let Some(redis) = &p.redis else { return };
    let svc = redis.service.value.as_str();
    match p.services.get(svc) {
        Some(s) if s.kind.value == ServiceKind::Redis && s.listen.is_some() => {}
        _ => {
            cx.error("redis-service-invalid", redis.service.span, "redis.service", format!("`{svc}` is not a service of kind `redis` with a `listen` address"))
                .hint("point `redis.service` at the Redis entry in `services` and give it `listen: { host, port }`");
        }
    }
    // Each user's readable patterns, growing as queues make it a consumer (as the ACL does).
    let mut readable: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, u) in &redis.users {
        let base = format!("redis.users.{name}");
        for (field, list) in [("keys", &u.keys), ("read_keys", &u.read_keys), ("channels", &u.channels)] {
            for (i, pat) in list.iter().enumerate() {
                match RedisPattern::parse(pat) {
                    Ok(_) if field != "channels" => readable.entry(name).or_default().push(pat.value.clone()),
                    Ok(_) => {}
                    Err(why) => {
                        cx.error("redis-invalid-rule", pat.span, format!("{base}.{field}[{i}]"), format!("`{}` {why}", crate::policy::types::show(pat)))
                            .hint("use a glob such as `jobs:*` without spaces, quotes or control characters");
                    }
                }
            }
        }
        readable.entry(name).or_default();
        for (i, c) in u.commands.iter().enumerate() {
            if let Err(why) = RedisCommandRule::parse(c) {
                cx.error("redis-invalid-rule", c.span, format!("{base}.commands[{i}]"), format!("`{}` {why}", crate::policy::types::show(c)))
                    .hint("write command rules as `+cmd`, `-cmd`, `+cmd|sub`, `+@category` or `-@category`; keys and passwords do not belong here");
            }
        }
    }
    for (qi, q) in redis.error_queues.iter().enumerate() {
        let qpath = format!("redis.error_queues[{qi}]");
        if let Err(why) = RedisPattern::parse(&q.key) {
            cx.error("redis-invalid-rule", q.key.span, format!("{qpath}.key"), format!("`{}` {why}", crate::policy::types::show(&q.key)));
            continue;
        }
        let consumers: Vec<&str> = q.consumers.iter().map(|c| c.value.as_str()).collect();
        for (user, patterns) in readable.iter_mut() {
            if consumers.contains(user) {
                patterns.push(q.key.value.clone());
                continue;
            }
            // Anyone else who can read keys overlapping the queue defeats "only consumers read errors".
            for pat in patterns.iter() {
                if glob::overlaps(pat, &q.key.value) {
                    cx.error("redis-queue-overlap", q.key.span, format!("{qpath}.key"), format!("`{user}` can read error queue `{}` through its key pattern `{pat}`", q.key.value))
                        .hint(format!("narrow `redis.users.{user}` patterns so they cannot match `{}`, or make it a consumer", q.key.value));
                }
            }
        }
    }
}
