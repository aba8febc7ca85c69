//! Reports checked by independent tools: JUnit against Jenkins' junit-10.xsd (xmllint), SARIF
//! with Microsoft's SARIF multitool (SARIF and GitHub rules), and the TLS verdict against sslyze
//! on a compliant config and on one with TLS 1.0 enabled.

use std::path::PathBuf;
use std::process::Command;

use super::support::*;
use crate::render_gw::support::{repo, require, secctl, venv_bin};

/// The SARIF multitool that scripts/setup.sh installs from npm (SECCTL_SARIF_MULTITOOL overrides).
fn sarif_multitool() -> PathBuf {
    let p = std::env::var_os("SECCTL_SARIF_MULTITOOL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/sarif-multitool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"));
    assert!(p.exists(), "{} is missing: run scripts/setup.sh (npm install @microsoft/sarif-multitool)", p.display());
    p
}

/// A run with passes, a failure (a known render defect) and an unevaluated control (Keycloak
/// without admin credentials): the JUnit file validates and classifies each; the SARIF file passes the
/// multitool's SARIF and GitHub rules and locates each failure at its policy line; the human
/// output ends with the summary.
#[test]
fn junit_and_sarif_validate_with_independent_tools() {
    let s = clean_stack();
    let (junit, sarif) = (s.dir.path().join("verify.xml"), s.dir.path().join("verify.sarif"));
    let o = secctl()
        .arg("verify")
        .arg("-p")
        .arg(&s.policy)
        .arg("--pki-dir")
        .arg(&s.pki)
        .arg("--junit")
        .arg(&junit)
        .arg("--sarif")
        .arg(&sarif)
        .args(["--skip", "rate-limit", "--skip", "headers.on-429", "--skip", "redis", "--skip", "mtls.upstream[loki]"])
        .env_remove("KC_BOOTSTRAP_ADMIN_PASSWORD")
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{human}");
    let last = human.trim_end().lines().last().unwrap();
    assert!(last.ends_with(" passed, 1 failed, 1 not evaluated"), "{last}\n{human}");
    assert!(human.contains("FAIL  headers.redirect") && human.contains("expected: a redirect to https://localhost"), "{human}");

    let x = Command::new(require("xmllint")).arg("--noout").arg("--schema").arg(repo().join("tests/it/verify/junit-10.xsd")).arg(&junit).output().unwrap();
    assert!(x.status.success(), "JUnit does not validate: {}", String::from_utf8_lossy(&x.stderr));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), xml.matches("classname=").count());
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert_eq!(xml.matches("<error ").count(), 1, "{xml}");

    let out = s.dir.path().join("validation.sarif");
    let v = Command::new(sarif_multitool()).args(["validate", "--rule-kind", "Sarif;Gh", "-o"]).arg(&out).arg(&sarif).output().unwrap();
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap_or_else(|_| panic!("multitool wrote nothing: {}", String::from_utf8_lossy(&v.stdout)))).unwrap();
    let problems: Vec<&serde_json::Value> = report["runs"][0]["results"].as_array().unwrap().iter().filter(|r| r["level"] == "error" || r["level"].is_null()).collect();
    assert!(problems.is_empty(), "SARIF validation findings: {problems:#?}");
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let region = &results[0]["locations"][0]["physicalLocation"]["region"];
    let policy = std::fs::read_to_string(&s.policy).unwrap();
    let line = policy.lines().nth(region["startLine"].as_u64().unwrap() as usize - 1).unwrap();
    assert!(line.contains("http_redirect"), "headers.redirect must point at edge.http_redirect, got line `{line}`");
}

fn sslyze(port: u16, args: &[&str], ca: &std::path::Path) -> String {
    let o = Command::new(venv_bin("sslyze")).args(args).arg("--certinfo_ca_file").arg(ca).arg(format!("127.0.0.1:{port}")).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    // sslyze exits 0 even when it cannot connect: check that it scanned.
    assert!(out.contains("SCANS COMPLETED") && !out.contains("Connectivity errors"), "{out}");
    out
}

/// secctl's TLS verdict matches sslyze's: compliant config, then TLS 1.0 switched on.
#[test]
fn tls_verdict_agrees_with_sslyze() {
    let s = clean_stack();
    let ca = s.pki.join("ca/bundle.crt");
    let only = ["--only".to_string(), "tls.protocols".to_string()];
    let out = sslyze(s.ports.https, &["--mozilla_config=intermediate"], &ca);
    assert!(out.contains("OK - Compliant"), "{out}");
    let (code, doc, _) = verify(&s, &only);
    assert_eq!(code, 0, "{}", explain(&doc));

    let tls = s.out.join("nginx/snippets/tls.conf");
    s.mutate_gateway(&tls, |t| {
        t.replace("ssl_protocols TLSv1.2 TLSv1.3;", "ssl_protocols TLSv1 TLSv1.2 TLSv1.3;").replace("ECDHE-RSA-CHACHA20-POLY1305;", "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0;")
    });
    let out = sslyze(s.ports.https, &["--tlsv1"], &ca);
    let tls10 = out.split("* TLS 1.0 Cipher Suites:").nth(1).unwrap_or_else(|| panic!("{out}"));
    assert!(tls10.contains("The server accepted the following"), "sslyze does not see TLS 1.0: {out}");
    let out = sslyze(s.ports.https, &["--mozilla_config=intermediate"], &ca);
    assert!(out.contains("FAILED - Not compliant") && out.contains("TLSv1"), "{out}");
    let (code, doc, _) = verify(&s, &only);
    assert_eq!(code, 1, "{}", explain(&doc));
    let ev = doc["controls"][0]["evidence"].to_string();
    assert!(ev.contains("ServerHello TLS 1.0") && !ev.contains("TLS 1.1,"), "{ev}");
}
