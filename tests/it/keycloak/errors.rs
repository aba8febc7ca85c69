//! Bad input and unreachable servers: clear errors, exit 2 or 3, never a panic.

use std::time::Instant;

use super::*;

#[test]
fn wrong_admin_credentials_exit_2_with_a_clear_message() {
    let kc = shared();
    let dir = tempfile::tempdir().unwrap();
    let p = policy(dir.path(), &kc.url(), "it-badcreds", |t| t);
    let out = secctl("not-the-password", &["keycloak", "plan", "--policy", p.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rejected the admin credentials") && err.contains("identity.admin"), "{err}");
    assert!(!err.contains("not-the-password"), "the password leaked into the error");
    assert!(kc.get("/it-badcreds").is_none());
}

#[test]
fn unreachable_keycloak_exits_3_after_bounded_retries() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let p = policy(dir.path(), &url, "acme", |t| t);
    let started = Instant::now();
    let out = secctl("x", &["keycloak", "apply", "--policy", p.to_str().unwrap()]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is Keycloak running") && err.contains(&url), "{err}");
    assert!(started.elapsed().as_secs() < 30, "retries must be bounded");
}

#[test]
fn http_redirect_in_production_is_refused_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: exit 2 (not 3) proves validation happens before connecting.
    let url = format!("http://127.0.0.1:{}", free_port());
    let p = policy(dir.path(), &url, "acme", |t| {
        // Production without fixtures and direct grants, so the redirect is the only error.
        let start = t.find("  fixtures:\n").unwrap();
        let end = start + t[start..].find("\n\n").unwrap();
        format!("{}{}", &t[..start], &t[end + 1..]).replace("environment: dev", "environment: production").replace("direct_access_grants: true", "direct_access_grants: false")
    });
    let out = secctl("x", &["keycloak", "plan", "--policy", p.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("redirect-uri-insecure") && err.contains("http://localhost:5173/callback"), "{err}");
    assert!(err.contains("policy.yaml:"), "diagnostic must name file:line: {err}");
}
