//! Planner unit tests against the in-memory fake (the real-server tests are in tests/it/keycloak).

use std::path::Path;

use serde_json::{json, Value};

use super::desired::{self, Desired};
use super::fake::FakeKeycloak;
use super::plan::{plan, Action, Kind, Plan};
use super::read::Reader;
use crate::policy::{load, LoadedPolicy};

const LOCAL: &str = include_str!("../../policies/local-stack.yaml");

/// The local-stack policy with every `env:` secret turned into a file in `dir`.
fn loaded(dir: &Path, edit: impl Fn(String) -> String) -> LoadedPolicy {
    let mut text = LOCAL.to_string();
    for var in ["KC_BOOTSTRAP_ADMIN_USERNAME", "KC_BOOTSTRAP_ADMIN_PASSWORD", "SECCTL_AI_CLIENT_SECRET", "SECCTL_WORKER_CLIENT_SECRET", "SECCTL_TEST_PASSWORD"] {
        std::fs::write(dir.join(var), format!("{var}-Value-1!\n")).unwrap();
        // Secret files must be private (policy::secret refuses group/other access).
        std::fs::set_permissions(dir.join(var), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        text = text.replace(&format!("env: {var}"), &format!("file: {var}"));
    }
    let path = dir.join("policy.yaml");
    std::fs::write(&path, edit(text)).unwrap();
    load(&path).unwrap_or_else(|e| panic!("policy does not load: {e}"))
}

fn desired_of(l: &LoadedPolicy) -> Desired {
    desired::build(&crate::policy::ValidPolicy::assume_valid(l.clone())).unwrap()
}

fn plan_on(fake: &FakeKeycloak, d: &Desired, prune: bool) -> Plan {
    plan(d, &fake.read(d).unwrap(), prune)
}

fn converged(edit: impl Fn(String) -> String) -> (tempfile::TempDir, FakeKeycloak, Desired) {
    let dir = tempfile::tempdir().unwrap();
    let d = desired_of(&loaded(dir.path(), edit));
    let mut fake = FakeKeycloak::default();
    let p = plan_on(&fake, &d, false);
    fake.apply(&p);
    (dir, fake, d)
}

#[test]
fn empty_server_plan_creates_everything_in_dependency_order_and_converges() {
    let dir = tempfile::tempdir().unwrap();
    let d = desired_of(&loaded(dir.path(), |t| t));
    let mut fake = FakeKeycloak::default();
    let p = plan_on(&fake, &d, false);
    assert_eq!(p.changes[0].kind, Kind::Realm);
    assert_eq!(p.changes[0].action, Action::Create);
    let kinds: Vec<Kind> = p.changes.iter().map(|c| c.kind).collect();
    let pos = |k| kinds.iter().position(|x| *x == k).unwrap();
    assert!(pos(Kind::Role) < pos(Kind::RoleComposites) && pos(Kind::Client) < pos(Kind::Mapper) && pos(Kind::User) < pos(Kind::OrganizationMembers), "{kinds:?}");
    let created = |k| p.changes.iter().filter(|c| c.kind == k && c.action == Action::Create).count();
    assert_eq!((created(Kind::Role), created(Kind::Client), created(Kind::Organization), created(Kind::User)), (4, 4, 2, 2));
    fake.apply(&p);
    let again = plan_on(&fake, &d, true);
    assert!(again.is_empty(), "second plan not empty:\n{again}");
}

#[test]
fn unmanaged_fields_never_show_as_drift() {
    let (_dir, mut fake, d) = converged(|t| t);
    let web = &mut fake.state.clients.get_mut("web").unwrap().rep;
    web["consentRequired"] = json!(true);
    web["attributes"]["hand.added"] = json!("x");
    fake.state.realm.as_mut().unwrap()["smtpServer"] = json!({"host": "mail"});
    assert!(plan_on(&fake, &d, false).is_empty());
}

#[test]
fn one_role_and_one_client_field_changed_show_exactly_those() {
    let (dir, fake, _) = converged(|t| t);
    let edited = loaded(dir.path(), |t| t.replace("Read-only access", "Read only").replace("Acme web app (local)", "Acme web"));
    let p = plan_on(&fake, &desired_of(&edited), false);
    let summary: Vec<(Kind, &str, Action, Vec<&str>)> = p.changes.iter().map(|c| (c.kind, c.name.as_str(), c.action, c.fields.iter().map(|f| f.field.as_str()).collect())).collect();
    assert_eq!(summary, vec![(Kind::Role, "viewer", Action::Update, vec!["description"]), (Kind::Client, "web", Action::Update, vec!["name"])]);
    let shown = p.to_string();
    assert!(shown.contains("~ role viewer") && shown.contains("description: \"Read-only access\" -> \"Read only\""), "{shown}");
}

#[test]
fn only_marked_objects_are_deleted_and_only_with_prune() {
    let (_dir, mut fake, d) = converged(|t| t);
    fake.state.roles.insert("hand-made".into(), json!({"name": "hand-made"}));
    fake.state.roles.insert("old-managed".into(), json!({"name": "old-managed", "attributes": {"secctl.managed": ["true"]}}));
    fake.state.clients.insert("hand-client".into(), Default::default());
    let kept = plan_on(&fake, &d, false);
    assert!(kept.is_empty(), "{kept}");
    assert_eq!(kept.prune_candidates, vec!["role old-managed"]);
    let pruned = plan_on(&fake, &d, true);
    let deletes: Vec<&str> = pruned.changes.iter().filter(|c| c.action == Action::Delete).map(|c| c.name.as_str()).collect();
    assert_eq!(deletes, vec!["old-managed"]);
}

#[test]
fn role_grants_made_by_hand_survive_but_stray_policy_roles_are_removed() {
    let (_dir, mut fake, d) = converged(|t| t);
    let sa = fake.state.clients.get_mut("worker").unwrap().service_account_roles.as_mut().unwrap();
    sa.push("offline_access".into()); // built-in, granted by hand: not secctl's business
    sa.push("admin".into()); // a policy role the worker must not hold
    let p = plan_on(&fake, &d, false);
    assert_eq!(p.changes.len(), 1, "{p}");
    assert_eq!(p.changes[0].fields[0].field, "realm roles (remove)");
    assert_eq!(p.changes[0].fields[0].from, json!(["admin"]));
}

#[test]
fn secrets_never_appear_in_plans() {
    let dir = tempfile::tempdir().unwrap();
    let d = desired_of(&loaded(dir.path(), |t| t));
    let p = plan_on(&FakeKeycloak::default(), &d, false);
    let text = format!("{p}\n{}", serde_json::to_string(&p).unwrap());
    for s in ["SECCTL_AI_CLIENT_SECRET-Value-1!", "SECCTL_TEST_PASSWORD-Value-1!"] {
        assert!(!text.contains(s), "secret {s} leaked into the plan");
    }
    let ai = p.changes.iter().find(|c| c.kind == Kind::Client && c.name == "ai-service").unwrap();
    assert!(ai.fields.iter().any(|f| f.field == "secret" && f.to.as_str().is_some_and(|v| v.starts_with("****"))));
}

#[test]
fn attribute_tenancy_declares_admin_only_profile_attribute_and_mapper() {
    let (_dir, fake, d) = converged(|t| t.replace("tenancy: { model: organizations, claim: organization }", "tenancy: { model: attribute, claim: tenant_id, attribute: tenant_id }"));
    let attr = fake.state.profile.as_ref().unwrap()["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "tenant_id").unwrap().clone();
    assert_eq!(attr["permissions"]["edit"], json!(["admin"]));
    let web = &fake.state.clients["web"].rep;
    let mapper = web["protocolMappers"].as_array().unwrap().iter().find(|m| m["name"] == "secctl-tenant").unwrap();
    assert_eq!(mapper["config"]["claim.name"], "tenant_id");
    assert_eq!(mapper["config"]["access.token.claim"], "true");
    assert_eq!(fake.state.users["alice"].rep["attributes"]["tenant_id"], json!(["tenant-a"]));
    assert!(fake.state.orgs.is_empty());
    assert!(d.profile_attribute.is_some());
}

#[test]
fn production_rejects_http_redirects_wildcards_direct_grants_and_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let l = loaded(dir.path(), |t| t.replace("environment: dev", "environment: production").replace("http://localhost:5173]", "https://app.example/*]"));
    let codes: Vec<String> = crate::policy::check::check(&l).into_iter().map(|d| d.code).collect();
    for c in ["redirect-uri-insecure", "direct-grants-in-production", "fixtures-in-production"] {
        assert!(codes.iter().any(|x| x == c), "missing {c} in {codes:?}");
    }
    let diags = crate::policy::check::check(&l);
    let redirect: Vec<_> = diags.iter().filter(|d| d.code == "redirect-uri-insecure").map(|d| d.message.as_str()).collect();
    assert!(redirect.iter().any(|m| m.contains("web origin") && m.contains("wildcard")) && redirect.iter().any(|m| m.contains("redirect URI") && m.contains("not https")), "{redirect:?}");
    let dev = loaded(dir.path(), |t| t);
    assert!(!crate::policy::check::check(&dev).iter().any(|d| d.severity == crate::diag::Severity::Error));
}

#[test]
fn declared_fields_match_what_keycloak_needs() {
    let (_dir, fake, _) = converged(|t| t);
    let web = &fake.state.clients["web"].rep;
    assert_eq!((web["publicClient"].clone(), web["implicitFlowEnabled"].clone()), (json!(true), json!(false)));
    assert_eq!(web["attributes"]["pkce.code.challenge.method"], "S256");
    assert_eq!(web["redirectUris"], json!(["http://localhost:5173/callback"]));
    let scopes: Vec<Value> = web["defaultClientScopes"].as_array().unwrap().clone();
    assert!(scopes.contains(&json!("organization")) && scopes.contains(&json!("basic")));
    let ai = &fake.state.clients["ai-service"];
    assert_eq!(ai.rep["fullScopeAllowed"], json!(false));
    assert_eq!(ai.scope_roles, vec!["ai-user"]);
    let aud = ai.rep["protocolMappers"].as_array().unwrap().iter().find(|m| m["protocolMapper"] == "oidc-audience-mapper").unwrap();
    assert_eq!((aud["config"]["included.client.audience"].as_str(), aud["config"]["access.token.claim"].as_str()), (Some("backend-api"), Some("true")));
    let realm = fake.state.realm.as_ref().unwrap();
    assert_eq!((realm["bruteForceProtected"].clone(), realm["failureFactor"].clone(), realm["organizationsEnabled"].clone()), (json!(true), json!(5), json!(true)));
    assert!(realm["passwordPolicy"].as_str().unwrap().starts_with("length(12) and digits(1)"));
}

#[test]
fn public_url_pins_the_realm_frontend_url() {
    let (_dir, fake, _) = converged(|t| t.replace("  realm: acme\n", "  public_url: https://auth.example/\n  realm: acme\n"));
    assert_eq!(fake.state.realm.as_ref().unwrap()["attributes"]["frontendUrl"], "https://auth.example");
}
