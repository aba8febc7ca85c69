//! CA rotation with an overlapping trust bundle: old leaves keep validating
//! until `finish`, new leaves validate from `activate` on.

use super::*;

fn count(env: &Env, rel: &str) -> usize {
    String::from_utf8(env.read(rel)).unwrap().matches("BEGIN CERTIFICATE").count()
}

/// `openssl verify` of a saved (pre-rotation) leaf against the current bundle/chain/CRLs.
fn verifies(env: &Env, leaf: &Path, purpose: &str) -> bool {
    let rel = leaf.strip_prefix(env.pki()).map(|p| p.to_path_buf()).unwrap_or_else(|_| leaf.to_path_buf());
    openssl_verify(&env.pki(), &rel.to_string_lossy(), purpose).status.success()
}

fn all_leaves_verify(env: &Env) {
    for (svc, p) in LEAVES {
        let o = openssl_verify(&env.pki(), &format!("services/{svc}/{p}.crt"), p);
        assert!(o.status.success(), "{svc}/{p}: {}{}", out(&o), err(&o));
    }
    env.ok(&["verify"]);
}

fn rotation(root: bool) {
    let env = Env::stack();
    env.ok(&["issue"]);
    let old_leaf = env.pki().join("old-gateway-server.crt");
    std::fs::copy(env.pki().join("services/gateway/server.crt"), &old_leaf).unwrap();
    let old_root = env.read("ca/root.crt");

    let stage: &[&str] = if root { &["rotate-ca", "stage", "--root"] } else { &["rotate-ca", "stage"] };
    env.ok(stage);
    assert_eq!(count(&env, "ca/bundle.crt"), if root { 2 } else { 1 }, "bundle during the overlap");
    assert_eq!(count(&env, "ca/chain.crt"), if root { 4 } else { 3 });
    assert_eq!(String::from_utf8(env.read("ca/crl.pem")).unwrap().matches("BEGIN X509 CRL").count(), if root { 4 } else { 3 });
    // Staging changes no leaf: nothing to re-issue yet, and everything still validates.
    let (code, _) = env.list();
    assert_eq!(code, 0);
    all_leaves_verify(&env);
    let o = env.certs(&["rotate-ca", "stage"]);
    assert_eq!(o.status.code(), Some(2), "a second stage must be refused");

    let o = env.ok(&["rotate-ca", "activate"]);
    assert!(o.contains(&format!("re-issued {} certificate(s)", LEAVES.len())), "{o}");
    assert_eq!(env.read("ca/root.crt") != old_root, root, "ca/root.crt changes only in a root rotation");
    all_leaves_verify(&env);
    assert!(verifies(&env, &old_leaf, "server"), "an old leaf must keep validating during the overlap");
    // Finishing stops trusting the old CA.
    env.ok(&["rotate-ca", "finish"]);
    assert_eq!(count(&env, "ca/bundle.crt"), 1);
    assert_eq!(count(&env, "ca/chain.crt"), 2);
    all_leaves_verify(&env);
    assert!(!verifies(&env, &old_leaf, "server"), "the old CA must no longer be trusted after finish");
    let o = env.ok(&["issue"]);
    assert_eq!(o.matches("kept").count(), LEAVES.len(), "{o}");
}

#[test]
fn intermediate_rotation_overlaps_then_retires() {
    rotation(false);
}

#[test]
fn root_rotation_overlaps_then_retires() {
    rotation(true);
}

#[test]
fn interrupted_activation_is_completed() {
    let env = Env::stack();
    env.ok(&["issue"]);
    env.ok(&["rotate-ca", "stage"]);
    let o = env.certs_env(&["rotate-ca", "activate"], &[("SECCTL_CRASH_AT", "rotate-activate")]);
    assert!(!o.status.success());
    // The next command completes the move; leaves (still from the old, trusted intermediate) validate.
    let o = env.certs(&["verify"]);
    assert!(o.status.success(), "{}{}", out(&o), err(&o));
    let o = env.ok(&["issue"]);
    assert_eq!(o.matches("issued  issuer-changed").count(), LEAVES.len(), "{o}");
    env.ok(&["rotate-ca", "finish"]);
    all_leaves_verify(&env);
}
