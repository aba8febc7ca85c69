//! Executes a [`Plan`] against the Admin API, front to back.
//!
//! Every update re-reads the object and overlays the declared fields onto the full server
//! representation before the PUT, so fields secctl does not manage survive (Keycloak has no
//! PATCH). Creates that meet a 409 (an earlier, interrupted run already created the object) turn
//! into updates, which is what makes a re-run after a crash converge.

use std::collections::HashMap;

use anyhow::{anyhow, Result};
use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::{json, Value};

use super::http::{Admin, ApiError, Counts};
use super::json::merge;
use super::plan::{Change, Op, Plan};
use super::read::{enc, list_all};
use crate::exit::Fail;

/// What apply did.
#[derive(Clone, Debug, Serialize)]
pub struct ApplyReport {
    /// Realm.
    pub realm: String,
    /// Changes applied.
    pub applied: usize,
    /// HTTP calls made by the whole run (plan reads included).
    pub calls: Counts,
}

struct Ctx<'a> {
    admin: &'a Admin,
    r: String,
    clients: HashMap<String, String>,
    scopes: Option<HashMap<String, String>>,
    orgs: HashMap<String, String>,
}

fn is_conflict(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<ApiError>(), Some(ApiError::Conflict(_)))
}

fn refs(roles: Vec<Value>) -> Value {
    Value::Array(roles.into_iter().map(|r| json!({"id": r["id"], "name": r["name"]})).collect())
}

impl Ctx<'_> {
    fn get(&self, path: &str) -> Result<Value> {
        self.admin.get(path)?.ok_or_else(|| anyhow!("GET {path}: it disappeared while applying; run apply again"))
    }
    /// GET, overlay the declared fields, PUT the full representation.
    fn merge_put(&self, path: &str, declared: &Value, strip: &[&str]) -> Result<()> {
        let mut rep = self.get(path)?;
        merge(&mut rep, declared);
        if let Some(o) = rep.as_object_mut() {
            for k in strip {
                o.remove(*k);
            }
        }
        self.admin.put(path, Some(&rep))
    }
    fn client(&mut self, client_id: &str) -> Result<String> {
        if let Some(id) = self.clients.get(client_id) {
            return Ok(id.clone());
        }
        let found = self.admin.list(&format!("{}/clients?clientId={}", self.r, enc(client_id)))?;
        let id = found.first().and_then(|c| c["id"].as_str()).ok_or_else(|| anyhow!("client `{client_id}` not found"))?.to_string();
        self.clients.insert(client_id.to_string(), id.clone());
        Ok(id)
    }
    fn roles(&self, names: &[String]) -> Result<Value> {
        let reps = names.iter().map(|n| self.get(&format!("{}/roles/{}", self.r, enc(n)))).collect::<Result<Vec<_>>>()?;
        Ok(refs(reps))
    }
    fn set_roles(&self, path: &str, add: &[String], remove: &[String]) -> Result<()> {
        if !add.is_empty() {
            self.admin.post(path, &self.roles(add)?)?;
        }
        if !remove.is_empty() {
            self.admin.delete(path, Some(&self.roles(remove)?))?;
        }
        Ok(())
    }
    fn org(&mut self, alias: &str) -> Result<String> {
        if !self.orgs.contains_key(alias) {
            // One listing serves every later lookup (50 tenants must not mean 50 searches).
            let orgs = list_all(self.admin, &format!("{}/organizations?briefRepresentation=true", self.r))?;
            self.orgs = orgs.iter().filter_map(|o| Some((o["alias"].as_str()?.to_string(), o["id"].as_str()?.to_string()))).collect();
        }
        self.orgs.get(alias).cloned().ok_or_else(|| anyhow!("organization `{alias}` not found"))
    }
    fn user(&self, username: &str) -> Result<String> {
        let found = self.admin.list(&format!("{}/users?username={}&exact=true", self.r, enc(username)))?;
        found.first().and_then(|u| u["id"].as_str()).map(str::to_string).ok_or_else(|| anyhow!("user `{username}` not found"))
    }
    fn scope_id(&mut self, name: &str) -> Result<String> {
        if self.scopes.is_none() {
            let all = self.admin.list(&format!("{}/client-scopes", self.r))?;
            self.scopes = Some(all.iter().filter_map(|s| Some((s["name"].as_str()?.to_string(), s["id"].as_str()?.to_string()))).collect());
        }
        self.scopes.as_ref().and_then(|m| m.get(name)).cloned().ok_or_else(|| anyhow!("client scope `{name}` does not exist in the realm"))
    }

    /// POST, or on 409 (created by an interrupted run or by hand) fall back to `update`.
    fn create(&mut self, path: &str, body: &Value, update: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        match self.admin.post(path, body) {
            Err(e) if is_conflict(&e) => update(self),
            other => other.map(drop),
        }
    }

    fn run(&mut self, op: &Op) -> Result<()> {
        let r = self.r.clone();
        match op {
            Op::CreateRealm(body) => {
                self.create("", body, |c| c.merge_put(&r, body, &[]))?;
                // The token we hold predates the realm: it lacks the new realm's management roles.
                self.admin.refresh_token()
            }
            Op::UpdateRealm(d) => self.merge_put(&r, d, &[]),
            Op::ProfileAttribute(attr) => {
                let path = format!("{r}/users/profile");
                let mut up = self.get(&path)?;
                let list = up["attributes"].as_array_mut().ok_or_else(|| anyhow!("user profile has no attributes list"))?;
                match list.iter_mut().find(|a| a["name"] == attr["name"]) {
                    Some(a) => merge(a, attr),
                    None => list.push(attr.clone()),
                }
                self.admin.put(&path, Some(&up))
            }
            Op::CreateRole(body) => {
                let name = body["name"].as_str().unwrap_or_default().to_string();
                self.create(&format!("{r}/roles"), body, |c| c.merge_put(&format!("{r}/roles/{}", enc(&name)), body, &[]))
            }
            Op::UpdateRole(name, d) => self.merge_put(&format!("{r}/roles/{}", enc(name)), d, &[]),
            Op::DeleteRole(name) => self.admin.delete(&format!("{r}/roles/{}", enc(name)), None),
            Op::Composites(role, add, remove) => self.set_roles(&format!("{r}/roles/{}/composites", enc(role)), add, remove),
            Op::CreateClient(body) => {
                let cid = body["clientId"].as_str().unwrap_or_default().to_string();
                self.create(&format!("{r}/clients"), body, |c| {
                    let id = c.client(&cid)?;
                    c.merge_put(&format!("{r}/clients/{id}"), body, &["protocolMappers"])
                })
            }
            Op::UpdateClient(cid, d) => {
                let id = self.client(cid)?;
                // Without `protocolMappers` in the body Keycloak leaves mappers alone.
                self.merge_put(&format!("{r}/clients/{id}"), d, &["protocolMappers"])
            }
            Op::DeleteClient(cid) => {
                let id = self.client(cid)?;
                self.admin.delete(&format!("{r}/clients/{id}"), None)
            }
            Op::CreateMapper(cid, body) | Op::UpdateMapper(cid, _, body) => {
                let id = self.client(cid)?;
                let base = format!("{r}/clients/{id}/protocol-mappers/models");
                let existing = self.admin.list(&base)?.into_iter().find(|m| m["name"] == body["name"]);
                match existing {
                    Some(mut m) => {
                        merge(&mut m, body);
                        let mid = m["id"].as_str().unwrap_or_default().to_string();
                        self.admin.put(&format!("{base}/{mid}"), Some(&m))
                    }
                    None => self.admin.post(&base, body).map(drop),
                }
            }
            Op::DeleteMapper(cid, name) => {
                let id = self.client(cid)?;
                let base = format!("{r}/clients/{id}/protocol-mappers/models");
                match self.admin.list(&base)?.into_iter().find(|m| m["name"].as_str() == Some(name)) {
                    Some(m) => self.admin.delete(&format!("{base}/{}", m["id"].as_str().unwrap_or_default()), None),
                    None => Ok(()),
                }
            }
            Op::AttachScopes(cid, scopes) => {
                let id = self.client(cid)?;
                let rep = self.get(&format!("{r}/clients/{id}"))?;
                let has = |k: &str, s: &str| rep[k].as_array().is_some_and(|l| l.iter().any(|x| x.as_str() == Some(s)));
                for s in scopes {
                    if has("defaultClientScopes", s) {
                        continue;
                    }
                    let sid = self.scope_id(s)?;
                    if has("optionalClientScopes", s) {
                        // A scope is either default or optional for a client, never both.
                        self.admin.delete(&format!("{r}/clients/{id}/optional-client-scopes/{sid}"), None)?;
                    }
                    self.admin.put(&format!("{r}/clients/{id}/default-client-scopes/{sid}"), None)?;
                }
                Ok(())
            }
            Op::ScopeMappings(cid, add, remove) => {
                let id = self.client(cid)?;
                self.set_roles(&format!("{r}/clients/{id}/scope-mappings/realm"), add, remove)
            }
            Op::ServiceAccountRoles(cid, add, remove) => {
                let id = self.client(cid)?;
                let user = self.get(&format!("{r}/clients/{id}/service-account-user"))?;
                let uid = user["id"].as_str().unwrap_or_default().to_string();
                self.set_roles(&format!("{r}/users/{uid}/role-mappings/realm"), add, remove)
            }
            Op::CreateOrg(body) => {
                let alias = body["alias"].as_str().unwrap_or_default().to_string();
                self.create(&format!("{r}/organizations"), body, |c| {
                    let id = c.org(&alias)?;
                    c.merge_put(&format!("{r}/organizations/{id}"), body, &[])
                })
            }
            Op::UpdateOrg(alias, d) => {
                let id = self.org(alias)?;
                self.merge_put(&format!("{r}/organizations/{id}"), d, &[])
            }
            Op::DeleteOrg(alias) => {
                let id = self.org(alias)?;
                self.admin.delete(&format!("{r}/organizations/{id}"), None)
            }
            Op::OrgMembers(alias, add, remove) => {
                let id = self.org(alias)?;
                for u in add {
                    let uid = self.user(u)?;
                    match self.admin.post(&format!("{r}/organizations/{id}/members"), &json!(uid)) {
                        Err(e) if is_conflict(&e) => {}
                        other => other.map(drop)?,
                    }
                }
                for u in remove {
                    let uid = self.user(u)?;
                    self.admin.delete(&format!("{r}/organizations/{id}/members/{uid}"), None)?;
                }
                Ok(())
            }
            Op::CreateUser(body) => {
                let name = body["username"].as_str().unwrap_or_default().to_string();
                self.create(&format!("{r}/users"), body, |c| {
                    let uid = c.user(&name)?;
                    let mut declared = body.clone();
                    declared.as_object_mut().map(|o| o.remove("credentials"));
                    c.merge_put(&format!("{r}/users/{uid}"), &declared, &[])
                })
            }
            Op::UpdateUser(name, d) => {
                let uid = self.user(name)?;
                self.merge_put(&format!("{r}/users/{uid}"), d, &[])
            }
            Op::UserRoles(name, add, remove) => {
                let uid = self.user(name)?;
                self.set_roles(&format!("{r}/users/{uid}/role-mappings/realm"), add, remove)
            }
        }
    }
}

/// Applies the plan in order, ticking `progress` per change. Stops at the first failure with
/// an error saying how far it got; running apply again converges.
pub fn apply(admin: &Admin, plan: &Plan, progress: &ProgressBar) -> Result<ApplyReport> {
    let mut ctx = Ctx { admin, r: format!("/{}", enc(&plan.realm)), clients: HashMap::new(), scopes: None, orgs: HashMap::new() };
    for (i, change) in plan.changes.iter().enumerate() {
        progress.set_message(format!("{} {}", change.kind, change.name));
        ctx.run(&change.op).map_err(|e| describe(e, change, i, plan.changes.len()))?;
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(ApplyReport { realm: plan.realm.clone(), applied: plan.changes.len(), calls: admin.counts() })
}

fn describe(e: anyhow::Error, change: &Change, done: usize, total: usize) -> anyhow::Error {
    let outcome = crate::exit::outcome_of(&e);
    let e = e.context(format!("{:?} {} `{}` failed after {done} of {total} changes were applied; fix the cause and run apply again (it converges)", change.action, change.kind, change.name));
    match outcome {
        crate::exit::Outcome::Invalid => Fail::invalid(e),
        _ => Fail::unevaluated(e),
    }
}
