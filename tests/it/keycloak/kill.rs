//! Keycloak killed (SIGKILL) in the middle of an apply, restarted on its file-backed DB:
//! the interrupted apply fails with exit 3 and a pointer to re-run; the re-run converges.

use std::time::{Duration, Instant};

use super::*;

#[test]
fn kill_mid_apply_then_restart_and_reapply_converges() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("kc-data");
    let mut kc = Keycloak::start(Some(&data), dir.path());
    // Many objects, so the apply is still running when Keycloak dies.
    let p = policy(dir.path(), &kc.url(), "it-kill", |t| generated(t, 60, 30));

    let mut apply = Command::new(env!("CARGO_BIN_EXE_secctl"))
        .args(["keycloak", "apply", "--policy", p.to_str().unwrap()])
        .env("KC_BOOTSTRAP_ADMIN_USERNAME", "admin")
        .env("KC_BOOTSTRAP_ADMIN_PASSWORD", &kc.admin_password)
        .env("SECCTL_AI_CLIENT_SECRET", AI_SECRET)
        .env("SECCTL_WORKER_CLIENT_SECRET", WORKER_SECRET)
        .env("SECCTL_TEST_PASSWORD", USER_PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill as soon as the realm exists and some organizations were written: mid-apply.
    let started = Instant::now();
    loop {
        let orgs = kc.get("/it-kill").and_then(|r| if r["organizationsEnabled"] == true { kc.get("/it-kill/organizations?first=0&max=1000") } else { None });
        if orgs.is_some_and(|o| o.as_array().is_some_and(|a| !a.is_empty())) {
            break;
        }
        assert!(apply.try_wait().unwrap().is_none(), "apply finished before it could be interrupted; grow the generated policy");
        assert!(started.elapsed() < Duration::from_secs(120), "apply never reached the organizations");
        std::thread::sleep(Duration::from_millis(50));
    }
    kc.kill9();
    let out = apply.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "interrupted apply must exit 3: {err}");
    assert!(err.contains("run apply again") && !err.contains("panicked"), "{err}");

    kc.spawn();
    let out = secctl(&kc.admin_password, &["keycloak", "plan", "--policy", p.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "the half-applied realm must show pending changes\n{}", text(&out));
    let out = secctl(&kc.admin_password, &["keycloak", "apply", "--policy", p.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "re-apply after the crash\n{}", text(&out));
    let out = secctl(&kc.admin_password, &["keycloak", "plan", "--policy", p.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "plan after re-apply must be empty\n{}", text(&out));
    assert_eq!(kc.get("/it-kill/organizations?first=0&max=1000").unwrap().as_array().unwrap().len(), 62);
    // The fixture user works end to end after the crash.
    let out = secctl(&kc.admin_password, &["keycloak", "token", "--policy", p.to_str().unwrap(), "--user", "alice"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}
