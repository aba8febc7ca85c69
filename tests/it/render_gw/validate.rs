//! The rendered configs pass the real tools' own checks.

use std::process::Command;

use super::support::{require, Stack};

/// `nginx -t` loads the rendered nginx.conf with the ModSecurity module and every CRS rule.
#[test]
fn nginx_t_accepts_rendered_config_with_modsecurity_and_crs() {
    let s = Stack::rendered();
    let ng = &s.state;
    let o = Command::new(require("nginx"))
        .arg("-t")
        .arg("-p")
        .arg(ng)
        .arg("-e")
        .arg(ng.join("nginx-error.log"))
        .arg("-c")
        .arg(s.out.join("nginx/nginx.conf"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "nginx -t failed:\n{err}");
    assert!(err.contains("test is successful"), "{err}");
    // The module really loaded the CRS (927 rules on Debian's 3.3.4), not an empty rule set.
    let log = s.error_log();
    assert!(log.contains("rules loaded inline/local/remote: 0/") && !log.contains("local/remote: 0/0/0"), "ModSecurity did not load rules:\n{log}");
    assert!(!err.contains("[warn]"), "nginx -t warned (duplicate or overridden directive?):\n{err}");
}

/// `modsec-rules-check` (libmodsecurity's own parser) accepts the rendered rule set.
#[test]
fn modsec_rules_check_accepts_rendered_rules() {
    let s = Stack::rendered();
    let tool = require("/usr/lib/x86_64-linux-gnu/libexec/modsec-rules-check");
    let o = Command::new(tool).arg(s.out.join("modsecurity/main.conf")).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && out.contains("Test ok"), "modsec-rules-check failed:\n{out}");
    let loaded: u32 = out.split("Loaded ").nth(1).and_then(|r| r.split_whitespace().next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(loaded > 900, "only {loaded} rules loaded: the CRS include list is incomplete\n{out}");
}

/// A broken custom rule is caught by the same tool, so the check above is meaningful.
#[test]
fn modsec_rules_check_rejects_a_bad_custom_rule() {
    let s = Stack::rendered_with(|t| t.replace("deny,status:403,log,msg", "nosuchaction,deny,status:403,log,msg"));
    let tool = require("/usr/lib/x86_64-linux-gnu/libexec/modsec-rules-check");
    let o = Command::new(tool).arg(s.out.join("modsecurity/main.conf")).output().unwrap();
    assert!(!o.status.success(), "modsec-rules-check accepted an unknown action");
}
