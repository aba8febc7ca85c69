//! The actual state of a realm, as far as secctl cares: a snapshot read from the Admin API
//! (or built in memory by [`super::fake`] for planner tests).

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::Value;

use super::desired::Desired;
use super::http::Admin;

/// A client and the relations secctl manages on it.
#[derive(Clone, Debug, Default)]
pub struct ClientState {
    /// Full representation (includes `protocolMappers` and `defaultClientScopes`).
    pub rep: Value,
    /// Realm roles in the client's scope (read only when secctl manages them).
    pub scope_roles: Vec<String>,
    /// Realm roles of its service-account user, when it has one and secctl manages them.
    pub service_account_roles: Option<Vec<String>>,
}

/// A user and its realm role mappings.
#[derive(Clone, Debug, Default)]
pub struct UserState {
    /// Full representation.
    pub rep: Value,
    /// Realm roles mapped directly.
    pub roles: Vec<String>,
}

/// What the server holds.
#[derive(Clone, Debug, Default)]
pub struct Actual {
    /// The realm; `None` when it does not exist (then everything else is empty).
    pub realm: Option<Value>,
    /// User-profile configuration (read only for the attribute tenancy model).
    pub profile: Option<Value>,
    /// Realm roles by name.
    pub roles: BTreeMap<String, Value>,
    /// Realm composites of the roles the policy declares.
    pub composites: BTreeMap<String, Vec<String>>,
    /// Clients by `clientId`.
    pub clients: BTreeMap<String, ClientState>,
    /// Organizations by alias.
    pub orgs: BTreeMap<String, Value>,
    /// Members (usernames) of the organizations the policy declares.
    pub org_members: BTreeMap<String, Vec<String>>,
    /// Fixture users by username.
    pub users: BTreeMap<String, UserState>,
}

/// Reads the actual state relevant to `desired`.
pub trait Reader {
    /// Takes the snapshot.
    fn read(&self, desired: &Desired) -> Result<Actual>;
}

/// Page size for list endpoints: always explicit (organizations default to 10).
pub const PAGE: usize = 1000;

/// Reads every page of a list endpoint (`path` may already have a query string).
pub fn list_all(admin: &Admin, path: &str) -> Result<Vec<Value>> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    loop {
        let page = admin.list(&format!("{path}{sep}first={}&max={PAGE}", out.len()))?;
        let n = page.len();
        out.extend(page);
        if n < PAGE {
            return Ok(out);
        }
    }
}

fn names(v: &[Value]) -> Vec<String> {
    v.iter().filter_map(|r| r.get("name").and_then(Value::as_str)).map(str::to_string).collect()
}

/// Percent-encodes one path segment or query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Reads through the live Admin API.
pub struct LiveReader<'a>(pub &'a Admin);

impl Reader for LiveReader<'_> {
    fn read(&self, desired: &Desired) -> Result<Actual> {
        let admin = self.0;
        let r = format!("/{}", enc(&desired.realm));
        let mut a = Actual { realm: admin.get(&r)?, ..Actual::default() };
        let Some(realm) = &a.realm else { return Ok(a) };
        if desired.profile_attribute.is_some() {
            a.profile = admin.get(&format!("{r}/users/profile"))?;
        }
        for role in list_all(admin, &format!("{r}/roles?briefRepresentation=false"))? {
            if let Some(n) = role.get("name").and_then(Value::as_str) {
                a.roles.insert(n.to_string(), role.clone());
            }
        }
        for d in &desired.roles {
            // Only composite roles need a read: a non-composite role has none.
            if a.roles.get(&d.name).and_then(|x| x.get("composite")).and_then(Value::as_bool) == Some(true) {
                a.composites.insert(d.name.clone(), names(&admin.list(&format!("{r}/roles/{}/composites/realm", enc(&d.name)))?));
            }
        }
        let desired_clients: BTreeMap<&str, _> = desired.clients.iter().map(|c| (c.client_id.as_str(), c)).collect();
        for rep in list_all(admin, &format!("{r}/clients"))? {
            let Some(cid) = rep.get("clientId").and_then(Value::as_str).map(str::to_string) else { continue };
            let uuid = rep.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            let mut st = ClientState { rep, ..ClientState::default() };
            if let Some(d) = desired_clients.get(cid.as_str()) {
                if d.scope_roles.is_some() {
                    st.scope_roles = names(&admin.list(&format!("{r}/clients/{uuid}/scope-mappings/realm"))?);
                }
                if d.service_account_roles.is_some() && st.rep.get("serviceAccountsEnabled").and_then(Value::as_bool) == Some(true)
                    && let Some(user) = admin.get(&format!("{r}/clients/{uuid}/service-account-user"))?
                {
                    let uid = user.get("id").and_then(Value::as_str).unwrap_or_default();
                    st.service_account_roles = Some(names(&admin.list(&format!("{r}/users/{uid}/role-mappings/realm"))?));
                }
            }
            a.clients.insert(cid, st);
        }
        if realm.get("organizationsEnabled").and_then(Value::as_bool) == Some(true) {
            for org in list_all(admin, &format!("{r}/organizations?briefRepresentation=false"))? {
                if let Some(alias) = org.get("alias").and_then(Value::as_str) {
                    a.orgs.insert(alias.to_string(), org.clone());
                }
            }
            if !desired.users.is_empty() {
                for d in &desired.orgs {
                    if let Some(id) = a.orgs.get(&d.alias).and_then(|o| o.get("id")).and_then(Value::as_str) {
                        let members = list_all(admin, &format!("{r}/organizations/{id}/members"))?;
                        let usernames = members.iter().filter_map(|m| m.get("username").and_then(Value::as_str)).map(str::to_string).collect();
                        a.org_members.insert(d.alias.clone(), usernames);
                    }
                }
            }
        }
        for u in &desired.users {
            let found = admin.list(&format!("{r}/users?username={}&exact=true&briefRepresentation=false", enc(&u.username)))?;
            if let Some(rep) = found.into_iter().next() {
                let uid = rep.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
                let roles = names(&admin.list(&format!("{r}/users/{uid}/role-mappings/realm"))?);
                a.users.insert(u.username.clone(), UserState { rep, roles });
            }
        }
        Ok(a)
    }
}
