//! Bad input gets a clear error naming the file and what to do, and nothing is overwritten.

use super::*;

#[test]
fn names_outside_the_constraints_are_refused_with_their_position() {
    let env = Env::stack();
    env.edit(|t| t.replace("dns_names: [gateway.acme.internal, localhost]", "dns_names: [gateway.acme.internal, gateway.evil.example]").replace("ips: [127.0.0.1]\n    listen: { host: 127.0.0.1, port: 28443 }", "ips: [10.9.9.9]\n    listen: { host: 127.0.0.1, port: 28443 }"));
    let o = env.certs(&["issue"]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(e.contains("name-outside-constraints") && e.contains("gateway.evil.example") && e.contains("10.9.9.9"), "{e}");
    assert!(e.contains("secctl.yaml:15:") && e.contains("secctl.yaml:16:"), "the errors must point at the lines: {e}");
    assert!(!env.pki().exists(), "nothing may be written");

    // Another server name outside: refused too.
    let env = Env::stack();
    env.edit(|t| t.replace("dns_names: [redis.acme.internal, localhost]", "dns_names: [redis.acme.internal, redis.other.org]"));
    let o = env.certs(&["issue"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("`redis.other.org` is outside the CA's name constraints"), "{}", err(&o));

    // Widening the policy's constraints after the intermediate exists is refused too: the intermediate
    // still carries the old constraints, so the cert would fail everywhere.
    let env = Env::stack();
    env.ok(&["issue"]);
    let before = env.snapshot();
    env.edit(|t| t.replace("dns: [acme.internal, localhost]", "dns: [acme.internal, localhost, other.org]").replace("dns_names: [redis.acme.internal, localhost]", "dns_names: [redis.other.org]"));
    let o = env.certs(&["issue"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("cannot sign redis: redis.other.org") && err(&o).contains("rotate-ca"), "{}", err(&o));
    assert_eq!(env.snapshot(), before);
}

#[test]
fn corrupt_pem_and_hand_edited_certs_stop_issue_without_overwriting() {
    let env = Env::stack();
    env.ok(&["issue"]);
    // Corrupt PEM.
    std::fs::write(env.pki().join("services/backend/server.crt"), "-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n").unwrap();
    let before = env.snapshot();
    let o = env.certs(&["issue"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    let e = err(&o);
    assert!(e.contains("services/backend/server.crt") && e.contains("corrupt") && e.contains("--force"), "{e}");
    assert!(e.contains("nothing was written"), "{e}");
    assert_eq!(env.snapshot(), before, "nothing may be overwritten");
    let o = env.certs(&["verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("services/backend/server.crt"), "{}", out(&o));
    // --force replaces it, saying so.
    let o = env.ok(&["issue", "--force"]);
    assert!(o.contains("replacing damaged files"), "{o}");

    // A hand-edited cert: flip one byte inside the signed part and re-encode the PEM.
    let path = env.pki().join("services/ai/server.crt");
    let o = openssl().args(["x509", "-outform", "DER", "-in"]).arg(&path).output().unwrap();
    let mut der = o.stdout;
    let i = der.len() / 2;
    der[i] ^= 0x01;
    let tmp = env.dir.path().join("edited.der");
    std::fs::write(&tmp, &der).unwrap();
    // Write the edited DER back as PEM without openssl re-parsing it (it may no longer parse).
    let b64 = Command::new("base64").arg("-w").arg("64").arg(&tmp).output().unwrap();
    std::fs::write(&path, format!("-----BEGIN CERTIFICATE-----\n{}-----END CERTIFICATE-----\n", out(&b64))).unwrap();
    let before = env.snapshot();
    let o = env.certs(&["issue"]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(e.contains("services/ai/server.crt") && (e.contains("edited by hand") || e.contains("corrupt")), "{e}");
    assert_eq!(env.snapshot(), before);

    // A key left alone without its cert is not silently replaced.
    let env = Env::stack();
    env.ok(&["issue"]);
    std::fs::remove_file(env.pki().join("services/redis/server.crt")).unwrap();
    let o = env.certs(&["issue"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("services/redis/server.key exists without"), "{}", err(&o));
}

#[test]
fn missing_ca_files_are_named_and_never_recreated_silently() {
    let env = Env::stack();
    env.ok(&["issue"]);
    std::fs::remove_file(env.pki().join("ca/intermediate.crt")).unwrap();
    let before = env.snapshot();
    let o = env.certs(&["issue"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("ca/intermediate.crt is missing") && err(&o).contains("backup"), "{}", err(&o));
    assert_eq!(env.snapshot(), before);

    // The whole CA directory gone while the inventory records certs: refuse to mint a new CA.
    std::fs::remove_dir_all(env.pki().join("ca")).unwrap();
    let before = env.snapshot();
    let o = env.certs(&["issue"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("is missing but") && err(&o).contains("index.json"), "{}", err(&o));
    assert_eq!(env.snapshot(), before);
}

#[test]
fn encrypted_root_key_needs_the_right_passphrase() {
    let env = Env::stack();
    env.edit(|t| t.replace("  name_constraints:", "  root_passphrase: { env: TEST_ROOT_PASS }\n  name_constraints:"));
    let o = env.certs_env(&["init"], &[("TEST_ROOT_PASS", "correct horse battery staple")]);
    assert!(o.status.success(), "{}", err(&o));
    let key = String::from_utf8(env.read("ca/root.key")).unwrap();
    assert!(key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "{key}");
    // openssl reads it with the passphrase (standard PBES2).
    let o = openssl().args(["pkey", "-noout", "-passin", "env:TEST_ROOT_PASS", "-in"]).arg(env.pki().join("ca/root.key")).env("TEST_ROOT_PASS", "correct horse battery staple").output().unwrap();
    assert!(o.status.success(), "{}", err(&o));
    // Issuing needs only the intermediate: no passphrase required.
    let o = env.certs_env(&["issue"], &[]);
    assert!(o.status.success(), "{}", err(&o));

    // The root-signed CRL must be re-signed (here: it went missing): a wrong passphrase is a clear error.
    let crls: Vec<_> = std::fs::read_dir(env.pki().join("ca/crls")).unwrap().flatten().map(|e| e.path()).collect();
    let root_serial = out(&openssl().args(["x509", "-noout", "-serial", "-in"]).arg(env.pki().join("ca/root.crt")).output().unwrap());
    let root_serial = root_serial.trim().trim_start_matches("serial=").to_ascii_lowercase();
    let root_crl = crls.iter().find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&root_serial)).unwrap().clone();
    std::fs::remove_file(&root_crl).unwrap();
    let before = env.snapshot();
    let o = env.certs_env(&["issue"], &[("TEST_ROOT_PASS", "wrong")]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(e.contains("wrong passphrase") && e.contains("ca/root.key"), "{e}");
    assert_eq!(env.snapshot(), before);
    // Without any passphrase (not a terminal): says which variable to set.
    let o = env.certs_env(&["issue"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("TEST_ROOT_PASS is not set"), "{}", err(&o));
    // With the right one the CRL is re-signed.
    let o = env.certs_env(&["issue"], &[("TEST_ROOT_PASS", "correct horse battery staple")]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(root_crl.exists());
    env.ok(&["verify"]);
}
