//! pkilint (DigiCert's RFC 5280 linter) finds nothing at WARNING or above on
//! any certificate or CRL we issue.
//!
//! One allow-listed finding, and only for `spiffe://` values: pkilint checks URIs
//! with the `validators` package, whose pinned version (0.22) accepts only the
//! schemes ftp(s), git, http(s), rtsp, sftp, ssh and telnet. `spiffe://acme.internal/worker`
//! is a valid RFC 3986 URI and the SPIFFE X509-SVID spec requires exactly this SAN, so
//! `pkix.invalid_uri_syntax` on a spiffe:// value is pkilint's false positive. Any other
//! URI, or any other code, still fails the test.

use super::*;

fn lint_cert(path: &Path) -> Vec<String> {
    let o = Command::new(venv_bin("lint_pkix_cert")).args(["lint", "-s", "WARNING", "-f", "JSON"]).arg(path).output().unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("pkilint output for {} is not JSON ({e}): {}{}", path.display(), out(&o), err(&o)));
    let mut bad = Vec::new();
    for r in v["results"].as_array().unwrap() {
        for f in r["finding_descriptions"].as_array().unwrap() {
            let code = f["code"].as_str().unwrap_or("");
            let msg = f["message"].as_str().unwrap_or("");
            let spiffe_false_positive = code == "pkix.invalid_uri_syntax" && msg.contains("\"spiffe://");
            if !spiffe_false_positive {
                bad.push(format!("{}: {code} ({}) {msg} at {}", path.display(), f["severity"], r["node_path"]));
            }
        }
    }
    bad
}

#[test]
fn pkilint_finds_nothing_on_any_issued_certificate_or_crl() {
    let env = Env::new(&fqdn_stack());
    env.ok(&["issue"]);
    let pki = env.pki();
    let mut findings = Vec::new();
    let mut files = vec![pki.join("ca/root.crt"), pki.join("ca/intermediate.crt")];
    files.extend(LEAVES.iter().map(|(s, p)| pki.join(format!("services/{s}/{p}.crt"))));
    for f in &files {
        findings.extend(lint_cert(f));
    }
    // The allow-list is not hiding anything else: the client certs really do carry a spiffe URI that pkilint flags.
    let raw = Command::new(venv_bin("lint_pkix_cert")).args(["lint", "-s", "WARNING"]).arg(pki.join("services/worker/client.crt")).output().unwrap();
    assert!(out(&raw).contains("spiffe://acme.internal/worker"), "expected pkilint's SPIFFE false positive: {}", out(&raw));
    for crl in std::fs::read_dir(pki.join("ca/crls")).unwrap().flatten() {
        let o = Command::new(venv_bin("lint_crl")).args(["lint", "-t", "CRL", "-p", "PKIX", "-s", "WARNING"]).arg(crl.path()).output().unwrap();
        if !o.status.success() || !out(&o).trim().is_empty() {
            findings.push(format!("{}: {}{}", crl.path().display(), out(&o), err(&o)));
        }
    }
    assert!(findings.is_empty(), "pkilint findings:\n{}", findings.join("\n"));
}

#[test]
fn pkilint_is_clean_for_every_key_algorithm() {
    // rsa3072 key generation is slow in debug builds (about 3 s of CPU per key), but it is a policy option, so it is proven too.
    for alg in ["ecdsa-p384", "ed25519", "rsa3072"] {
        let env = Env::new(&fqdn_stack().replace("key_algorithm: ecdsa-p256", &format!("key_algorithm: {alg}")));
        env.ok(&["issue"]);
        let pki = env.pki();
        let mut findings = Vec::new();
        for f in [pki.join("ca/root.crt"), pki.join("ca/intermediate.crt"), pki.join("services/gateway/server.crt"), pki.join("services/worker/client.crt")] {
            findings.extend(lint_cert(&f));
        }
        assert!(findings.is_empty(), "{alg}: {}", findings.join("\n"));
        let o = openssl_verify(&pki, "services/gateway/server.crt", "server");
        assert!(o.status.success(), "{alg}: {}{}", out(&o), err(&o));
        env.ok(&["verify"]);
    }
}
