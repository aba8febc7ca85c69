//! Names that must exist (services, roles, tenants) and names that must be unique.

use std::collections::HashMap;

use crate::policy::model::ServiceKind;
use crate::policy::span::{Span, Spanned};

use super::{suggest, Cx, Finish};

pub(super) fn check(cx: &mut Cx) {
    services(cx);
    roles(cx);
    tenants(cx);
    unique_names(cx);
}

/// Reports `name` at `span` when it is not a service.
fn service_ref(cx: &mut Cx, name: &Spanned<String>, path: String, role: &str) -> bool {
    if cx.has_service(name) {
        return true;
    }
    let hint = suggest(name, cx.policy.services.keys().map(String::as_str), "`services`");
    cx.error("unknown-service", name.span, path, format!("{role} `{}` is not a service in `services`", name.value)).label("unknown service").hint(hint);
    false
}

fn services(cx: &mut Cx) {
    let p = cx.policy;
    for (i, f) in p.flows.iter().enumerate() {
        service_ref(cx, &f.from, format!("flows[{i}].from"), "flow source");
        service_ref(cx, &f.to, format!("flows[{i}].to"), "flow target");
        if let Some(via) = &f.via
            && service_ref(cx, via, format!("flows[{i}].via"), "flow `via`")
            && Some(via.value.as_str()) != cx.gateway()
        {
            let gw = cx.gateway().map(|g| format!("`{g}`")).unwrap_or_else(|| "the gateway named in `edge.gateway`".into());
            cx.error("flow-via-not-gateway", via.span, format!("flows[{i}].via"), format!("flows can only go via the edge gateway, not `{}`", via.value))
                .label("not the gateway")
                .hint(format!("set `via` to {gw}, or remove it for a direct connection"));
        }
    }
    for (i, r) in p.routes.iter().enumerate() {
        service_ref(cx, &r.upstream, format!("routes[{i}].upstream"), "route upstream");
    }
    if let Some(edge) = &p.edge
        && service_ref(cx, &edge.gateway, "edge.gateway".into(), "edge gateway")
    {
        let kind = p.services[&edge.gateway.value].kind.value;
        if kind != ServiceKind::Gateway {
            let span = cx.key_span(&["services", &edge.gateway.value, "kind"]);
            let span = if span.is_known() { span } else { edge.gateway.span };
            let kind_name = serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            cx.error("edge-gateway-kind", edge.gateway.span, "edge.gateway", format!("`{}` has kind `{kind_name}`, but the edge gateway must be a `gateway` service", edge.gateway.value))
                .label("not a gateway")
                .hint(format!("point `edge.gateway` at the nginx gateway service, or set its `kind: gateway` (line {})", span.line));
        }
    }
    if let Some(id) = &p.identity {
        service_ref(cx, &id.service, "identity.service".into(), "identity service");
        for (i, c) in id.clients.iter().enumerate() {
            if let Some(s) = &c.service {
                service_ref(cx, s, format!("identity.clients[{i}].service"), "client service");
            }
        }
    }
    if let Some(r) = &p.redis {
        service_ref(cx, &r.service, "redis.service".into(), "Redis service");
        for name in r.users.keys() {
            let spanned = Spanned::new(name.clone(), cx.key_span(&["redis", "users", name]));
            service_ref(cx, &spanned, format!("redis.users.{name}"), "Redis user");
        }
        for (i, q) in r.error_queues.iter().enumerate() {
            for (j, s) in q.producers.iter().enumerate() {
                service_ref(cx, s, format!("redis.error_queues[{i}].producers[{j}]"), "error-queue producer");
            }
            for (j, s) in q.consumers.iter().enumerate() {
                service_ref(cx, s, format!("redis.error_queues[{i}].consumers[{j}]"), "error-queue consumer");
            }
        }
    }
}

fn role_ref(cx: &mut Cx, role: &Spanned<String>, path: String) {
    let roles: Vec<&str> = cx.policy.identity.iter().flat_map(|i| i.roles.iter().map(|r| r.name.value.as_str())).collect();
    if roles.contains(&role.value.as_str()) {
        return;
    }
    let hint = if cx.policy.identity.is_none() {
        "roles are defined in `identity.roles`; add an `identity` section".to_string()
    } else {
        suggest(role, roles.iter().copied(), "`identity.roles`")
    };
    cx.error("unknown-role", role.span, path, format!("role `{}` is not defined in `identity.roles`", role.value)).label("unknown role").hint(hint);
}

fn roles(cx: &mut Cx) {
    let p = cx.policy;
    for (i, r) in p.routes.iter().enumerate() {
        for (j, role) in r.roles.iter().enumerate() {
            role_ref(cx, role, format!("routes[{i}].roles[{j}]"));
        }
    }
    let Some(id) = &p.identity else { return };
    for (i, r) in id.roles.iter().enumerate() {
        for (j, c) in r.composites.iter().enumerate() {
            role_ref(cx, c, format!("identity.roles[{i}].composites[{j}]"));
        }
    }
    for (i, c) in id.clients.iter().enumerate() {
        for (j, role) in c.roles.iter().enumerate() {
            role_ref(cx, role, format!("identity.clients[{i}].roles[{j}]"));
        }
    }
    for (i, u) in id.fixtures.iter().flat_map(|f| f.users.iter()).enumerate() {
        for (j, role) in u.roles.iter().enumerate() {
            role_ref(cx, role, format!("identity.fixtures.users[{i}].roles[{j}]"));
        }
    }
}

fn tenants(cx: &mut Cx) {
    let Some(id) = &cx.policy.identity else { return };
    let ids: Vec<&str> = id.tenants.iter().map(|t| t.id.value.as_str()).collect();
    for (i, u) in id.fixtures.iter().flat_map(|f| f.users.iter()).enumerate() {
        if let Some(t) = &u.tenant
            && !ids.contains(&t.value.as_str())
        {
            let hint = suggest(t, ids.iter().copied(), "`identity.tenants`");
            cx.error("unknown-tenant", t.span, format!("identity.fixtures.users[{i}].tenant"), format!("tenant `{}` is not defined in `identity.tenants`", t.value))
                .label("unknown tenant")
                .hint(hint);
        }
    }
}

/// Reports every repeat of a name in a list.
fn unique<'a>(cx: &mut Cx, items: impl Iterator<Item = (String, &'a Spanned<String>)>, what: &str) {
    let mut seen: HashMap<String, Span> = HashMap::new();
    for (path, name) in items {
        match seen.get(&name.value) {
            Some(first) => {
                let first_line = first.line;
                cx.error("duplicate-name", name.span, path, format!("{what} `{}` is defined twice", name.value))
                    .label("second definition")
                    .hint(format!("the first is at line {first_line}; remove or rename one"));
            }
            None => {
                seen.insert(name.value.clone(), name.span);
            }
        }
    }
}

fn unique_names(cx: &mut Cx) {
    let p = cx.policy;
    // Two routes may share a path only on different listeners.
    let public: Vec<_> = p.routes.iter().enumerate().filter(|(_, r)| r.listener.as_ref().is_none_or(|l| l.value == crate::policy::model::Listener::Public)).collect();
    let internal: Vec<_> = p.routes.iter().enumerate().filter(|(_, r)| r.listener.as_ref().is_some_and(|l| l.value == crate::policy::model::Listener::Internal)).collect();
    unique(cx, public.into_iter().map(|(i, r)| (format!("routes[{i}].path"), &r.path)), "route path");
    unique(cx, internal.into_iter().map(|(i, r)| (format!("routes[{i}].path"), &r.path)), "internal route path");
    let Some(id) = &p.identity else { return };
    unique(cx, id.roles.iter().enumerate().map(|(i, r)| (format!("identity.roles[{i}].name"), &r.name)), "role");
    unique(cx, id.tenants.iter().enumerate().map(|(i, t)| (format!("identity.tenants[{i}].id"), &t.id)), "tenant");
    unique(cx, id.clients.iter().enumerate().map(|(i, c)| (format!("identity.clients[{i}].client_id"), &c.client_id)), "client");
    unique(cx, id.fixtures.iter().flat_map(|f| f.users.iter()).enumerate().map(|(i, u)| (format!("identity.fixtures.users[{i}].username"), &u.username)), "fixture user");
}
