//! Integration tests: the command line as data (trycmd).
//!
//! `tests/cmd/help/*.toml`: the help text of every command.
//! `tests/cmd/bad/*.toml`: one bad policy per case (`<case>.yaml`), with the
//! exact diagnostics (message, position, path, hint) and exit code.
//!
//! Re-bless after an intended change of output:
//! `TRYCMD=overwrite cargo test --test it cli::` (then review the diff).

#[test]
fn help_text_of_every_command() {
    trycmd::TestCases::new().case("tests/cmd/help/*.toml");
}

#[test]
fn bad_policies_report_exact_diagnostics() {
    trycmd::TestCases::new().case("tests/cmd/bad/*.toml");
}

/// The judge cases (`tests/cmd/bad/judge-*.yaml`): every disagreement issue 8 found between
/// `check` and the commands that act on a policy, plus the injection vectors.
fn judge_cases() -> Vec<std::path::PathBuf> {
    let dir = super::render_gw::support::repo().join("tests/cmd/bad");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && p.file_name().unwrap().to_string_lossy().starts_with("judge-"))
        .collect();
    v.sort();
    v
}

/// The error codes `check --format json` reports for a policy.
fn check_error_codes(policy: &std::path::Path) -> (Option<i32>, Vec<String>) {
    let o = super::render_gw::support::secctl().args(["check", "--format", "json", "-p"]).arg(policy).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("check --format json: {e}: {}", String::from_utf8_lossy(&o.stdout)));
    let codes = doc["diagnostics"].as_array().unwrap().iter().filter(|d| d["severity"] == "error").map(|d| d["code"].as_str().unwrap().to_string()).collect();
    (o.status.code(), codes)
}

/// Runs one command in `dir` (with the admin variables set) and returns (exit code, stderr).
fn run(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let o = super::render_gw::support::secctl()
        .current_dir(dir)
        .args(args)
        .env("KC_ADMIN_USER", "admin")
        .env("KC_ADMIN_PASSWORD", "admin-password")
        .output()
        .unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// One verdict: each judge case is refused by `check` (exit 1, with its codes) and by
/// `render`, `certs issue` and `keycloak plan` (exit 2, with the same codes), and the refused
/// commands write nothing (no output tree, no PKI, no lock, no Redis secret) and make no
/// network call (identity.url points at a listener that must see no connection).
#[test]
fn every_command_gives_the_judge_cases_the_same_verdict() {
    let cases = judge_cases();
    assert!(cases.len() >= 20, "judge cases missing: {cases:?}");
    for case in cases {
        let name = case.file_stem().unwrap().to_string_lossy().into_owned();
        let tmp = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let text = std::fs::read_to_string(&case).unwrap().replace("http://127.0.0.1:9", &format!("http://127.0.0.1:{port}"));
        assert!(text.contains(&format!(":{port}")), "{name}: no identity.url to point at the listener");
        std::fs::write(tmp.path().join("policy.yaml"), &text).unwrap();
        let (status, codes) = check_error_codes(&tmp.path().join("policy.yaml"));
        assert_eq!(status, Some(1), "{name}: check must report findings");
        assert!(!codes.is_empty(), "{name}: check found no error");
        let commands: [&[&str]; 4] = [&["render", "-p", "policy.yaml", "--out", "out"], &["certs", "issue", "-p", "policy.yaml"], &["keycloak", "plan", "-p", "policy.yaml"], &["keycloak", "apply", "-p", "policy.yaml"]];
        for args in commands {
            let (status, err) = run(tmp.path(), args);
            assert_eq!(status, Some(2), "{name}: `{}` must refuse with exit 2:\n{err}", args.join(" "));
            for c in &codes {
                assert!(err.contains(&format!("error[{c}]")), "{name}: `{}` does not report [{c}] like check:\n{err}", args.join(" "));
            }
        }
        assert_eq!(entries(tmp.path()), ["policy.yaml"], "{name}: a refused command wrote something");
        match listener.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("{name}: keycloak contacted identity.url although the policy was refused: {other:?}"),
        }
    }
}

/// The control for the test above: the base every judge case mutates is accepted by all four
/// commands (keycloak plan gets as far as the network, where nothing answers: exit 3).
#[test]
fn the_judge_base_policy_is_accepted_by_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(super::render_gw::support::repo().join("tests/cmd/judge-base.yaml")).unwrap();
    std::fs::write(tmp.path().join("policy.yaml"), &base).unwrap();
    let (status, codes) = check_error_codes(&tmp.path().join("policy.yaml"));
    assert_eq!((status, codes), (Some(0), vec![]));
    for args in [&["render", "-p", "policy.yaml", "--out", "out"][..], &["certs", "issue", "-p", "policy.yaml"]] {
        let (status, err) = run(tmp.path(), args);
        assert_eq!(status, Some(0), "`{}`:\n{err}", args.join(" "));
    }
    assert!(tmp.path().join("out/nginx/nginx.conf").is_file() && tmp.path().join("pki/ca").is_dir());
    let (status, err) = run(tmp.path(), &["keycloak", "plan", "-p", "policy.yaml"]);
    assert_eq!(status, Some(3), "keycloak plan should pass the judge and fail on the network:\n{err}");
    assert!(err.contains("127.0.0.1:9"), "{err}");
}

/// `ips`-only name constraints mean the same in check and certs issue: IP SANs inside the
/// range are issued, and (above, judge-ips-only-constraints) DNS SANs are refused by both.
#[test]
fn ip_only_name_constraints_issue_ip_only_services() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(super::render_gw::support::repo().join("tests/cmd/judge-base.yaml")).unwrap();
    let text = base
        .replace("name_constraints: { dns: [svc.internal] }", "name_constraints: { ips: [127.0.0.0/8] }")
        .replace("dns_names: [gateway.svc.internal]", "ips: [127.0.0.1]")
        .replace("dns_names: [api.svc.internal]", "ips: [127.0.0.2]");
    std::fs::write(tmp.path().join("policy.yaml"), &text).unwrap();
    assert_eq!(check_error_codes(&tmp.path().join("policy.yaml")), (Some(0), vec![]));
    let (status, err) = run(tmp.path(), &["certs", "issue", "-p", "policy.yaml"]);
    assert_eq!(status, Some(0), "{err}");
    let text = text.replace("ips: [127.0.0.2]", "ips: [10.0.0.2]");
    std::fs::write(tmp.path().join("policy.yaml"), &text).unwrap();
    assert_eq!(check_error_codes(&tmp.path().join("policy.yaml")), (Some(1), vec!["name-outside-constraints".to_string()]));
    let (status, err) = run(tmp.path(), &["certs", "issue", "-p", "policy.yaml"]);
    assert_eq!(status, Some(2), "{err}");
    assert!(err.contains("error[name-outside-constraints]") && err.contains("10.0.0.2"), "{err}");
}

/// A route `path: /` replaces the gateway's 404 fallback instead of duplicating
/// `location /`: check accepts it, render renders it, and the real nginx loads it.
#[test]
fn root_route_renders_a_config_nginx_loads() {
    use super::render_gw::support::{require, Stack};
    let s = Stack::rendered_with(|t| t.replace("routes:\n", "routes:\n  - { path: /, upstream: backend, auth: none }\n"));
    let conf = std::fs::read_to_string(s.out.join("nginx/nginx.conf")).unwrap();
    assert!(!conf.contains("# Anything else: not routed."), "the public 404 fallback must give way to the root route:\n{conf}");
    assert!(conf.contains("location / {\n") && conf.contains("proxy_pass"), "{conf}");
    let o = std::process::Command::new(require("nginx"))
        .arg("-t")
        .arg("-p")
        .arg(&s.state)
        .arg("-e")
        .arg(s.state.join("nginx-error.log"))
        .arg("-c")
        .arg(s.out.join("nginx/nginx.conf"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.contains("test is successful"), "nginx -t failed:\n{err}");
}

/// `[::1]` is a typed host: check accepts it and render brackets it exactly once.
#[test]
fn ipv6_listen_is_bracketed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(super::render_gw::support::repo().join("tests/cmd/judge-base.yaml")).unwrap();
    let text = base.replace("listen: { host: 127.0.0.1, port: 28443 }", "listen: { host: \"[::1]\", port: 28443 }").replace("listen: { host: 127.0.0.1, port: 28000 }", "listen: { host: \"::1\", port: 28000 }");
    assert_ne!(text, base);
    std::fs::write(tmp.path().join("policy.yaml"), &text).unwrap();
    assert_eq!(check_error_codes(&tmp.path().join("policy.yaml")), (Some(0), vec![]));
    let (status, err) = run(tmp.path(), &["render", "-p", "policy.yaml", "--out", "out"]);
    assert_eq!(status, Some(0), "{err}");
    let conf = std::fs::read_to_string(tmp.path().join("out/nginx/nginx.conf")).unwrap();
    // Quoted or bare, the address is bracketed exactly once.
    assert!(conf.contains("listen \"[::1]:28443\" ssl") || conf.contains("listen [::1]:28443 ssl"), "{conf}");
    assert!(conf.contains("[::1]:28000"), "{conf}");
    assert!(!conf.contains("[["), "{conf}");
}
