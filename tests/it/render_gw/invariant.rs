//! The single-judge invariant over every policy the project ships (policies/*.yaml,
//! templates/init/*.yaml, examples/**/*.yaml): `check` accepts ⇒ `render` succeeds, the real
//! servers load the output (`nginx -t` with ModSecurity + CRS, `modsec-rules-check`,
//! `redis-server` + PING, `docker-compose config`), and `certs issue` succeeds against a
//! fresh store.
//!
//! The reference policies deploy on Compose names and wildcard addresses that do not resolve
//! or bind outside Compose, so the servers load a loopback copy: every listen host becomes
//! 127.0.0.1 on a free port (Compose gives each container its own address) and the deploy
//! roots a temporary directory. Everything else (routes, headers, CORS, WAF, Redis ACLs,
//! identities) is the shipped text; `check`, `certs issue` and `render` run on the shipped text.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::hostile::servers_accept;
use crate::render_data::support::free_port;

/// Every shipped policy: policies/*.yaml, templates/init/*.yaml and examples/**/*.yaml.
fn shipped() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p);
            }
        }
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for d in ["policies", "templates/init", "examples"] {
        walk(&repo.join(d), &mut out);
    }
    out.sort();
    out
}

/// The loopback copy of a policy, with its deploy roots under `root`.
fn loopback(doc: &Value, root: &Path) -> Value {
    let mut d = doc.clone();
    if let Some(services) = d.get_mut("services").and_then(Value::as_object_mut) {
        for s in services.values_mut() {
            if let Some(l) = s.get_mut("listen").and_then(Value::as_object_mut) {
                l.insert("host".into(), "127.0.0.1".into());
                l.insert("port".into(), free_port().into());
            }
        }
    }
    for l in ["listen", "http_redirect", "internal_listen"] {
        if let Some(x) = d.pointer_mut(&format!("/edge/{l}/host")) {
            *x = "127.0.0.1".into();
        }
        if let Some(x) = d.pointer_mut(&format!("/edge/{l}/port")) {
            *x = free_port().into();
        }
    }
    if let Some(svc) = d
        .pointer("/redis/service")
        .and_then(Value::as_str)
        .map(str::to_string)
    {
        d["services"][&svc]["listen"]["port"] = free_port().into();
        d["redis"]["secrets_dir"] = root.join("secrets_dir").display().to_string().into();
    }
    if d.pointer("/waf").is_some_and(Value::is_object) {
        d["waf"]["audit_log"] = root.join("audit.json").display().to_string().into();
    }
    d["deploy"] = serde_json::json!({
        "config_dir": root.join("config_dir"),
        "pki_dir": root.join("pki_dir"),
        "state_dir": root.join("state_dir"),
        "secrets_dir": root.join("secrets_dir"),
    });
    d
}

/// `secctl <args> -p <policy>` run in `dir`.
fn secctl(dir: &Path, args: &[&str], policy: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_secctl"))
        .current_dir(dir)
        .args(args)
        .arg("-p")
        .arg(policy)
        .output()
        .unwrap()
}

#[test]
fn every_shipped_policy_check_accepted_renders_loads_and_issues() {
    let policies = shipped();
    assert!(
        policies.len() >= 5,
        "expected policies/ and templates/init/ policies, found {policies:?}"
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for shipped in &policies {
        let tmp = tempfile::Builder::new()
            .prefix("secctl-invariant-")
            .tempdir()
            .unwrap();
        let root = tmp.path();
        // A copy, so paths relative to the policy (Redis secrets, the CA store) stay in the tmpdir.
        let p = &root.join(shipped.file_name().unwrap());
        std::fs::copy(shipped, p).unwrap();
        let check = secctl(root, &["check"], p);
        if check.status.code() != Some(0) {
            // Not accepted: the invariant says nothing, but a shipped policy should be clean.
            failures.push(format!(
                "{}: secctl check exit {:?}: {}",
                shipped.display(),
                check.status.code(),
                String::from_utf8_lossy(&check.stdout)
            ));
            continue;
        }
        checked += 1;
        // certs issue on the shipped text, against a fresh store.
        let pki = root.join("fresh-pki");
        let o = secctl(
            root,
            &["certs", "issue", "--pki-dir", pki.to_str().unwrap()],
            p,
        );
        if !o.status.success() {
            failures.push(format!(
                "{}: check accepted, certs issue failed: {}",
                shipped.display(),
                String::from_utf8_lossy(&o.stderr)
            ));
            continue;
        }
        // render on the shipped text (all-or-nothing write), into a scratch directory.
        let o = secctl(root, &["render", "--out", "out"], p);
        if !o.status.success() {
            failures.push(format!(
                "{}: check accepted, render failed: {}",
                shipped.display(),
                String::from_utf8_lossy(&o.stderr)
            ));
            continue;
        }
        // The servers, on the loopback copy with the same PKI.
        let doc: Value = serde_saphyr::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let copy = loopback(&doc, root);
        let name = format!("loopback-{}", p.file_name().unwrap().to_string_lossy());
        if let Err(e) = servers_accept(&copy, &name, root, &pki) {
            failures.push(format!(
                "{}: the loopback copy's output does not load: {e}",
                shipped.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(checked >= 5, "only {checked} policies reached the servers");
}
