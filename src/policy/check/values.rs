//! Every value that reaches an output must parse as its type in [`crate::policy::types`]:
//! names, paths, origins, headers, sizes, methods, media types, WAF arguments and rules,
//! environment variable names. Plus the rules that used to live in the renderers and the CA
//! settings (an internal route needs the internal listener, a route upstream must be
//! dialable, the backend needs an audience, CA validities must fit X.509 time), so that
//! `check` is the only judge.

use crate::policy::model::{ClientKind, Listener, SecretRef};
use crate::policy::span::Spanned;
use crate::policy::types::{self, AbsPath, EnvName, HeaderName, HeaderValue, HttpMethod, KeycloakName, LocalPath, MediaType, ProjectName, RoutePath, ServiceName, Size, TenantId, WafArg, WafRule};

use super::{Cx, Finish};

pub(super) fn check(cx: &mut Cx) {
    names(cx);
    paths(cx);
    secret_refs(cx);
    edge(cx);
    routes(cx);
    waf(cx);
    identity(cx);
    ca(cx);
}

/// Reports `r` as `code` at the value's span when it is an error.
fn judge<T>(cx: &mut Cx, v: &Spanned<String>, path: impl Into<String>, code: &str, r: Result<T, String>, hint: &str) -> Option<T> {
    match r {
        Ok(t) => Some(t),
        Err(why) => {
            cx.error(code, v.span, path, why).label("not allowed here").hint(hint);
            None
        }
    }
}

fn names(cx: &mut Cx) {
    let p = cx.policy;
    judge(cx, &p.project.name, "project.name", "name-invalid", ProjectName::parse(&p.project.name), "use lowercase letters, digits and `-`, starting with a letter, e.g. `shop`");
    for name in p.services.keys() {
        if let Err(why) = ServiceName::parse(name) {
            let span = cx.key_span(&["services", name]);
            cx.error("name-invalid", span, format!("services.{}", types::show(name)), why)
                .label("not a service name")
                .hint("a service name becomes a Compose service, a certificate CN, a Redis user and a file name: use lowercase letters, digits, `-` and `_`, starting with a letter");
        }
    }
    let Some(id) = &p.identity else { return };
    let kc_hint = "Keycloak names land in admin-API URLs: use letters, digits and `._:@-`, starting with a letter or digit";
    judge(cx, &id.realm, "identity.realm", "name-invalid", KeycloakName::parse(&id.realm, "realm"), kc_hint);
    for (i, r) in id.roles.iter().enumerate() {
        judge(cx, &r.name, format!("identity.roles[{i}].name"), "name-invalid", KeycloakName::parse(&r.name, "role"), kc_hint);
    }
    for (i, c) in id.clients.iter().enumerate() {
        judge(cx, &c.client_id, format!("identity.clients[{i}].client_id"), "name-invalid", KeycloakName::parse(&c.client_id, "client id"), kc_hint);
    }
    for (i, t) in id.tenants.iter().enumerate() {
        judge(cx, &t.id, format!("identity.tenants[{i}].id"), "name-invalid", TenantId::parse(&t.id), "use lowercase letters, digits and `-`, e.g. `acme`");
        for (j, d) in t.domains.iter().enumerate() {
            judge(cx, d, format!("identity.tenants[{i}].domains[{j}]"), "invalid-address", types::DnsName::parse(d), "write an email domain such as `acme.example`");
        }
    }
    for (i, u) in id.fixtures.iter().flat_map(|f| f.users.iter()).enumerate() {
        judge(cx, &u.username, format!("identity.fixtures.users[{i}].username"), "name-invalid", KeycloakName::parse(&u.username, "username"), kc_hint);
    }
    if let Some(t) = &id.tenancy {
        for (k, v) in [("claim", &t.claim), ("attribute", &t.attribute)] {
            if let Some(v) = v {
                judge(cx, v, format!("identity.tenancy.{k}"), "name-invalid", KeycloakName::parse(v, k), kc_hint);
            }
        }
    }
    if let Some(r) = &id.admin.realm {
        judge(cx, r, "identity.admin.realm", "name-invalid", KeycloakName::parse(r, "realm"), kc_hint);
    }
    if let Some(c) = &id.admin.client_id {
        judge(cx, c, "identity.admin.client_id", "name-invalid", KeycloakName::parse(c, "client id"), kc_hint);
    }
}

fn paths(cx: &mut Cx) {
    let p = cx.policy;
    let abs_hint = "write an absolute, normalized path of letters, digits and `._-+@%=,:`, e.g. `/etc/secctl`";
    if let Some(d) = &p.deploy {
        for (k, v) in [("config_dir", &d.config_dir), ("pki_dir", &d.pki_dir), ("state_dir", &d.state_dir), ("secrets_dir", &d.secrets_dir)] {
            if let Some(v) = v {
                judge(cx, v, format!("deploy.{k}"), "path-invalid", AbsPath::parse(v, &format!("deploy.{k}")), abs_hint);
            }
        }
    }
    if let Some(a) = p.waf.as_ref().and_then(|w| w.audit_log.as_ref()) {
        judge(cx, a, "waf.audit_log", "path-invalid", AbsPath::parse(a, "waf.audit_log"), abs_hint);
    }
    let local_hint = "write a path relative to the policy's directory (e.g. `pki`), or an absolute path";
    if let Some(d) = p.ca.as_ref().and_then(|c| c.pki_dir.as_ref()) {
        judge(cx, d, "ca.pki_dir", "path-invalid", LocalPath::parse(d, "ca.pki_dir"), local_hint);
    }
    if let Some(d) = p.redis.as_ref().and_then(|r| r.secrets_dir.as_ref()) {
        judge(cx, d, "redis.secrets_dir", "path-invalid", LocalPath::parse(d, "redis.secrets_dir"), local_hint);
    }
    if let Some(b) = p.identity.as_ref().and_then(|i| i.admin.ca_bundle.as_ref()) {
        judge(cx, b, "identity.admin.ca_bundle", "path-invalid", LocalPath::parse(b, "identity.admin.ca_bundle"), local_hint);
    }
}

/// Every secret reference: `env` names a variable, `file` a local path.
fn secret_refs(cx: &mut Cx) {
    let refs: Vec<(String, SecretRef)> = super::identity::secret_refs(cx).into_iter().map(|(p, s)| (p, s.clone())).collect();
    for (path, s) in refs {
        if let Some(e) = &s.env
            && let Err(why) = EnvName::parse(e)
        {
            cx.error("env-name-invalid", e.span, format!("{path}.env"), why)
                .label("not a variable name")
                .hint("name the variable that holds the secret, e.g. `KC_ADMIN_PASSWORD`; if you pasted the secret itself here, rotate it");
        }
        if let Some(f) = &s.file {
            judge(cx, f, format!("{path}.file"), "path-invalid", LocalPath::parse(f, &format!("{path}.file")), "write a path relative to the policy's directory, or an absolute path");
        }
    }
}

fn edge(cx: &mut Cx) {
    let p = cx.policy;
    let Some(e) = &p.edge else { return };
    if let Some(m) = &e.max_body_size {
        judge(cx, m, "edge.max_body_size", "size-invalid", Size::parse(m), "write an nginx size such as `1m` or `512k`");
    }
    if let Some(h) = &e.headers {
        let fields = [
            ("content_security_policy", &h.content_security_policy),
            ("referrer_policy", &h.referrer_policy),
            ("permissions_policy", &h.permissions_policy),
            ("frame_options", &h.frame_options),
            ("cross_origin_opener_policy", &h.cross_origin_opener_policy),
            ("cross_origin_resource_policy", &h.cross_origin_resource_policy),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                judge(cx, v, format!("edge.headers.{k}"), "header-invalid", HeaderValue::parse(v), "header values are printable ASCII without `$`, on one line");
            }
        }
        for (k, v) in &h.extra {
            if let Err(why) = HeaderName::parse(k) {
                let span = cx.key_span(&["edge", "headers", "extra", k]);
                cx.error("header-invalid", span, format!("edge.headers.extra.{}", types::show(k)), why).label("not a header name").hint("header names use letters, digits and `-`, e.g. `X-Request-Id`");
            }
            judge(cx, v, format!("edge.headers.extra.{}", types::show(k)), "header-invalid", HeaderValue::parse(v), "header values are printable ASCII without `$`, on one line");
        }
    }
    let Some(c) = &e.cors else { return };
    for (i, o) in c.origins.iter().enumerate() {
        if o.value == "*" {
            if !c.credentials.value {
                cx.error("origin-invalid", o.span, format!("edge.cors.origins[{i}]"), "CORS origin `*` is not supported: the gateway answers only listed origins")
                    .label("any origin")
                    .hint("list each exact origin that may call the API (e.g. `https://app.example.com`)");
            }
            continue; // `*` with credentials is `cors-wildcard-credentials`
        }
        judge(cx, o, format!("edge.cors.origins[{i}]"), "origin-invalid", types::Origin::parse(o), "write an exact origin `https://host[:port]`, without path or trailing `/`");
    }
    for (i, m) in c.methods.iter().enumerate() {
        judge(cx, m, format!("edge.cors.methods[{i}]"), "header-invalid", HttpMethod::parse(m), "write an HTTP method in uppercase, e.g. `GET`");
    }
    for (field, list) in [("headers", &c.headers), ("expose_headers", &c.expose_headers)] {
        for (i, h) in list.iter().enumerate() {
            judge(cx, h, format!("edge.cors.{field}[{i}]"), "header-invalid", HeaderName::parse(h), "header names use letters, digits and `-`, e.g. `Content-Type`");
        }
    }
}

fn routes(cx: &mut Cx) {
    let p = cx.policy;
    let internal_listen = p.edge.as_ref().is_some_and(|e| e.internal_listen.is_some());
    let mut exclusions = 0usize;
    for (i, r) in p.routes.iter().enumerate() {
        // A path without `/` is `route-path-invalid` from edge.rs already.
        if r.path.value.starts_with('/') {
            judge(cx, &r.path, format!("routes[{i}].path"), "route-path-invalid", RoutePath::parse(&r.path), "write a literal path of letters, digits and `._+,=:@-`, e.g. `/api/`");
        }
        if r.listener() == Listener::Internal && p.edge.is_some() && !internal_listen {
            let span = r.listener.as_ref().map(|l| l.span).unwrap_or(r.path.span);
            cx.error("route-listener-missing", span, format!("routes[{i}].listener"), format!("route `{}` uses the internal listener, but `edge.internal_listen` is not set", types::show(&r.path)))
                .label("no internal listener")
                .hint("add `internal_listen: { host: 0.0.0.0, port: 9443 }` to `edge`, or remove `listener: internal`");
        }
        if p.edge.is_some()
            && let Some(svc) = p.services.get(&r.upstream.value)
        {
            match &svc.listen {
                None => {
                    cx.error("upstream-unreachable", r.upstream.span, format!("routes[{i}].upstream"), format!("route upstream `{}` has no `listen` address, so the gateway cannot reach it", r.upstream.value))
                        .label("nowhere to proxy to")
                        .hint(format!("add `listen: {{ host: 0.0.0.0, port: 8000 }}` to `services.{}`", r.upstream.value));
                }
                Some(l) if types::Host::parse(&l.host).is_ok_and(|h| h.is_wildcard()) && svc.dns_names.is_empty() => {
                    cx.error("upstream-unreachable", r.upstream.span, format!("routes[{i}].upstream"), format!("route upstream `{}` listens on `{}` and has no `dns_names` for the gateway to dial", r.upstream.value, l.host.value))
                        .label("no address to dial")
                        .hint(format!("add the name the gateway reaches it by to `services.{}.dns_names`", r.upstream.value));
                }
                Some(_) => {}
            }
        }
        for (j, ex) in r.waf_exclusions.iter().enumerate() {
            exclusions += 1;
            waf_args(cx, &ex.args, &format!("routes[{i}].waf_exclusions[{j}]"));
            if exclusions == 10_001 {
                cx.error("waf-value-invalid", r.path.span, format!("routes[{i}].waf_exclusions[{j}]"), "more than 10000 route WAF exclusions: they do not fit the reserved rule ids 10000-19999")
                    .label("too many")
                    .hint("merge exclusions: one exclusion may list several rule ids and arguments");
            }
        }
    }
    if let Some(e) = &p.edge {
        let gw = p.services.get(&e.gateway.value);
        if e.listen.is_none() && gw.is_some_and(|g| g.listen.is_none()) {
            cx.error("upstream-unreachable", e.gateway.span, "edge.listen", "the gateway has no listener: neither `edge.listen` nor the gateway service's `listen` is set")
                .label("no listener")
                .hint(format!("add `listen: {{ host: 0.0.0.0, port: 8443 }}` to `services.{}`", e.gateway.value));
        }
    }
}

fn waf_args(cx: &mut Cx, args: &[Spanned<String>], at: &str) {
    for (k, a) in args.iter().enumerate() {
        judge(cx, a, format!("{at}.args[{k}]"), "waf-value-invalid", WafArg::parse(a), "name a request argument such as `json.prompt` (letters, digits, `.`, `_`, `-`, `[]`)");
    }
}

fn waf(cx: &mut Cx) {
    let Some(w) = &cx.policy.waf else { return };
    for (i, m) in w.allowed_methods.iter().enumerate() {
        judge(cx, m, format!("waf.allowed_methods[{i}]"), "waf-value-invalid", HttpMethod::parse(m), "write an HTTP method in uppercase, e.g. `GET`");
    }
    for (i, t) in w.allowed_content_types.iter().enumerate() {
        judge(cx, t, format!("waf.allowed_content_types[{i}]"), "waf-value-invalid", MediaType::parse(t), "write a media type without parameters, e.g. `application/json`");
    }
    for (j, ex) in w.exclusions.iter().enumerate() {
        waf_args(cx, &ex.args, &format!("waf.exclusions[{j}]"));
    }
    for (i, r) in w.custom_rules.iter().enumerate() {
        judge(cx, &r.rule, format!("waf.custom_rules[{i}].rule"), "waf-rule-invalid", WafRule::parse(&r.rule), "write the whole rule on one line, starting with `SecRule` or `SecAction`");
    }
}

fn identity(cx: &mut Cx) {
    let Some(id) = &cx.policy.identity else { return };
    if !id.clients.iter().any(|c| c.kind.value == ClientKind::Backend) {
        let span = cx.key_span(&["identity", "clients"]);
        let span = if span.is_known() { span } else { id.realm.span };
        cx.error("backend-client-missing", span, "identity.clients", "`identity.clients` has no client of kind `backend`, so the backend has no token audience to require")
            .label("no backend client")
            .hint("add `- { client_id: backend-api, kind: backend, service: backend }` to `identity.clients`");
    }
}

/// The latest date X.509 `GeneralizedTime` (and the `time` crate) can carry.
const LAST_DAY: (i32, u8, u8) = (9999, 12, 31);

fn ca(cx: &mut Cx) {
    let p = cx.policy;
    let Some(ca) = &p.ca else { return };
    let td = &ca.trust_domain;
    if !(types::is_dns_name(td) && td.value == td.value.to_ascii_lowercase()) {
        cx.error("ca-setting-invalid", td.span, "ca.trust_domain", format!("`{}` is not a SPIFFE trust domain", types::show(td)))
            .label("not a trust domain")
            .hint("use a lowercase domain-like name such as `acme.internal`");
    }
    if let Some(o) = &ca.organization {
        judge(cx, o, "ca.organization", "ca-setting-invalid", types::Label::parse(o, "ca.organization"), "write the organization on one line, 1-64 characters");
    }
    let today = time::OffsetDateTime::now_utc().date();
    let last = time::Date::from_calendar_date(LAST_DAY.0, time::Month::December, LAST_DAY.2).expect("a valid date");
    let room = (last - today).whole_days();
    for (what, v) in [("root_validity_days", &ca.root_validity_days), ("intermediate_validity_days", &ca.intermediate_validity_days), ("leaf_validity_days", &ca.leaf_validity_days)] {
        let Some(v) = v else { continue };
        if v.value == 0 {
            cx.error("ca-validity-invalid", v.span, format!("ca.{what}"), "a validity of 0 days is not usable").label("zero").hint("use at least 1 day");
        } else if i64::from(v.value) > room {
            cx.error("ca-validity-invalid", v.span, format!("ca.{what}"), format!("{} days from today ends after {}-12-31, the last date a certificate can carry", v.value, LAST_DAY.0))
                .label("too long")
                .hint(format!("use at most {room} days; the defaults are 3650 (root), 1095 (intermediate) and 90 (leaf)"));
        }
    }
    if ca.intermediate_days() > ca.root_days() {
        let span = ca.intermediate_validity_days.as_ref().map(|v| v.span).unwrap_or(ca.trust_domain.span);
        cx.warning("ca-validity-invalid", span, "ca.intermediate_validity_days", "the intermediate outlives the root; it is cut to the root's expiry").label("longer than the root").hint("make it shorter than `root_validity_days`");
    }
    if ca.renew_before_days() >= ca.leaf_days() {
        let span = ca.renew_before_days.as_ref().map(|v| v.span).unwrap_or(ca.trust_domain.span);
        cx.warning("ca-validity-invalid", span, "ca.renew_before_days", "renew_before_days is not shorter than leaf_validity_days: every certificate is always due for renewal")
            .label("always due")
            .hint("renew at about a third of the leaf lifetime");
    }
    if ca.name_constraints.dns.is_empty() && ca.name_constraints.ips.is_empty() {
        let span = cx.key_span(&["ca", "name_constraints"]);
        cx.warning("name-constraints-empty", span, "ca.name_constraints", "the intermediate CA has no name constraints: it can sign for any name")
            .label("unconstrained")
            .hint("list the internal DNS domains and IP ranges under `ca.name_constraints`");
    }
    for (name, s) in &p.services {
        if s.mtls_role().is_server() && s.dns_names.is_empty() && s.ips.is_empty() {
            cx.error("service-address-missing", s.kind.span, format!("services.{}", types::show(name)), format!("service `{}` needs a server certificate but has no `dns_names` or `ips`", types::show(name)))
                .label("no name for the certificate")
                .hint("add the names clients use to reach it, or set `mtls: client` or `mtls: none`");
        }
    }
}
