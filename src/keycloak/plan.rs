//! The typed diff between desired and actual state: what `apply` would do, field by field.
//!
//! The planner is pure (desired + snapshot → plan), so it is unit-tested against the
//! in-memory [`super::fake`]. Changes are ordered so that `apply` can run them front to back:
//! the realm, then roles, clients and their relations, organizations, users, and deletions last.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde_json::{json, Value};

use super::desired::{Desired, MAPPER_PREFIX, MARKER};
use super::json::{diff, FieldChange};
use super::read::Actual;

/// What happens to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Created.
    Create,
    /// Changed in place (fields listed).
    Update,
    /// Deleted (only secctl-managed objects, only with `--prune`).
    Delete,
}

/// Resource kinds, in apply order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The realm (settings, events, brute force, password policy, token lifespans).
    Realm,
    /// The tenant attribute in the user profile.
    UserProfile,
    /// A realm role.
    Role,
    /// A role's composites.
    RoleComposites,
    /// An OIDC client.
    Client,
    /// A protocol mapper on a client.
    Mapper,
    /// Default client scopes of a client.
    ClientScopes,
    /// Realm roles in a client's scope.
    ScopeMappings,
    /// Realm roles of a client's service account.
    ServiceAccountRoles,
    /// An organization (tenant).
    Organization,
    /// A fixture user.
    User,
    /// A fixture user's realm roles.
    UserRoles,
    /// Organization membership of fixture users.
    OrganizationMembers,
}

/// What apply executes for one change (not serialized: bodies may hold secrets).
#[derive(Clone, Debug)]
pub enum Op {
    /// POST the realm.
    CreateRealm(Value),
    /// Merge the declared fields into the realm.
    UpdateRealm(Value),
    /// Upsert an attribute in the user profile.
    ProfileAttribute(Value),
    /// POST a role.
    CreateRole(Value),
    /// Merge into a role.
    UpdateRole(String, Value),
    /// Delete a role.
    DeleteRole(String),
    /// Add/remove composites of a role.
    Composites(String, Vec<String>, Vec<String>),
    /// POST a client.
    CreateClient(Value),
    /// Merge into a client.
    UpdateClient(String, Value),
    /// Delete a client.
    DeleteClient(String),
    /// POST a mapper on a client.
    CreateMapper(String, Value),
    /// Merge into a mapper.
    UpdateMapper(String, String, Value),
    /// Delete a mapper.
    DeleteMapper(String, String),
    /// Attach default scopes.
    AttachScopes(String, Vec<String>),
    /// Add/remove realm scope mappings.
    ScopeMappings(String, Vec<String>, Vec<String>),
    /// Add/remove service-account realm roles.
    ServiceAccountRoles(String, Vec<String>, Vec<String>),
    /// POST an organization.
    CreateOrg(Value),
    /// Merge into an organization.
    UpdateOrg(String, Value),
    /// Delete an organization.
    DeleteOrg(String),
    /// Add/remove members (usernames).
    OrgMembers(String, Vec<String>, Vec<String>),
    /// POST a user (body includes the initial credential).
    CreateUser(Value),
    /// Merge into a user.
    UpdateUser(String, Value),
    /// Add/remove realm roles of a user.
    UserRoles(String, Vec<String>, Vec<String>),
}

/// One planned change.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// Resource kind.
    pub kind: Kind,
    /// Resource name (e.g. `web`, `web/secctl-audience-backend-api`).
    pub name: String,
    /// Action.
    pub action: Action,
    /// Field-level changes (for creates: the declared fields). Secrets are masked.
    pub fields: Vec<FieldChange>,
    /// What apply runs.
    #[serde(skip)]
    pub op: Op,
}

/// The whole plan.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// Realm.
    pub realm: String,
    /// Changes in apply order.
    pub changes: Vec<Change>,
    /// secctl-managed objects the policy no longer declares, kept because `--prune` was not given.
    pub prune_candidates: Vec<String>,
}

impl Plan {
    /// True when apply has nothing to do.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
    /// (creates, updates, deletes).
    pub fn totals(&self) -> (usize, usize, usize) {
        let n = |a| self.changes.iter().filter(|c| c.action == a).count();
        (n(Action::Create), n(Action::Update), n(Action::Delete))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        f.write_str(&s)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.changes {
            let sign = match c.action {
                Action::Create => '+',
                Action::Update => '~',
                Action::Delete => '-',
            };
            writeln!(f, "{sign} {} {}", c.kind, c.name)?;
            if c.action == Action::Update {
                for field in &c.fields {
                    writeln!(f, "    {field}")?;
                }
            }
        }
        for p in &self.prune_candidates {
            writeln!(f, "! {p}: managed by secctl but no longer in the policy (kept; `apply --prune` deletes it)")?;
        }
        let (c, u, d) = self.totals();
        if self.is_empty() {
            write!(f, "realm `{}`: no changes, Keycloak matches the policy", self.realm)
        } else {
            write!(f, "realm `{}`: {c} to create, {u} to update, {d} to delete", self.realm)
        }
    }
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn managed(rep: &Value) -> bool {
    match rep.get("attributes").and_then(|a| a.get(MARKER)) {
        Some(Value::String(s)) => s == "true",
        Some(Value::Array(a)) => a.first().and_then(Value::as_str) == Some("true"),
        _ => false,
    }
}

/// (to add, to remove): removals stay inside `universe` (roles the policy declares), so grants
/// made by hand to built-in or other roles survive.
fn set_diff(desired: &[String], actual: &[String], universe: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
    let add = desired.iter().filter(|d| !actual.contains(d)).cloned().collect();
    let remove = actual.iter().filter(|a| universe.contains(*a) && !desired.contains(a)).cloned().collect();
    (add, remove)
}

fn set_fields(field: &str, add: &[String], remove: &[String]) -> Vec<FieldChange> {
    let mut v = Vec::new();
    if !add.is_empty() {
        v.push(FieldChange { field: format!("{field} (add)"), from: Value::Null, to: json!(add) });
    }
    if !remove.is_empty() {
        v.push(FieldChange { field: format!("{field} (remove)"), from: json!(remove), to: Value::Null });
    }
    v
}

struct Builder(Vec<Change>);

impl Builder {
    fn push(&mut self, kind: Kind, name: impl Into<String>, action: Action, fields: Vec<FieldChange>, op: Op) {
        self.0.push(Change { kind, name: name.into(), action, fields, op });
    }
    /// Create when absent, update when declared fields differ.
    fn upsert(&mut self, kind: Kind, name: &str, declared: &Value, actual: Option<&Value>, create: impl FnOnce() -> Op, update: impl FnOnce() -> Op) {
        match actual {
            None => self.push(kind, name, Action::Create, diff(declared, None), create()),
            Some(a) => {
                let fields = diff(declared, Some(a));
                if !fields.is_empty() {
                    self.push(kind, name, Action::Update, fields, update());
                }
            }
        }
    }
    fn set(&mut self, kind: Kind, name: &str, field: &str, (add, remove): (Vec<String>, Vec<String>), op: impl FnOnce(Vec<String>, Vec<String>) -> Op) {
        if !add.is_empty() || !remove.is_empty() {
            let fields = set_fields(field, &add, &remove);
            self.push(kind, name, Action::Update, fields, op(add, remove));
        }
    }
}

/// Computes the plan. With `prune`, secctl-managed objects the policy dropped are deleted;
/// without it they are listed in [`Plan::prune_candidates`].
pub fn plan(d: &Desired, a: &Actual, prune: bool) -> Plan {
    let mut b = Builder(Vec::new());
    let roles = d.role_names();
    b.upsert(Kind::Realm, &d.realm, &d.realm_fields, a.realm.as_ref(), || Op::CreateRealm(d.realm_fields.clone()), || Op::UpdateRealm(d.realm_fields.clone()));

    if let Some(attr) = &d.profile_attribute {
        let name = str_of(attr, "name").unwrap_or_default();
        let current = a.profile.as_ref().and_then(|p| p.get("attributes")).and_then(Value::as_array).and_then(|l| l.iter().find(|x| str_of(x, "name") == Some(name)));
        let fields = diff(attr, current);
        if !fields.is_empty() {
            let action = if current.is_some() { Action::Update } else { Action::Create };
            b.push(Kind::UserProfile, format!("attribute {name}"), action, fields, Op::ProfileAttribute(attr.clone()));
        }
    }
    for r in &d.roles {
        b.upsert(Kind::Role, &r.name, &r.body, a.roles.get(&r.name), || Op::CreateRole(r.body.clone()), || Op::UpdateRole(r.name.clone(), r.body.clone()));
    }
    for r in &d.roles {
        let actual = a.composites.get(&r.name).cloned().unwrap_or_default();
        b.set(Kind::RoleComposites, &r.name, "composites", set_diff(&r.composites, &actual, &roles), |x, y| Op::Composites(r.name.clone(), x, y));
    }
    for c in &d.clients {
        let st = a.clients.get(&c.client_id);
        b.upsert(Kind::Client, &c.client_id, &c.body, st.map(|s| &s.rep), || Op::CreateClient(c.body.clone()), || Op::UpdateClient(c.client_id.clone(), c.body.clone()));
        let mappers: Vec<&Value> = st.and_then(|s| s.rep.get("protocolMappers")).and_then(Value::as_array).map(|l| l.iter().collect()).unwrap_or_default();
        for m in &c.mappers {
            let name = str_of(m, "name").unwrap_or_default();
            let cur = mappers.iter().find(|x| str_of(x, "name") == Some(name)).copied();
            let label = format!("{}/{name}", c.client_id);
            b.upsert(Kind::Mapper, &label, m, cur, || Op::CreateMapper(c.client_id.clone(), m.clone()), || Op::UpdateMapper(c.client_id.clone(), name.to_string(), m.clone()));
        }
        let scopes: Vec<String> = st.and_then(|s| s.rep.get("defaultClientScopes")).and_then(Value::as_array).map(|l| l.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default();
        let missing: Vec<String> = c.default_scopes.iter().filter(|s| !scopes.contains(s)).cloned().collect();
        // A new client gets the realm's default scopes from Keycloak; only what it lacks is attached.
        let missing: Vec<String> = if st.is_none() { missing.into_iter().filter(|s| s != "basic" && s != "roles").collect() } else { missing };
        if !missing.is_empty() {
            let fields = set_fields("defaultClientScopes", &missing, &[]);
            b.push(Kind::ClientScopes, &c.client_id, Action::Update, fields, Op::AttachScopes(c.client_id.clone(), missing));
        }
        if let Some(want) = &c.scope_roles {
            let have = st.map(|s| s.scope_roles.clone()).unwrap_or_default();
            b.set(Kind::ScopeMappings, &c.client_id, "realm roles in scope", set_diff(want, &have, &roles), |x, y| Op::ScopeMappings(c.client_id.clone(), x, y));
        }
        if let Some(want) = &c.service_account_roles {
            let have = st.and_then(|s| s.service_account_roles.clone()).unwrap_or_default();
            b.set(Kind::ServiceAccountRoles, &c.client_id, "realm roles", set_diff(want, &have, &roles), |x, y| Op::ServiceAccountRoles(c.client_id.clone(), x, y));
        }
    }
    for o in &d.orgs {
        b.upsert(Kind::Organization, &o.alias, &o.body, a.orgs.get(&o.alias), || Op::CreateOrg(o.body.clone()), || Op::UpdateOrg(o.alias.clone(), o.body.clone()));
    }
    for u in &d.users {
        let cur = a.users.get(&u.username);
        let create = || {
            let mut body = u.body.clone();
            body["credentials"] = json!([{"type": "password", "value": u.password.as_str(), "temporary": false}]);
            Op::CreateUser(body)
        };
        b.upsert(Kind::User, &u.username, &u.body, cur.map(|s| &s.rep), create, || Op::UpdateUser(u.username.clone(), u.body.clone()));
        let have = cur.map(|s| s.roles.clone()).unwrap_or_default();
        b.set(Kind::UserRoles, &u.username, "realm roles", set_diff(&u.roles, &have, &roles), |x, y| Op::UserRoles(u.username.clone(), x, y));
    }
    let fixtures = d.usernames();
    for o in &d.orgs {
        let have = a.org_members.get(&o.alias).cloned().unwrap_or_default();
        b.set(Kind::OrganizationMembers, &o.alias, "members", set_diff(&o.members, &have, &fixtures), |x, y| Op::OrgMembers(o.alias.clone(), x, y));
    }

    // Deletions: only objects carrying secctl's marker (or mapper prefix) that the policy dropped.
    let mut candidates = Vec::new();
    let mut delete = |b: &mut Builder, kind: Kind, name: String, op: Op| {
        if prune {
            b.push(kind, name, Action::Delete, vec![], op);
        } else {
            candidates.push(format!("{kind} {name}"));
        }
    };
    for c in &d.clients {
        let Some(st) = a.clients.get(&c.client_id) else { continue };
        for m in st.rep.get("protocolMappers").and_then(Value::as_array).into_iter().flatten() {
            let name = str_of(m, "name").unwrap_or_default();
            if name.starts_with(MAPPER_PREFIX) && !c.mappers.iter().any(|x| str_of(x, "name") == Some(name)) {
                delete(&mut b, Kind::Mapper, format!("{}/{name}", c.client_id), Op::DeleteMapper(c.client_id.clone(), name.to_string()));
            }
        }
    }
    let declared_clients: BTreeSet<&str> = d.clients.iter().map(|c| c.client_id.as_str()).collect();
    for (cid, st) in &a.clients {
        if managed(&st.rep) && !declared_clients.contains(cid.as_str()) {
            delete(&mut b, Kind::Client, cid.clone(), Op::DeleteClient(cid.clone()));
        }
    }
    let declared_orgs: BTreeSet<&str> = d.orgs.iter().map(|o| o.alias.as_str()).collect();
    for (alias, rep) in &a.orgs {
        if managed(rep) && !declared_orgs.contains(alias.as_str()) {
            delete(&mut b, Kind::Organization, alias.clone(), Op::DeleteOrg(alias.clone()));
        }
    }
    for (name, rep) in &a.roles {
        if managed(rep) && !roles.contains(name) {
            delete(&mut b, Kind::Role, name.clone(), Op::DeleteRole(name.clone()));
        }
    }
    Plan { realm: d.realm.clone(), changes: b.0, prune_candidates: candidates }
}
