//! Issuance: layout, modes, certificate contents, idempotence, renewal.

use std::os::unix::fs::PermissionsExt;

use super::*;

fn inspect(env: &Env, rel: &str) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_secctl")).args(["certs", "inspect", "--format", "json"]).arg(env.pki().join(rel)).output().unwrap();
    assert!(o.status.success(), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["certificates"][0].clone()
}

#[test]
fn issue_writes_the_contract_layout_with_safe_modes_and_valid_chains() {
    let env = Env::stack();
    env.ok(&["issue"]);
    let pki = env.pki();
    for f in ["index.json", "ca/root.crt", "ca/intermediate.crt", "ca/bundle.crt", "ca/chain.crt", "ca/crl.pem"] {
        let m = std::fs::metadata(pki.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(m.permissions().mode() & 0o777, 0o644, "{f}");
    }
    for f in ["ca/root.key", "ca/intermediate.key"] {
        assert_eq!(std::fs::metadata(pki.join(f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
    }
    for (svc, p) in LEAVES {
        for f in [format!("services/{svc}/{p}.crt"), format!("services/{svc}/{p}-fullchain.crt")] {
            assert_eq!(std::fs::metadata(pki.join(&f)).unwrap().permissions().mode() & 0o777, 0o644, "{f}");
        }
        let key = format!("services/{svc}/{p}.key");
        assert_eq!(std::fs::metadata(pki.join(&key)).unwrap().permissions().mode() & 0o777, 0o600, "{key}");
        // openssl agrees with the chain, the purpose and the CRLs at every level.
        let o = openssl_verify(&pki, &format!("services/{svc}/{p}.crt"), p);
        assert!(o.status.success(), "openssl verify {svc}/{p}: {}{}", out(&o), err(&o));
        // The full chain is leaf + intermediate, usable as nginx ssl_certificate.
        let full = String::from_utf8(env.read(&format!("services/{svc}/{p}-fullchain.crt"))).unwrap();
        assert_eq!(full.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(full.starts_with(&String::from_utf8(env.read(&format!("services/{svc}/{p}.crt"))).unwrap()));
    }
    // keycloak is `mtls: none` in local-stack: no certificate for it.
    assert!(!pki.join("services/keycloak").exists());
    // One CRL per CA level in crl.pem (nginx CRL_CHECK_ALL).
    let crl = String::from_utf8(env.read("ca/crl.pem")).unwrap();
    assert_eq!(crl.matches("BEGIN X509 CRL").count(), 2);
    // Our own validator agrees.
    env.ok(&["verify"]);
}

#[test]
fn certificates_carry_the_profile_the_issue_asks_for() {
    let env = Env::stack();
    env.ok(&["issue"]);
    let client = inspect(&env, "services/worker/client.crt");
    assert_eq!(client["subject"], "O=Acme, CN=worker");
    assert_eq!(client["uris"], serde_json::json!(["spiffe://acme.internal/worker"]));
    assert_eq!(client["extended_key_usage"], serde_json::json!(["clientAuth"]));
    assert_eq!(client["dns_names"], serde_json::json!([]));
    assert_eq!(client["key_algorithm"], "ecdsa-p256");
    let server = inspect(&env, "services/gateway/server.crt");
    assert_eq!(server["dns_names"], serde_json::json!(["gateway.acme.internal", "localhost"]));
    assert_eq!(server["ips"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(server["extended_key_usage"], serde_json::json!(["serverAuth"]));
    // Random serials: 16 bytes, different for every cert.
    let serial = server["serial"].as_str().unwrap();
    assert_eq!(serial.split(':').count(), 16, "{serial}");
    assert_ne!(serial, client["serial"].as_str().unwrap());
    // Leaf validity from the policy (30 days), never rcgen's 1975..4096 default.
    let days = server["days_left"].as_i64().unwrap();
    assert!((29..=30).contains(&days), "{days}");
    // SKI and AKI on leaves; AKI = the intermediate's SKI.
    let int = inspect(&env, "ca/intermediate.crt");
    assert_eq!(server["authority_key_id"], int["subject_key_id"]);
    assert!(server["subject_key_id"].is_string());
    assert_eq!(int["name_constraints"], serde_json::json!(["DNS:acme.internal", "DNS:localhost", "IP:127.0.0.0/8"]));
    // pathlen: root 1, intermediate 0 (checked with openssl's own dump).
    let text = |rel: &str| out(&openssl().args(["x509", "-noout", "-text", "-in"]).arg(env.pki().join(rel)).output().unwrap());
    assert!(text("ca/root.crt").contains("CA:TRUE, pathlen:1"));
    let t = text("ca/intermediate.crt");
    assert!(t.contains("CA:TRUE, pathlen:0"), "{t}");
    assert!(t.contains("Certificate Sign, CRL Sign"), "{t}");
    let leaf = text("services/gateway/server.crt");
    assert!(leaf.contains("CA:FALSE") && leaf.contains("Digital Signature") && !leaf.contains("Key Encipherment"), "{leaf}");
}

#[test]
fn second_run_issues_nothing_and_says_why_for_each_cert() {
    let env = Env::stack();
    env.ok(&["issue"]);
    let before = env.snapshot();
    let o = env.ok(&["issue"]);
    assert_eq!(o.matches("kept").count(), LEAVES.len(), "{o}");
    assert!(!o.contains("issued"), "{o}");
    assert_eq!(env.snapshot(), before, "an idempotent run must not rewrite anything");

    // A SAN change re-issues exactly that certificate, saying what changed.
    env.edit(|t| t.replace("dns_names: [redis.acme.internal, localhost]", "dns_names: [redis.acme.internal, cache.acme.internal, localhost]"));
    let o = env.ok(&["issue", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&o).unwrap();
    let issued: Vec<&serde_json::Value> = v["certs"].as_array().unwrap().iter().filter(|c| c["action"] == "issued").collect();
    assert_eq!(issued.len(), 1, "{o}");
    assert_eq!(issued[0]["service"], "redis");
    assert!(issued[0]["reason"].as_str().unwrap().contains("policy-mismatch: DNS names +cache.acme.internal"), "{o}");

    // --force re-issues everything.
    let o = env.ok(&["issue", "--force"]);
    assert_eq!(o.matches("forced (--force)").count(), LEAVES.len(), "{o}");
    // A deleted cert is re-issued as missing (its key is replaced, never left orphaned).
    std::fs::remove_file(env.pki().join("services/ai/client.crt")).unwrap();
    std::fs::remove_file(env.pki().join("services/ai/client.key")).unwrap();
    let o = env.ok(&["issue"]);
    assert!(o.lines().any(|l| l.starts_with("ai") && l.contains("client") && l.contains("issued  missing")), "{o}");
}

#[test]
fn short_validity_is_reported_expiring_and_renewed() {
    let env = Env::stack();
    env.edit(|t| t.replace("leaf_validity_days: 30", "leaf_validity_days: 5").replace("renew_before_days: 10", "renew_before_days: 2"));
    env.ok(&["issue"]);
    let (code, rows) = env.list();
    assert_eq!(code, 0);
    assert!(rows.iter().all(|r| r["status"] == "ok"), "{rows:?}");
    // The operator widens the renewal window past the remaining lifetime: everything is due.
    env.edit(|t| t.replace("renew_before_days: 2", "renew_before_days: 6"));
    let (code, rows) = env.list();
    assert_eq!(code, 1, "list must exit 1 so a scheduled job alerts");
    assert_eq!(rows.len(), LEAVES.len());
    assert!(rows.iter().all(|r| r["status"] == "expiring" && r["days_left"].as_i64().unwrap() <= 5), "{rows:?}");
    let before = rows.iter().map(|r| r["serial"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let o = env.ok(&["issue"]);
    assert_eq!(o.matches("issued  expiring").count(), LEAVES.len(), "{o}");
    let (_, rows) = env.list();
    for r in &rows {
        assert!(!before.contains(&r["serial"].as_str().unwrap().to_string()), "serial reused: {r}");
    }
    // `renew SERVICE` re-issues only that service.
    env.edit(|t| t.replace("renew_before_days: 6", "renew_before_days: 2"));
    let o = env.ok(&["renew", "backend"]);
    assert_eq!(o.matches("renewal requested").count(), 2, "{o}");
    assert_eq!(o.matches("kept").count(), LEAVES.len() - 2, "{o}");
}

#[test]
fn list_reports_revoked_and_mismatched_and_exits_1() {
    let env = Env::stack();
    env.ok(&["issue"]);
    let (code, rows) = env.list();
    assert_eq!(code, 0);
    for key in ["service", "purpose", "serial", "not_after", "days_left", "status"] {
        assert!(rows[0].get(key).is_some(), "missing {key}: {}", rows[0]);
    }
    env.ok(&["revoke", "ai", "--reason", "key-compromise", "--purpose", "client"]);
    env.edit(|t| t.replace("dns_names: [loki.acme.internal, localhost]", "dns_names: [logs.acme.internal, localhost]"));
    let (code, rows) = env.list();
    assert_eq!(code, 1);
    let st = |s: &str, p: &str| rows.iter().find(|r| r["service"] == s && r["purpose"] == p).unwrap()["status"].as_str().unwrap().to_string();
    assert_eq!(st("ai", "client"), "revoked");
    assert_eq!(st("ai", "server"), "ok");
    assert_eq!(st("loki", "server"), "policy-mismatch");
}
