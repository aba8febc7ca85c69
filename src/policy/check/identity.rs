//! Identity: secrets never inline, admin credentials complete, no test users or
//! password grants in production, redirect URIs safe.

use crate::policy::model::{AdminGrant, SecretRef};
use crate::policy::span::Span;

use super::{Cx, Finish};

pub(super) fn check(cx: &mut Cx) {
    secrets(cx);
    admin(cx);
    production_rules(cx);
    redirect_uris(cx);
    urls(cx);
}

/// Every secret reference in the policy with its YAML path.
pub(super) fn secret_refs<'a>(cx: &Cx<'a>) -> Vec<(String, &'a SecretRef)> {
    let mut v = Vec::new();
    let p = cx.policy;
    if let Some(id) = &p.identity {
        for (k, s) in [("username", &id.admin.username), ("password", &id.admin.password), ("client_secret", &id.admin.client_secret)] {
            if let Some(s) = s {
                v.push((format!("identity.admin.{k}"), s));
            }
        }
        for (i, c) in id.clients.iter().enumerate() {
            if let Some(s) = &c.secret {
                v.push((format!("identity.clients[{i}].secret"), s));
            }
        }
        for (i, u) in id.fixtures.iter().flat_map(|f| f.users.iter()).enumerate() {
            v.push((format!("identity.fixtures.users[{i}].password"), &u.password));
        }
    }
    if let Some(s) = p.ca.as_ref().and_then(|c| c.root_passphrase.as_ref()) {
        v.push(("ca.root_passphrase".into(), s));
    }
    for (k, s) in p.audit.iter().flat_map(|a| [("username", &a.sink.username), ("password", &a.sink.password)]) {
        if let Some(s) = s {
            v.push((format!("audit.sink.{k}"), s));
        }
    }
    v
}

fn secrets(cx: &mut Cx) {
    let refs: Vec<(String, SecretRef)> = secret_refs(cx).into_iter().map(|(p, s)| (p, s.clone())).collect();
    for (path, s) in refs {
        if let Some(v) = &s.value {
            cx.error("inline-secret", v.span, format!("{path}.value"), "a secret is written into the policy")
                .label("inline secret")
                .hint("policies are committed and shared: reference it with `env: VAR_NAME` or `file: path/to/secret` instead, and rotate this value");
            continue;
        }
        let anchor = s.env.as_ref().or(s.file.as_ref()).map(|x| x.span).unwrap_or_else(|| cx.span_at(&path));
        match (&s.env, &s.file) {
            (Some(_), Some(_)) => {
                cx.error("secret-ref-invalid", anchor, path, "a secret reference has both `env` and `file`").label("ambiguous").hint("keep exactly one of `env` and `file`");
            }
            (None, None) => {
                cx.error("secret-ref-invalid", anchor, path, "a secret reference has neither `env` nor `file`").label("empty").hint("add `env: VAR_NAME` or `file: path/to/secret`");
            }
            _ => {}
        }
    }
}

fn admin(cx: &mut Cx) {
    let Some(id) = &cx.policy.identity else { return };
    let a = &id.admin;
    let missing: Vec<&str> = match a.grant.value {
        AdminGrant::Password => [("username", a.username.is_none()), ("password", a.password.is_none())].into_iter().filter(|(_, m)| *m).map(|(k, _)| k).collect(),
        AdminGrant::ClientCredentials => if a.client_secret.is_none() { vec!["client_secret"] } else { vec![] },
    };
    for k in missing {
        cx.error("secret-ref-invalid", a.grant.span, format!("identity.admin.{k}"), format!("this admin grant needs `identity.admin.{k}`"))
            .label("credentials incomplete")
            .hint(format!("add `{k}: {{ env: VAR_NAME }}` (or `file:`) under `identity.admin`"));
    }
}

fn production_rules(cx: &mut Cx) {
    if !cx.is_production() {
        return;
    }
    let Some(id) = &cx.policy.identity else { return };
    if let Some(f) = &id.fixtures {
        let span = f.users.first().map(|u| u.username.span).filter(Span::is_known).unwrap_or_else(|| cx.key_span(&["identity", "fixtures"]));
        cx.error("fixtures-in-production", span, "identity.fixtures", "test users (`identity.fixtures`) are not allowed in a production policy")
            .label("test fixtures")
            .hint("remove `identity.fixtures`, or keep them in a dev copy of the policy (see policies/local-stack.yaml)");
    }
    for (i, c) in id.clients.iter().enumerate() {
        if c.direct_access_grants.value {
            cx.error("direct-grants-in-production", c.direct_access_grants.span, format!("identity.clients[{i}].direct_access_grants"), format!("client `{}` allows the password grant in production", c.client_id.value))
                .label("password grant")
                .hint("remove `direct_access_grants: true`; use the authorization code flow with PKCE (SPA) or client credentials (services)");
        }
    }
}

fn redirect_uris(cx: &mut Cx) {
    let Some(id) = &cx.policy.identity else { return };
    let prod = cx.is_production();
    for (i, c) in id.clients.iter().enumerate() {
        // Web origins feed Keycloak's CORS answers for the token endpoint: same rules as redirects.
        let lists = [
            ("redirect_uris", "redirect URI", &c.redirect_uris, "list each exact callback URL; wildcards let an attacker-chosen path receive the authorization code", "use the https URL of the callback; authorization codes must not travel in clear text"),
            ("web_origins", "web origin", &c.web_origins, "list each exact origin; a wildcard lets any matching site call the token endpoint from a browser", "use the https origin of the web app"),
        ];
        for (field, noun, list, wildcard_hint, https_hint) in lists {
            for (j, u) in list.iter().enumerate() {
                let path = format!("identity.clients[{i}].{field}[{j}]");
                if u.value.contains('*') {
                    cx.error("redirect-uri-insecure", u.span, path, format!("{noun} `{}` contains a wildcard", u.value)).label("wildcard").hint(wildcard_hint);
                } else if prod && !u.value.starts_with("https://") {
                    cx.error("redirect-uri-insecure", u.span, path, format!("{noun} `{}` is not https in production", u.value)).label("not https").hint(https_hint);
                }
            }
        }
    }
}

/// URLs must parse as http(s) and never carry credentials.
fn urls(cx: &mut Cx) {
    let p = cx.policy;
    let mut urls = Vec::new();
    if let Some(id) = &p.identity {
        urls.push(("identity.url".to_string(), id.url.clone()));
        if let Some(u) = &id.public_url {
            urls.push(("identity.public_url".into(), u.clone()));
        }
    }
    if let Some(u) = p.audit.as_ref().and_then(|a| a.sink.url.as_ref()) {
        urls.push(("audit.sink.url".into(), u.clone()));
    }
    for (path, u) in urls {
        let Some(rest) = u.value.strip_prefix("https://").or_else(|| u.value.strip_prefix("http://")) else {
            cx.error("invalid-address", u.span, path, format!("`{}` is not an http(s) URL", u.value)).label("not a URL").hint("write the full URL with its scheme, e.g. `https://host:port/path`");
            continue;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if userinfo.contains(':') {
                cx.error("inline-secret", u.span, path, "a URL carries a password")
                    .label("credentials in URL")
                    .hint("remove `user:password@` from the URL and reference the secret with `env:` or `file:`");
            }
        } else if authority.is_empty() {
            cx.error("invalid-address", u.span, path, format!("`{}` has no host", u.value)).label("no host").hint("write the full URL with its scheme, e.g. `https://host:port/path`");
        } else if path.starts_with("identity.")
            && let Err(why) = crate::policy::types::HttpUrl::parse(&u.value)
        {
            // Keycloak base URLs are called by secctl and rendered into the backend module.
            cx.error("invalid-address", u.span, path, why).label("not a base URL").hint("write `https://host[:port][/path]`, e.g. `https://keycloak.svc.internal:8443`");
        }
    }
}
