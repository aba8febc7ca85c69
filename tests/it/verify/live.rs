//! The clean stack passes every control, 20 runs in a row; defects verify found in the
//! render agree with curl; exit codes for unreachable targets, missing credentials and bad input.

use super::support::*;
use crate::render_gw::support::{require, secctl, Stack};

/// Every control the harness can run passes, in 20 consecutive runs (no false alarm), and
/// every result points at a policy line.
#[test]
fn clean_stack_passes_every_control_twenty_times() {
    let s = clean_stack();
    for run in 0..20 {
        let (code, doc, o) = verify(&s, &skips(&[]));
        assert_eq!(code, 0, "run {run}: exit {code}\n{}\n{}", explain(&doc), String::from_utf8_lossy(&o.stderr));
        let controls = doc["controls"].as_array().unwrap();
        assert!(controls.len() >= 30, "run {run}: only {} controls", controls.len());
        assert_eq!(doc["summary"]["passed"].as_u64().unwrap() as usize, controls.len());
        if run == 0 {
            for c in controls {
                assert!(c["location"]["line"].as_u64().unwrap() > 1, "{c}");
                let network = !c["id"].as_str().unwrap().starts_with("certs.") && !c["id"].as_str().unwrap().starts_with("headers.");
                assert!(!network || c["connections"].as_u64().unwrap() > 0, "{c}");
            }
            // The five header samples are fetched once and shared by the headers.* controls.
            let h: u64 = controls.iter().filter(|c| c["family"].as_str().unwrap().starts_with("headers.")).map(|c| c["connections"].as_u64().unwrap()).sum();
            assert!(h >= 5, "{h}");
            for want in ["tls.protocols", "headers.on-429", "waf.attack[/ai/]", "mtls.internal.authz[/internal/]", "mtls.upstream[backend]", "rate-limit.per-ip[/ai/]", "certs.crl"] {
                assert!(controls.iter().any(|c| c["id"] == want), "{want} missing");
            }
        }
    }
}

/// `headers.redirect`: the rendered http listener redirects to `$host`. verify's verdict must
/// match what curl sees with a forged Host header.
#[test]
fn render_defect_redirect_host_agrees_with_curl() {
    let s = clean_stack();
    let r = s.curl(&["-H", "Host: evil.invalid", &format!("http://127.0.0.1:{}/x", s.ports.http)]);
    assert!((300..400).contains(&r.status), "{r:?}");
    let open = r.header("location").is_some_and(|l| l.contains("evil.invalid"));
    let (code, doc, _) = verify(&s, &["--only".into(), "headers.redirect".into()]);
    let failed = with_status(&doc, "fail").contains("headers.redirect");
    assert_eq!(failed, open, "curl saw Location {:?}; verify: {}", r.header("location"), explain(&doc));
    assert_eq!(code, if open { 1 } else { 0 });
}

/// `rate-limit.tokenless`: tokenless requests get `return 401` before `limit_req`. verify's
/// verdict must match a curl flood without a token.
#[test]
fn render_defect_tokenless_flood_agrees_with_curl() {
    let s = clean_stack();
    let url = s.public("/api/admin/x");
    let limited = (0..40).any(|_| s.curl(&[&url]).status == 429);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let (_, doc, _) = verify(&s, &["--only".into(), "rate-limit.tokenless[/api/admin/]".into()]);
    let failed = with_status(&doc, "fail").contains("rate-limit.tokenless[/api/admin/]");
    assert_eq!(failed, !limited, "curl flood limited: {limited}; verify: {}", explain(&doc));
}

/// Nothing listens: every selected control is not evaluated, exit 3, never a pass.
#[test]
fn unreachable_stack_is_not_evaluated_exit_3() {
    let s = Stack::rendered_with(with_log4shell_rule);
    let (code, doc, _) = verify(&s, &["--only".into(), "tls".into(), "--only".into(), "headers.csp".into(), "--only".into(), "waf.attack[/api/]".into()]);
    assert_eq!(code, 3, "{}", explain(&doc));
    let ne = with_status(&doc, "not-evaluated");
    assert_eq!(ne.len(), doc["controls"].as_array().unwrap().len(), "{}", explain(&doc));
    assert!(ne.contains("tls.protocols") && ne.contains("waf.attack[/api/]"));
    assert!(doc["controls"][0]["detail"].as_str().unwrap().contains("Connection refused"), "{}", doc["controls"][0]);
}

/// A missing credential (the Keycloak admin password) is not evaluated, never a pass, exit 3.
#[test]
fn missing_credential_is_not_evaluated() {
    let s = Stack::rendered_with(with_log4shell_rule);
    let o = secctl()
        .args(["verify", "--format", "json", "--only", "keycloak.drift", "-p"])
        .arg(&s.policy)
        .arg("--pki-dir")
        .arg(&s.pki)
        .env_remove("KC_BOOTSTRAP_ADMIN_PASSWORD")
        .env_remove("KC_BOOTSTRAP_ADMIN_USERNAME")
        .env_remove("SECCTL_AI_CLIENT_SECRET")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stdout));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["controls"][0]["status"], "not-evaluated");
    assert!(doc["controls"][0]["detail"].as_str().unwrap().contains("is not set"), "{}", doc["controls"][0]);
}

/// Bad input exits 2 before any probe: an invalid policy (with file:line:col), a bad
/// --resolve, an --only that matches nothing.
#[test]
fn bad_input_exits_2_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(crate::render_gw::support::repo().join("policies/local-stack.yaml")).unwrap().replace("max_age: 63072000", "max_age: forever");
    let p = dir.path().join("bad.yaml");
    std::fs::write(&p, text).unwrap();
    let o = secctl().arg("verify").arg("-p").arg(&p).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.yaml:70:35") && err.contains("edge.hsts.max_age"), "{err}");
    let good = crate::render_gw::support::repo().join("policies/local-stack.yaml");
    let o = secctl().arg("verify").arg("-p").arg(&good).args(["--resolve", "localhost:x:127.0.0.1"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    let o = secctl().arg("verify").arg("-p").arg(&good).args(["--only", "tls.protocol"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("matches no control"), "{}", String::from_utf8_lossy(&o.stderr));
    require("nginx");
}

/// `--resolve` sends a name somewhere else: the policy's listen address points nowhere, the
/// override points at the running gateway.
#[test]
fn resolve_overrides_where_a_name_connects() {
    let s = clean_stack();
    let text = std::fs::read_to_string(&s.policy).unwrap();
    let https = format!("listen: {{ host: 127.0.0.1, port: {} }}", s.ports.https);
    assert!(text.contains(&https));
    std::fs::write(&s.policy, text.replace(&https, &format!("listen: {{ host: 0.0.0.0, port: {} }}", s.ports.https))).unwrap();
    let only = ["--only".to_string(), "tls.protocols".to_string()];
    let mut args = only.to_vec();
    args.extend(["--resolve".to_string(), format!("localhost:{}:127.0.0.9", s.ports.https)]);
    let (code, doc, _) = verify(&s, &args);
    assert_eq!(code, 3, "127.0.0.9 has no gateway: {}", explain(&doc));
    let mut args = only.to_vec();
    args.extend(["--resolve".to_string(), format!("localhost:{}:127.0.0.1", s.ports.https)]);
    let (code, doc, _) = verify(&s, &args);
    assert_eq!(code, 0, "{}", explain(&doc));
}
