//! Converging realms on the shared Keycloak: fresh apply, tokens, drift, ownership.

use reqwest::Method;
use serde_json::{json, Value};

use super::*;

fn plan_json(kc: &Keycloak, policy: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["keycloak", "plan", "--policy", policy.to_str().unwrap(), "--format", "json"];
    args.extend(extra);
    let out = secctl(&kc.admin_password, &args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("plan JSON: {e}\n{}", text(&out)));
    (code(&out), v)
}

fn apply(kc: &Keycloak, policy: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["keycloak", "apply", "--policy", policy.to_str().unwrap(), "--format", "json"];
    args.extend(extra);
    let out = secctl(&kc.admin_password, &args);
    assert_eq!(code(&out), 0, "apply failed\n{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn token(kc: &Keycloak, policy: &Path, args: &[&str]) -> String {
    let mut a = vec!["keycloak", "token", "--policy", policy.to_str().unwrap()];
    a.extend(args);
    let out = secctl(&kc.admin_password, &a);
    assert_eq!(code(&out), 0, "token {args:?}\n{}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn fresh_apply_creates_everything_tokens_validate_and_reapply_writes_nothing() {
    let kc = shared();
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path(), &kc.url(), "it-full", |t| t);

    let (c, before) = plan_json(kc, &p, &[]);
    assert_eq!(c, 1, "pending changes must exit 1: {before}");
    assert_eq!(before["changes"][0]["kind"], "realm");
    assert_eq!(before["changes"][0]["action"], "create");
    let first = apply(kc, &p, &[]);
    assert!(first["applied"].as_u64().unwrap() >= 20, "{first}");

    let (c, after) = plan_json(kc, &p, &[]);
    assert_eq!((c, after["in_sync"].clone()), (0, json!(true)), "plan after apply must be empty: {after}");
    assert_eq!(after["calls"]["writes"], 0);
    let again = apply(kc, &p, &[]);
    assert_eq!((again["applied"].clone(), again["calls"]["writes"].clone()), (json!(0), json!(0)), "second apply must write nothing: {again}");

    // Tokens, validated by PyJWT against the realm JWKS, carry roles, audience and tenant.
    let iss = format!("{}/realms/it-full", kc.url());
    let alice = pyjwt_claims(&token(kc, &p, &["--user", "alice"]), &iss, "backend-api");
    assert!(roles(&alice).contains(&"analyst".into()) && roles(&alice).contains(&"viewer".into()), "composite analyst→viewer: {alice}");
    assert!(!roles(&alice).contains(&"admin".into()));
    assert_eq!(alice["organization"], json!(["tenant-a"]), "tenant claim: {alice}");
    assert_eq!((alice["azp"].as_str(), alice["typ"].as_str()), (Some("web"), Some("Bearer")));
    let bob = pyjwt_claims(&token(kc, &p, &["--user", "bob"]), &iss, "backend-api");
    assert_eq!(bob["organization"], json!(["tenant-b"]));
    assert!(roles(&bob).contains(&"ai-user".into()));

    // Service accounts carry exactly their roles (fullScopeAllowed off + scope mappings).
    let ai = pyjwt_claims(&token(kc, &p, &["--client", "ai-service"]), &iss, "backend-api");
    assert_eq!(roles(&ai), vec!["ai-user"], "{ai}");
    assert_eq!(ai["azp"], "ai-service");
    let worker = pyjwt_claims(&token(kc, &p, &["--client", "worker"]), &iss, "backend-api");
    assert_eq!(roles(&worker), vec!["viewer"]);

    // Realm settings read back.
    let realm = kc.get("/it-full").unwrap();
    assert_eq!((realm["bruteForceProtected"].clone(), realm["failureFactor"].clone()), (json!(true), json!(5)));
    assert_eq!((realm["eventsEnabled"].clone(), realm["adminEventsEnabled"].clone(), realm["organizationsEnabled"].clone()), (json!(true), json!(true), json!(true)));
    assert!(realm["enabledEventTypes"].as_array().unwrap().contains(&json!("LOGIN_ERROR")));
    assert!(realm["passwordPolicy"].as_str().unwrap().contains("length(12)"));
    let web = &kc.get("/it-full/clients?clientId=web").unwrap()[0];
    assert_eq!((web["publicClient"].clone(), web["implicitFlowEnabled"].clone(), web["attributes"]["pkce.code.challenge.method"].clone()), (json!(true), json!(false), json!("S256")));
    assert_eq!(web["redirectUris"], json!(["http://localhost:5173/callback"]));
}

#[test]
fn changed_role_and_client_field_show_exactly_those_and_unmanaged_fields_survive() {
    let kc = shared();
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path(), &kc.url(), "it-drift", |t| t);
    apply(kc, &p, &[]);

    // A field secctl does not manage, changed by hand: no drift, and apply keeps it.
    let uuid = kc.get("/it-drift/clients?clientId=web").unwrap()[0]["id"].as_str().unwrap().to_string();
    let mut web = kc.get(&format!("/it-drift/clients/{uuid}")).unwrap();
    web["description"] = json!("set by hand");
    kc.send(Method::PUT, &format!("/it-drift/clients/{uuid}"), &web);
    assert_eq!(plan_json(kc, &p, &[]).0, 0);

    let p2 = policy(dir.path(), &kc.url(), "it-drift", |t| t.replace("Read-only access", "Read only").replace("Acme web app (local)", "Acme web"));
    let (c, plan) = plan_json(kc, &p2, &[]);
    assert_eq!(c, 1);
    let summary: Vec<(String, String, String, Vec<String>)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ch| (ch["kind"].as_str().unwrap().into(), ch["name"].as_str().unwrap().into(), ch["action"].as_str().unwrap().into(), ch["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string()).collect()))
        .collect();
    let want = vec![("role".to_string(), "viewer".to_string(), "update".to_string(), vec!["description".to_string()]), ("client".into(), "web".into(), "update".into(), vec!["name".into()])];
    assert_eq!(summary, want, "{plan}");
    apply(kc, &p2, &[]);
    assert_eq!(plan_json(kc, &p2, &[]).0, 0);
    let web = kc.get(&format!("/it-drift/clients/{uuid}")).unwrap();
    assert_eq!((web["name"].as_str(), web["description"].as_str()), (Some("Acme web"), Some("set by hand")));
    assert_eq!(kc.get("/it-drift/roles/viewer").unwrap()["description"], "Read only");

    // Drift in a managed field made by hand is reported and corrected.
    let mut web = kc.get(&format!("/it-drift/clients/{uuid}")).unwrap();
    web["implicitFlowEnabled"] = json!(true);
    kc.send(Method::PUT, &format!("/it-drift/clients/{uuid}"), &web);
    let (c, plan) = plan_json(kc, &p2, &[]);
    assert_eq!(c, 1);
    assert_eq!(plan["changes"][0]["fields"][0]["field"], "implicitFlowEnabled");
    apply(kc, &p2, &[]);
    assert_eq!(kc.get(&format!("/it-drift/clients/{uuid}")).unwrap()["implicitFlowEnabled"], json!(false));

    // A user update is a merge-PUT too: the user keeps working (password, org, roles) afterwards.
    let p3 = policy(dir.path(), &kc.url(), "it-drift", |t| t.replace("Read-only access", "Read only").replace("Acme web app (local)", "Acme web").replace("alice@tenant-a.example", "alice.new@tenant-a.example"));
    let (c, plan) = plan_json(kc, &p3, &[]);
    assert_eq!((c, plan["changes"].as_array().unwrap().len()), (1, 1), "{plan}");
    assert_eq!((plan["changes"][0]["kind"].as_str(), plan["changes"][0]["fields"][0]["field"].as_str()), (Some("user"), Some("email")));
    apply(kc, &p3, &[]);
    assert_eq!(plan_json(kc, &p3, &[]).0, 0);
    let claims = pyjwt_claims(&token(kc, &p3, &["--user", "alice"]), &format!("{}/realms/it-drift", kc.url()), "backend-api");
    assert_eq!((claims["email"].as_str(), claims["organization"].clone()), (Some("alice.new@tenant-a.example"), json!(["tenant-a"])));
}

#[test]
fn hand_made_role_and_client_survive_apply_and_prune() {
    let kc = shared();
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path(), &kc.url(), "it-prune", |t| t);
    apply(kc, &p, &[]);
    kc.send(Method::POST, "/it-prune/roles", &json!({"name": "hand-role", "description": "made by hand"}));
    kc.send(Method::POST, "/it-prune/clients", &json!({"clientId": "hand-client", "publicClient": true}));

    // Drop the `admin` role from the policy (and from the routes that require it, or `check`
    // rejects the policy): it is secctl's, so only --prune deletes it.
    let p2 = policy(dir.path(), &kc.url(), "it-prune", |t| {
        t.replace("    - { name: admin, description: Tenant administration, composites: [analyst] }\n", "")
            .replace("roles: [viewer, analyst, admin]", "roles: [viewer, analyst]")
            .replace("roles: [admin]", "roles: [analyst]")
    });
    let out = secctl(&kc.admin_password, &["keycloak", "plan", "--policy", p2.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("role admin: managed by secctl but no longer in the policy"), "{}", text(&out));
    apply(kc, &p2, &[]);
    assert!(kc.get("/it-prune/roles/admin").is_some(), "apply without --prune deleted a role");

    let (c, plan) = plan_json(kc, &p2, &["--prune"]);
    assert_eq!(c, 1);
    let deletes: Vec<&Value> = plan["changes"].as_array().unwrap().iter().filter(|c| c["action"] == "delete").collect();
    assert_eq!(deletes.len(), 1, "{plan}");
    assert_eq!(deletes[0]["name"], "admin");
    apply(kc, &p2, &["--prune"]);
    assert!(kc.get("/it-prune/roles/admin").is_none(), "--prune kept the dropped managed role");
    assert!(kc.get("/it-prune/roles/hand-role").is_some(), "--prune deleted a role made by hand");
    assert_eq!(kc.get("/it-prune/clients?clientId=hand-client").unwrap().as_array().unwrap().len(), 1, "--prune deleted a client made by hand");
    assert!(kc.get("/it-prune/clients?clientId=account").unwrap().as_array().unwrap().len() == 1, "built-in client touched");
    assert_eq!(plan_json(kc, &p2, &["--prune"]).0, 0);
}

#[test]
fn attribute_tenancy_puts_an_admin_only_attribute_in_the_token() {
    let kc = shared();
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path(), &kc.url(), "it-attr", |t| t.replace("tenancy: { model: organizations, claim: organization }", "tenancy: { model: attribute, claim: tenant_id, attribute: tenant_id }"));
    apply(kc, &p, &[]);
    assert_eq!(plan_json(kc, &p, &[]).0, 0, "attribute model must converge in one apply");
    let profile = kc.get("/it-attr/users/profile").unwrap();
    let attr = profile["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "tenant_id").expect("tenant_id declared in the user profile").clone();
    assert_eq!((attr["permissions"]["edit"].clone(), attr["permissions"]["view"].clone()), (json!(["admin"]), json!(["admin"])), "users must not edit their tenant");
    assert!(profile["attributes"].as_array().unwrap().iter().any(|a| a["name"] == "email"), "built-in profile attributes were kept");
    let iss = format!("{}/realms/it-attr", kc.url());
    let alice = pyjwt_claims(&token(kc, &p, &["--user", "alice"]), &iss, "backend-api");
    assert_eq!(alice["tenant_id"], "tenant-a", "{alice}");
    assert!(alice.get("organization").is_none());
    let bob = pyjwt_claims(&token(kc, &p, &["--user", "bob"]), &iss, "backend-api");
    assert_eq!(bob["tenant_id"], "tenant-b");
}
