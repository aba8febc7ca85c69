//! An in-memory Keycloak for planner unit tests: a snapshot that a plan can be "applied" to,
//! so tests can check that a plan converges (a second plan is empty) without a server.

use anyhow::Result;
use serde_json::{json, Value};

use super::desired::Desired;
use super::json::merge;
use super::plan::{Op, Plan};
use super::read::{Actual, ClientState, Reader, UserState};

/// The fake server: its whole state is an [`Actual`] snapshot.
#[derive(Clone, Debug, Default)]
pub struct FakeKeycloak {
    /// Current state; tests may edit it to simulate drift or objects created by hand.
    pub state: Actual,
    /// Write operations applied so far.
    pub writes: usize,
}

impl Reader for FakeKeycloak {
    fn read(&self, _desired: &Desired) -> Result<Actual> {
        Ok(self.state.clone())
    }
}

fn set(list: &mut Vec<String>, add: &[String], remove: &[String]) {
    list.retain(|x| !remove.contains(x));
    for a in add {
        if !list.contains(a) {
            list.push(a.clone());
        }
    }
}

impl FakeKeycloak {
    /// Applies a plan the way the live server would (for the fields the planner looks at).
    pub fn apply(&mut self, plan: &Plan) {
        let s = &mut self.state;
        for c in &plan.changes {
            self.writes += 1;
            match &c.op {
                Op::CreateRealm(b) => s.realm = Some(b.clone()),
                Op::UpdateRealm(d) => merge(s.realm.get_or_insert(json!({})), d),
                Op::ProfileAttribute(a) => {
                    let up = s.profile.get_or_insert(json!({"attributes": []}));
                    let list = up["attributes"].as_array_mut().expect("attributes list");
                    list.retain(|x| x["name"] != a["name"]);
                    list.push(a.clone());
                }
                Op::CreateRole(b) => {
                    s.roles.insert(b["name"].as_str().unwrap_or_default().into(), b.clone());
                }
                Op::UpdateRole(n, d) => merge(s.roles.entry(n.clone()).or_insert(json!({})), d),
                Op::DeleteRole(n) => {
                    s.roles.remove(n);
                }
                Op::Composites(n, add, rm) => set(s.composites.entry(n.clone()).or_default(), add, rm),
                Op::CreateClient(b) => {
                    let mut rep = b.clone();
                    rep["defaultClientScopes"] = json!(["basic", "roles", "profile", "email"]);
                    s.clients.insert(b["clientId"].as_str().unwrap_or_default().into(), ClientState { rep, ..Default::default() });
                }
                Op::UpdateClient(cid, d) => merge(&mut s.clients.entry(cid.clone()).or_default().rep, d),
                Op::DeleteClient(cid) => {
                    s.clients.remove(cid);
                }
                Op::CreateMapper(cid, m) | Op::UpdateMapper(cid, _, m) => {
                    let rep = &mut s.clients.entry(cid.clone()).or_default().rep;
                    let list = rep.as_object_mut().expect("client object").entry("protocolMappers").or_insert(json!([]));
                    let list = list.as_array_mut().expect("mapper list");
                    list.retain(|x| x["name"] != m["name"]);
                    list.push(m.clone());
                }
                Op::DeleteMapper(cid, name) => {
                    if let Some(l) = s.clients.get_mut(cid).and_then(|c| c.rep.get_mut("protocolMappers")).and_then(Value::as_array_mut) {
                        l.retain(|x| x["name"].as_str() != Some(name));
                    }
                }
                Op::AttachScopes(cid, scopes) => {
                    let rep = &mut s.clients.entry(cid.clone()).or_default().rep;
                    let mut have: Vec<String> = serde_json::from_value(rep["defaultClientScopes"].clone()).unwrap_or_default();
                    set(&mut have, scopes, &[]);
                    rep["defaultClientScopes"] = json!(have);
                }
                Op::ScopeMappings(cid, add, rm) => set(&mut s.clients.entry(cid.clone()).or_default().scope_roles, add, rm),
                Op::ServiceAccountRoles(cid, add, rm) => set(s.clients.entry(cid.clone()).or_default().service_account_roles.get_or_insert_default(), add, rm),
                Op::CreateOrg(b) => {
                    s.orgs.insert(b["alias"].as_str().unwrap_or_default().into(), b.clone());
                }
                Op::UpdateOrg(a, d) => merge(s.orgs.entry(a.clone()).or_insert(json!({})), d),
                Op::DeleteOrg(a) => {
                    s.orgs.remove(a);
                }
                Op::OrgMembers(a, add, rm) => set(s.org_members.entry(a.clone()).or_default(), add, rm),
                Op::CreateUser(b) => {
                    let mut rep = b.clone();
                    rep.as_object_mut().map(|o| o.remove("credentials"));
                    s.users.insert(b["username"].as_str().unwrap_or_default().into(), UserState { rep, roles: vec![] });
                }
                Op::UpdateUser(n, d) => merge(&mut s.users.entry(n.clone()).or_default().rep, d),
                Op::UserRoles(n, add, rm) => set(&mut s.users.entry(n.clone()).or_default().roles, add, rm),
            }
        }
    }
}
