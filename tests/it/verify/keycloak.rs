//! `keycloak.drift` on a real Keycloak 26 (slow: starts one): a realm not yet applied is
//! drift, `secctl keycloak apply` makes it pass, and a hand edit in the realm fails it again.

use crate::keycloak::{code, policy, secctl, shared, text};

fn drift(pw: &str, p: &std::path::Path) -> (i32, serde_json::Value) {
    let o = secctl(pw, &["verify", "-p", p.to_str().unwrap(), "--only", "keycloak.drift", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{}", text(&o)));
    (code(&o), doc)
}

#[test]
fn keycloak_drift_follows_the_real_realm() {
    let kc = shared();
    let dir = tempfile::tempdir().unwrap();
    let realm = "verify-drift";
    let p = policy(dir.path(), &kc.url(), realm, |t| t);
    let pw = &kc.admin_password;

    let (c, doc) = drift(pw, &p);
    assert_eq!(c, 1, "{doc}");
    let c0 = &doc["controls"][0];
    assert_eq!(c0["status"], "fail");
    assert!(c0["evidence"].to_string().contains("pending Create"), "{c0}");
    assert!(c0["connections"].as_u64().unwrap() > 0, "{c0}");

    let o = secctl(pw, &["keycloak", "apply", "--policy", p.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let (c, doc) = drift(pw, &p);
    assert_eq!(c, 0, "after apply: {doc}");

    // Someone changes the realm by hand: that is drift again.
    kc.send(reqwest::Method::PUT, &format!("/{realm}"), &serde_json::json!({ "accessTokenLifespan": 3600 }));
    let (c, doc) = drift(pw, &p);
    assert_eq!(c, 1, "{doc}");
    assert!(doc["controls"][0]["evidence"].to_string().contains("pending Update"), "{doc}");
    // A wrong admin password is a missing credential: not evaluated, never a pass.
    let (c, doc) = drift("wrong-password", &p);
    assert_eq!(c, 3, "{doc}");
    assert_eq!(doc["controls"][0]["status"], "not-evaluated");
}
