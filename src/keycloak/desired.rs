//! The desired Keycloak state, derived from `identity` in the policy.
//!
//! Each object is described by the fields secctl manages (a JSON subset of Keycloak's
//! representation); everything else on the server is left alone. Validation that needs
//! Keycloak knowledge (https redirects in production, fixtures refused in production, role
//! references) lives here and yields positioned diagnostics.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::secret;
use crate::policy::model::{ClientKind, Events, Identity, PasswordPolicy, TenancyModel, Tokens, BruteForce};

/// Attribute that marks objects secctl created (clients, roles, organizations, the realm).
pub const MARKER: &str = "secctl.managed";
/// Name prefix of the protocol mappers secctl owns.
pub const MAPPER_PREFIX: &str = "secctl-";

/// A realm role.
#[derive(Clone, Debug)]
pub struct DesiredRole {
    /// Name.
    pub name: String,
    /// Declared fields.
    pub body: Value,
    /// Realm roles it includes.
    pub composites: Vec<String>,
}

/// An OIDC client with its mappers, scope attachments and role grants.
#[derive(Clone, Debug)]
pub struct DesiredClient {
    /// `clientId`.
    pub client_id: String,
    /// Declared fields (may include `secret`, masked in plans).
    pub body: Value,
    /// Protocol mappers secctl owns on this client (names start with [`MAPPER_PREFIX`]).
    pub mappers: Vec<Value>,
    /// Client scopes that must be among the client's default scopes.
    pub default_scopes: Vec<String>,
    /// Realm roles in the client's scope (only when `fullScopeAllowed` is off).
    pub scope_roles: Option<Vec<String>>,
    /// Realm roles of the service-account user.
    pub service_account_roles: Option<Vec<String>>,
}

/// An organization (one per tenant, Organizations model).
#[derive(Clone, Debug)]
pub struct DesiredOrg {
    /// Alias (= tenant id; immutable in Keycloak).
    pub alias: String,
    /// Declared fields.
    pub body: Value,
    /// Fixture usernames that must be members.
    pub members: Vec<String>,
}

/// A fixture (test) user.
pub struct DesiredUser {
    /// Username.
    pub username: String,
    /// Declared fields (never the password).
    pub body: Value,
    /// Password, sent only when the user is created.
    pub password: Zeroizing<String>,
    /// Realm roles.
    pub roles: Vec<String>,
}

/// Everything secctl converges in one realm.
pub struct Desired {
    /// Realm name.
    pub realm: String,
    /// Declared realm fields.
    pub realm_fields: Value,
    /// The tenant attribute's user-profile declaration (attribute model).
    pub profile_attribute: Option<Value>,
    /// Realm roles.
    pub roles: Vec<DesiredRole>,
    /// Clients.
    pub clients: Vec<DesiredClient>,
    /// Organizations.
    pub orgs: Vec<DesiredOrg>,
    /// Fixture users.
    pub users: Vec<DesiredUser>,
    /// Whether the Organizations model is used.
    pub organizations: bool,
}

impl Desired {
    /// Names of the roles the policy declares: role grants secctl may add or remove stay inside this set.
    pub fn role_names(&self) -> BTreeSet<String> {
        self.roles.iter().map(|r| r.name.clone()).collect()
    }
    /// Fixture usernames.
    pub fn usernames(&self) -> BTreeSet<String> {
        self.users.iter().map(|u| u.username.clone()).collect()
    }
}

/// Keycloak's password-policy string.
pub fn password_policy(p: &PasswordPolicy) -> String {
    let mut parts = vec![format!("length({})", p.min_len())];
    if p.digits.value {
        parts.push("digits(1)".into());
    }
    if p.mixed_case.value {
        parts.push("upperCase(1) and lowerCase(1)".into());
    }
    if p.special.value {
        parts.push("specialChars(1)".into());
    }
    if p.rejects_username() {
        parts.push("notUsername".into());
    }
    if let Some(h) = &p.history {
        parts.push(format!("passwordHistory({})", h.value));
    }
    parts.join(" and ")
}

/// Builds the desired state from a policy `check` accepted; reads the client secrets and
/// fixture passwords the policy names.
pub fn build(valid: &crate::policy::ValidPolicy) -> Result<Desired> {
    let (policy, base_dir) = (valid.policy(), valid.base_dir());
    let id = policy.identity.as_ref().context("the policy has no `identity` section; nothing to provision in Keycloak")?;
    let env = policy.project.environment.value;
    let organizations = id.tenancy_model() == TenancyModel::Organizations;
    let claim = id.tenant_claim();
    let backend = id.clients.iter().find(|c| c.kind.value == ClientKind::Backend).map(|c| c.client_id.value.clone());

    let mut clients = Vec::new();
    for c in &id.clients {
        clients.push(client(c, base_dir, organizations, claim, id.tenant_attribute(), backend.as_deref())?);
    }
    let roles = id
        .roles
        .iter()
        .map(|r| DesiredRole {
            name: r.name.value.clone(),
            body: json!({"name": r.name.value, "description": r.description.clone().unwrap_or_default(), "attributes": {MARKER: ["true"]}}),
            composites: r.composites.iter().map(|c| c.value.clone()).collect(),
        })
        .collect();
    let fixtures: Vec<_> = id.fixtures.as_ref().map(|f| f.users.iter().collect()).unwrap_or_default();
    let orgs = if organizations {
        id.tenants
            .iter()
            .map(|t| DesiredOrg {
                alias: t.id.value.clone(),
                body: json!({
                    "name": t.name.clone().unwrap_or_else(|| t.id.value.clone()),
                    "alias": t.id.value,
                    "enabled": true,
                    "domains": t.domains.iter().map(|d| json!({"name": d.value, "verified": false})).collect::<Vec<_>>(),
                    "attributes": {MARKER: ["true"], claim_attr(): [t.id.value]},
                }),
                members: fixtures.iter().filter(|u| u.tenant.as_ref().is_some_and(|x| x.value == t.id.value)).map(|u| u.username.value.clone()).collect(),
            })
            .collect()
    } else {
        vec![]
    };
    let mut users = Vec::new();
    for (i, u) in fixtures.iter().enumerate() {
        let name = &u.username.value;
        let mut body = json!({
            "username": name, "enabled": true, "emailVerified": true,
            "email": u.email.as_ref().map(|e| e.value.clone()).unwrap_or_else(|| format!("{name}@fixtures.invalid")),
            "firstName": capitalise(name), "lastName": "Fixture", "requiredActions": [],
        });
        if !organizations && let Some(t) = &u.tenant {
            body["attributes"] = json!({id.tenant_attribute(): [t.value]});
        }
        users.push(DesiredUser {
            username: name.clone(),
            body,
            password: secret::resolve(&u.password, base_dir, &format!("identity.fixtures.users[{i}].password"))?,
            roles: u.roles.iter().map(|r| r.value.clone()).collect(),
        });
    }
    Ok(Desired {
        realm: id.realm.value.clone(),
        realm_fields: realm_fields(id, env, organizations),
        profile_attribute: (!organizations).then(|| {
            json!({"name": id.tenant_attribute(), "displayName": "Tenant", "multivalued": false,
                   "permissions": {"view": ["admin"], "edit": ["admin"]}})
        }),
        roles,
        clients,
        orgs,
        users,
        organizations,
    })
}

/// Organization attribute carrying the tenant id (so `addOrganizationAttributes` can expose it).
fn claim_attr() -> &'static str {
    "tenant_id"
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

fn realm_fields(id: &Identity, env: crate::policy::model::Environment, organizations: bool) -> Value {
    let (bf_on, failures, wait, max_wait) = BruteForce::settings(id.brute_force.as_ref());
    let (login, admin, details, expiration) = Events::settings(id.events.as_ref());
    let mut v = json!({
        "realm": id.realm.value,
        "enabled": true,
        "sslRequired": id.ssl_required(env),
        "accessTokenLifespan": Tokens::access(id.tokens.as_ref()),
        "ssoSessionIdleTimeout": Tokens::idle(id.tokens.as_ref()),
        "ssoSessionMaxLifespan": Tokens::max(id.tokens.as_ref()),
        "bruteForceProtected": bf_on,
        "permanentLockout": false,
        "failureFactor": failures,
        "waitIncrementSeconds": wait,
        "maxFailureWaitSeconds": max_wait,
        "eventsEnabled": login,
        "eventsExpiration": expiration,
        "enabledEventTypes": Events::types(id.events.as_ref()),
        "adminEventsEnabled": admin,
        "adminEventsDetailsEnabled": details,
        "attributes": {MARKER: "true"},
    });
    if let Some(d) = &id.display_name {
        v["displayName"] = json!(d);
    }
    if let Some(u) = &id.public_url {
        // Tokens then carry `iss` = <public_url>/realms/<realm>, whatever host secctl used.
        v["attributes"]["frontendUrl"] = json!(u.value.trim_end_matches('/'));
    }
    if let Some(p) = &id.password_policy {
        v["passwordPolicy"] = json!(password_policy(p));
    }
    if organizations {
        v["organizationsEnabled"] = json!(true);
    }
    v
}

fn client(c: &crate::policy::model::Client, base_dir: &Path, organizations: bool, claim: &str, attribute: &str, backend: Option<&str>) -> Result<DesiredClient> {
    let kind = c.kind.value;
    let mut body = json!({
        "clientId": c.client_id.value, "protocol": "openid-connect", "enabled": true,
        "implicitFlowEnabled": false, "directAccessGrantsEnabled": c.direct_access_grants.value,
        "attributes": {MARKER: "true"},
    });
    if let Some(n) = &c.name {
        body["name"] = json!(n);
    }
    let set = |body: &mut Value, pairs: Value| crate::keycloak::json::merge(body, &pairs);
    match kind {
        ClientKind::Spa => set(&mut body, json!({
            "publicClient": true, "standardFlowEnabled": true, "serviceAccountsEnabled": false,
            "redirectUris": c.redirect_uris.iter().map(|u| &u.value).collect::<Vec<_>>(),
            "webOrigins": c.web_origins.iter().map(|u| &u.value).collect::<Vec<_>>(),
            "attributes": {"pkce.code.challenge.method": "S256", "post.logout.redirect.uris": c.redirect_uris.iter().map(|u| u.value.as_str()).collect::<Vec<_>>().join("##")},
        })),
        ClientKind::Backend => set(&mut body, json!({
            "publicClient": false, "bearerOnly": false, "standardFlowEnabled": false, "serviceAccountsEnabled": false,
            "clientAuthenticatorType": "client-secret",
        })),
        ClientKind::ServiceAccount => set(&mut body, json!({
            "publicClient": false, "bearerOnly": false, "standardFlowEnabled": false, "serviceAccountsEnabled": true,
            "clientAuthenticatorType": "client-secret", "fullScopeAllowed": false,
        })),
    }
    if kind != ClientKind::Spa && let Some(s) = &c.secret {
        body["secret"] = json!(secret::resolve(s, base_dir, &format!("identity.clients `{}` secret", c.client_id.value))?.as_str());
    }
    let mut mappers = Vec::new();
    if let Some(b) = backend.filter(|b| *b != c.client_id.value) {
        mappers.push(json!({
            "name": format!("{MAPPER_PREFIX}audience-{b}"), "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
            "config": {"included.client.audience": b, "access.token.claim": "true", "id.token.claim": "false",
                       "introspection.token.claim": "true", "lightweight.claim": "false"},
        }));
    }
    let user_facing = kind == ClientKind::Spa || c.direct_access_grants.value;
    if user_facing && !organizations {
        mappers.push(json!({
            "name": format!("{MAPPER_PREFIX}tenant"), "protocol": "openid-connect", "protocolMapper": "oidc-usermodel-attribute-mapper",
            "config": {"user.attribute": attribute, "claim.name": claim, "jsonType.label": "String", "multivalued": "false",
                       "aggregate.attrs": "false", "access.token.claim": "true", "id.token.claim": "true",
                       "userinfo.token.claim": "true", "introspection.token.claim": "true", "lightweight.claim": "false"},
        }));
    }
    if user_facing && organizations && claim != "organization" {
        // The built-in `organization` scope emits `organization`; a differently named claim needs its own mapper.
        mappers.push(json!({
            "name": format!("{MAPPER_PREFIX}tenant"), "protocol": "openid-connect", "protocolMapper": "oidc-organization-membership-mapper",
            "config": {"claim.name": claim, "jsonType.label": "JSON", "multivalued": "true", "addOrganizationId": "false",
                       "addOrganizationAttributes": "false", "access.token.claim": "true", "id.token.claim": "true",
                       "introspection.token.claim": "true", "lightweight.claim": "false"},
        }));
    }
    // `basic` carries `sub` since Keycloak 25; `organization` makes the org claim appear.
    let mut default_scopes = vec!["basic".to_string(), "roles".to_string()];
    if user_facing && organizations {
        default_scopes.push("organization".into());
    }
    let sa_roles = (kind == ClientKind::ServiceAccount).then(|| c.roles.iter().map(|r| r.value.clone()).collect::<Vec<_>>());
    Ok(DesiredClient { client_id: c.client_id.value.clone(), body, mappers, default_scopes, scope_roles: sa_roles.clone(), service_account_roles: sa_roles })
}
