//! Running `secctl verify` on the gateway harness.

use std::collections::BTreeSet;
use std::process::Output;

use crate::render_gw::support::{secctl, Pki, Stack};

/// Controls the gateway harness cannot satisfy because it starts no Redis, Loki or Keycloak
/// (tests/it/verify/redis.rs runs the redis.* controls on a real redis-server).
pub const NOT_IN_HARNESS: &[&str] = &["redis", "mtls.upstream[loki]", "keycloak.drift"];

/// Render defects `verify` found in the current gateway render (see `live::render_defects_*`):
/// skipped in the clean runs, proven against curl instead.
pub const RENDER_DEFECTS: &[&str] = &["headers.redirect", "rate-limit.tokenless"];

/// Debian's CRS 3.3.4 has no Log4Shell rule (944150): `waf.attack` found that a lookup in a
/// header passes. The clean stack therefore adds the rule a user would add to the policy.
pub fn with_log4shell_rule(text: String) -> String {
    let rule = "    - id: 20002\n      description: Log4Shell lookups in headers (Debian's CRS 3.3.4 has no rule 944150)\n      rule: 'SecRule REQUEST_HEADERS \"@contains ${jndi:\" \"id:20002,phase:1,deny,status:403,log,msg:''Log4Shell lookup in a header''\"'\n";
    let at = text.find("  audit_log: ").expect("local-stack.yaml has waf.audit_log");
    format!("{}{rule}{}", &text[..at], &text[at..])
}

/// The clean harness stack, running.
pub fn clean_stack() -> Stack {
    let mut s = Stack::with_pki(Pki::Secctl, with_log4shell_rule);
    s.start();
    s
}

/// `--skip` arguments for what the harness cannot run.
pub fn skips(extra: &[&str]) -> Vec<String> {
    NOT_IN_HARNESS.iter().chain(RENDER_DEFECTS).chain(extra).flat_map(|id| ["--skip".to_string(), id.to_string()]).collect()
}

/// Runs `secctl verify --format json` on the stack's policy; returns (exit code, document, raw output).
pub fn verify(s: &Stack, extra: &[String]) -> (i32, serde_json::Value, Output) {
    let o = secctl().arg("verify").arg("-p").arg(&s.policy).arg("--pki-dir").arg(&s.pki).args(["--format", "json"]).args(extra).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("verify printed no JSON ({e}):\n{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)));
    (o.status.code().unwrap_or(-1), doc, o)
}

/// Ids of the controls with this status.
pub fn with_status(doc: &serde_json::Value, status: &str) -> BTreeSet<String> {
    doc["controls"].as_array().unwrap().iter().filter(|c| c["status"] == status).map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

/// The failing controls with their evidence, for assertion messages.
pub fn explain(doc: &serde_json::Value) -> String {
    doc["controls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| format!("{} {}: {} {}", c["status"], c["id"], c["detail"], c["evidence"]))
        .collect::<Vec<_>>()
        .join("\n")
}
