//! A process killed in the middle of issuance leaves a consistent store.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use super::*;

#[test]
fn abort_at_each_step_of_a_leaf_replacement_recovers_on_next_open() {
    for point in ["leaf-staged", "leaf-key-swapped"] {
        let env = Env::stack();
        env.ok(&["issue"]);
        let o = env.certs_env(&["renew", "--all"], &[("SECCTL_CRASH_AT", point)]);
        assert_eq!(o.status.signal(), Some(6), "{point}: the crash hook did not abort: {}{}", out(&o), err(&o));
        // Half-done state is on disk now (staged files or a swapped key); verify recovers it and finds no problem.
        let o = env.certs(&["verify"]);
        assert!(o.status.success(), "{point}: verify after the crash:\n{}{}", out(&o), err(&o));
        let (code, rows) = env.list();
        assert_eq!(code, 0, "{point}: {rows:?}");
        for (svc, p) in LEAVES {
            let v = openssl_verify(&env.pki(), &format!("services/{svc}/{p}.crt"), p);
            assert!(v.status.success(), "{point}: {svc}/{p}: {}{}", out(&v), err(&v));
        }
        let leftovers: Vec<_> = env.snapshot().into_keys().filter(|p| p.to_string_lossy().ends_with(".new") || p.to_string_lossy().contains(".secctl-tmp-")).collect();
        assert!(leftovers.is_empty(), "{point}: {leftovers:?}");
    }
}

#[test]
fn kill_9_at_random_moments_never_breaks_the_store() {
    let env = Env::stack();
    env.ok(&["issue"]);
    // Different delays land the SIGKILL in different phases (startup, key generation, renames, index, CRL).
    for (i, delay_ms) in [0u64, 2, 4, 6, 8, 10, 13, 16, 20, 25, 30, 40].iter().enumerate() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_secctl"))
            .args(["certs", "issue", "--force", "--policy"])
            .arg(&env.policy)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let o = env.certs(&["verify"]);
        assert!(o.status.success(), "run {i} (killed after {delay_ms} ms): verify failed:\n{}{}", out(&o), err(&o));
    }
    // And the store keeps working normally afterwards.
    let o = env.ok(&["issue"]);
    assert_eq!(o.matches("kept").count(), LEAVES.len(), "{o}");
}

#[test]
fn kill_9_during_ca_creation_leaves_no_half_made_ca() {
    for delay_ms in [1u64, 3, 6, 10] {
        let env = Env::stack();
        let mut child = Command::new(env!("CARGO_BIN_EXE_secctl"))
            .args(["certs", "issue", "--policy"])
            .arg(&env.policy)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Either no CA yet, or a complete one: the next run finishes the job and verifies.
        env.ok(&["issue"]);
        let o = env.certs(&["verify"]);
        assert!(o.status.success(), "killed after {delay_ms} ms: {}{}", out(&o), err(&o));
    }
}
