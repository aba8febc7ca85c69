//! Redis users and error queues, WAF settings and custom rules, audit sinks.

use crate::policy::model::{ServiceKind, SinkKind, WafMode};
use crate::policy::span::Spanned;

use super::{Cx, Finish};

pub(super) fn check(cx: &mut Cx) {
    redis(cx);
    waf(cx);
    audit(cx);
}

fn redis(cx: &mut Cx) {
    let p = cx.policy;
    let Some(r) = &p.redis else { return };
    let rs = r.service.value.as_str();
    // Users derive from flows: each side must match the other.
    for name in r.users.keys() {
        if cx.has_service(name) && !cx.has_flow(name, rs) {
            let span = cx.key_span(&["redis", "users", name]);
            cx.error("redis-user-without-flow", span, format!("redis.users.{name}"), format!("`{name}` has a Redis user but no flow to `{rs}`"))
                .label("no flow to Redis")
                .hint(format!("add `- {{ from: {name}, to: {rs} }}` to `flows`, or remove this user"));
        }
    }
    for (i, f) in p.flows.iter().enumerate() {
        if f.to.value == rs && !r.users.contains_key(&f.from.value) {
            cx.error("redis-flow-without-user", f.from.span, format!("flows[{i}].from"), format!("`{}` may connect to Redis but has no entry in `redis.users`", f.from.value))
                .label("no Redis user")
                .hint(format!("add `{}: {{ keys: [\"prefix:*\"] }}` under `redis.users`", f.from.value));
        }
    }
    for (i, q) in r.error_queues.iter().enumerate() {
        let both = q.producers.iter().enumerate().map(|(j, s)| (format!("redis.error_queues[{i}].producers[{j}]"), s)).chain(q.consumers.iter().enumerate().map(|(j, s)| (format!("redis.error_queues[{i}].consumers[{j}]"), s)));
        let both: Vec<(String, &Spanned<String>)> = both.collect();
        for (path, s) in both {
            if cx.has_service(s) && !cx.has_flow(s, rs) {
                cx.error("error-queue-without-flow", s.span, path, format!("`{}` uses error queue `{}` but has no flow to `{rs}`", s.value, q.key.value))
                    .label("no flow to Redis")
                    .hint(format!("add `- {{ from: {}, to: {rs} }}` to `flows`", s.value));
            }
        }
        for (j, c) in q.consumers.iter().enumerate() {
            if let Some(svc) = p.services.get(&c.value)
                && svc.kind.value != ServiceKind::Worker
            {
                cx.warning("error-queue-consumer-not-worker", c.span, format!("redis.error_queues[{i}].consumers[{j}]"), format!("`{}` reads error queue `{}` but is not a worker", c.value, q.key.value))
                    .label("not a worker")
                    .hint("only the worker should read error queues; producers write to them with write-only access");
            }
        }
    }
}

/// The number after `id:` in a SecRule's actions, if any.
fn rule_text_id(rule: &str) -> Option<u64> {
    // The forms ModSecurity reads as the rule id: `id:N,`, `id:N"` or `id:'N'`.
    let i = rule.find("id:")?;
    let rest = &rule[i + 3..];
    let (quoted, rest) = match rest.strip_prefix('\'') { Some(r) => (true, r), None => (false, rest) };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let after = rest[digits.len()..].chars().next();
    let closed = if quoted { after == Some('\'') } else { matches!(after, Some(',' | '"')) };
    if closed { digits.parse().ok() } else { None }
}

fn waf(cx: &mut Cx) {
    let Some(w) = &cx.policy.waf else { return };
    if let Some(pl) = &w.paranoia_level
        && !(1..=4).contains(&pl.value)
    {
        cx.error("waf-paranoia-level", pl.span, "waf.paranoia_level", format!("paranoia level {} does not exist; CRS has levels 1 to 4", pl.value))
            .label("not 1-4")
            .hint("start with 1 and raise it once false positives are tuned");
    }
    if w.mode.value == WafMode::DetectionOnly && cx.is_production() {
        cx.warning("waf-detection-only", w.mode.span, "waf.mode", "the WAF only logs attacks in production")
            .label("not blocking")
            .hint("switch to `mode: blocking` once the audit log shows no false positives");
    }
    for (i, r) in w.custom_rules.iter().enumerate() {
        if !(20_000..=29_999).contains(&r.id.value) {
            cx.error("waf-rule-id-range", r.id.span, format!("waf.custom_rules[{i}].id"), format!("custom rule id {} is outside 20000-29999", r.id.value))
                .label("reserved range")
                .hint("ids below 20000 and from 900000 belong to other rule sets (CRS uses 9xxxxx); pick an id in 20000-29999");
        }
        match rule_text_id(&r.rule) {
            Some(n) if n == u64::from(r.id.value) => {}
            Some(n) => {
                cx.error("waf-rule-id-mismatch", r.rule.span, format!("waf.custom_rules[{i}].rule"), format!("the rule text says `id:{n}` but `id` is {}", r.id.value))
                    .label("different id")
                    .hint("make the `id:` action in the rule text equal the `id` field");
            }
            None => {
                cx.error("waf-rule-id-mismatch", r.rule.span, format!("waf.custom_rules[{i}].rule"), "the rule text has no `id:` action")
                    .label("no id")
                    .hint(format!("add `id:{}` to the rule's actions, e.g. \"id:{},phase:1,deny,status:403\"", r.id.value, r.id.value));
            }
        }
    }
}

fn audit(cx: &mut Cx) {
    let Some(a) = &cx.policy.audit else { return };
    let s = &a.sink;
    let (need, have) = match s.kind.value {
        SinkKind::Loki | SinkKind::Elasticsearch => ("url", s.url.is_some()),
        SinkKind::File => ("path", s.path.is_some()),
    };
    if !have {
        let kind = serde_json::to_value(s.kind.value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let example = match s.kind.value {
            SinkKind::Loki => "url: http://loki:3100/loki/api/v1/push",
            SinkKind::Elasticsearch => "url: https://elasticsearch:9200/_bulk",
            SinkKind::File => "path: /var/log/secctl/audit.jsonl",
        };
        cx.error("audit-sink-incomplete", s.kind.span, format!("audit.sink.{need}"), format!("a `{kind}` audit sink needs `{need}`"))
            .label(format!("no {need}"))
            .hint(format!("add `{example}` to `audit.sink`"));
    }
    if let Some(u) = &s.url {
        if u.value.starts_with("http://") && cx.is_production() {
            cx.error("audit-sink-insecure", u.span, "audit.sink.url", format!("the audit sink `{}` is plain http in production", u.value))
                .label("not https")
                .hint("use an https URL (VictoriaLogs: `-tls -tlsCertFile=... -tlsKeyFile=...`): audit events carry who did what, and the sink's credentials travel with every batch");
        }
    }
    if let Some(r) = &a.retention_days {
        if !(1..=36500).contains(&r.value) {
            cx.error("out-of-range", r.span, "audit.retention_days", format!("retention of {} days is outside 1-36500", r.value))
                .label("out of range")
                .hint("keep audit events at least as long as your compliance regime requires, e.g. `retention_days: 365`");
        }
    }
    let p = cx.policy;
    if matches!(s.kind.value, SinkKind::Loki | SinkKind::Elasticsearch) {
        // Only the audit worker may hold a Redis pattern matching the audit streams: a producer gets
        // XADD on its own stream by a selector; any wider pattern could read or wipe the trail.
        let worker = p.audit_worker();
        for (name, u) in p.redis.iter().flat_map(|r| r.users.iter()) {
            if Some(name) == worker.as_ref() {
                continue;
            }
            for k in u.keys.iter().chain(&u.read_keys) {
                if crate::policy::types::glob::overlaps(&k.value, "audit:*") {
                    cx.error("redis-audit-overlap", k.span, format!("redis.users.{name}"), format!("`{name}` can touch the audit streams through its key pattern `{}`", k.value))
                        .hint(format!("narrow `redis.users.{name}` patterns so they cannot match `audit:*`: producers get `XADD` on their own stream automatically"));
                }
            }
        }
        for (i, q) in p.redis.iter().flat_map(|r| r.error_queues.iter()).enumerate() {
            if crate::policy::types::glob::overlaps(&q.key.value, "audit:*") {
                cx.error("redis-audit-overlap", q.key.span, format!("redis.error_queues[{i}].key"), format!("error queue `{}` overlaps the audit streams: its producers could write (and trim) them", q.key.value))
                    .hint("give error queues their own prefix, e.g. `errors:*`");
            }
        }
        match &a.worker {
            Some(w) => {
                if p.service(&w.value).map(|x| x.kind.value) != Some(ServiceKind::Worker) {
                    cx.error("audit-worker-invalid", w.span, "audit.worker", format!("`{}` is not a service of kind `worker`", w.value))
                        .label("not a worker")
                        .hint("name the `worker` service that runs the audit task");
                }
            }
            None if p.audit_worker().is_none() => {
                cx.error("audit-worker-invalid", s.kind.span, "audit.worker", "no single `worker` service can ship audit events")
                    .label("who ships?")
                    .hint("add `worker: <name>` to `audit`, naming the one service of kind `worker` that runs the audit task");
            }
            None => {}
        }
    }
}

