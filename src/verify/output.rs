//! The report in four shapes: text for people (grouped by control family), one JSON document,
//! JUnit XML (one testcase per control) and SARIF 2.1.0 (each failure at the policy line that
//! declares the control).

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::catalog;
use super::result::{ControlResult, Report, Status};

/// Text for people: results grouped by family, evidence under each failure, the summary last.
pub fn human(r: &Report) -> String {
    let mut out = String::new();
    let mut fams: Vec<&'static str> = Vec::new();
    for c in &r.results {
        if !fams.contains(&c.family) {
            fams.push(c.family);
        }
    }
    for f in fams {
        let _ = writeln!(out, "{f}");
        for c in r.results.iter().filter(|c| c.family == f) {
            let mark = match c.status {
                Status::Pass => "pass",
                Status::Fail => "FAIL",
                Status::NotEvaluated => "N/E ",
            };
            let _ = writeln!(out, "  {mark}  {}  ({}:{}, {})", c.id, c.location.file, c.location.line, c.location.path);
            match c.status {
                Status::Pass => {}
                Status::NotEvaluated => {
                    let _ = writeln!(out, "        not evaluated: {}", c.detail);
                }
                Status::Fail => {
                    for e in &c.evidence {
                        let _ = writeln!(out, "        sent:     {}", e.sent);
                        let _ = writeln!(out, "        received: {}", e.received);
                        let _ = writeln!(out, "        expected: {}", e.expected);
                    }
                    if let Some(fam) = catalog::family(c.family) {
                        let _ = writeln!(out, "        fix:      {}", fam.fix);
                    }
                }
            }
        }
    }
    let _ = writeln!(out, "{}", r.summary_line());
    out
}

/// The JSON document.
pub fn json(r: &Report) -> Value {
    json!({
        "policy": r.policy,
        "summary": { "passed": r.counts.passed, "failed": r.counts.failed, "not_evaluated": r.counts.not_evaluated },
        "exit_code": r.outcome() as u8,
        "wall_ms": r.wall_ms,
        "connections": r.connections,
        "controls": r.results,
    })
}

fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // Characters XML 1.0 cannot carry (control bytes from a hostile server) are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

fn evidence_text(c: &ControlResult) -> String {
    let mut t = String::new();
    for e in &c.evidence {
        let _ = writeln!(t, "sent: {}\nreceived: {}\nexpected: {}\n", e.sent, e.received, e.expected);
    }
    let _ = write!(t, "policy: {}:{} ({})", c.location.file, c.location.line, c.location.path);
    t
}

/// JUnit XML: one testsuite, one testcase per control. A fail is `<failure>`, not evaluated is
/// `<error>` (CI dashboards count them apart). Valid against Jenkins' junit-10.xsd.
pub fn junit(r: &Report) -> String {
    let secs = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let (t, f, e) = (r.results.len(), r.counts.failed, r.counts.not_evaluated);
    let _ = writeln!(o, "<testsuites name=\"secctl verify\" tests=\"{t}\" failures=\"{f}\" errors=\"{e}\" time=\"{}\">", secs(r.wall_ms));
    let _ = writeln!(o, "  <testsuite name=\"{}\" tests=\"{t}\" failures=\"{f}\" errors=\"{e}\" skipped=\"0\" time=\"{}\">", xml(&r.policy), secs(r.wall_ms));
    for c in &r.results {
        let _ = write!(o, "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"", xml(c.family), xml(&c.id), secs(c.millis));
        match c.status {
            Status::Pass => {
                let _ = writeln!(o, "/>");
            }
            Status::Fail => {
                let first = c.evidence.first().map(|e| format!("expected {}; received {}", e.expected, e.received)).unwrap_or_default();
                let _ = writeln!(o, ">\n      <failure type=\"control-failed\" message=\"{}\">{}</failure>\n    </testcase>", xml(&first), xml(&evidence_text(c)));
            }
            Status::NotEvaluated => {
                let _ = writeln!(
                    o,
                    ">\n      <error type=\"not-evaluated\" message=\"{}\">{}</error>\n    </testcase>",
                    xml(&c.detail),
                    xml(&format!("probe did not decide; the control state is unknown\npolicy: {}:{} ({})", c.location.file, c.location.line, c.location.path))
                );
            }
        }
    }
    o.push_str("  </testsuite>\n</testsuites>\n");
    o
}

/// A stable 64-bit FNV-1a hash, for SARIF fingerprints that survive edits of the policy.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// The SARIF `uri` of the policy: relative paths stay relative (to the repository root, where
/// CI runs), absolute ones become `file://` URIs.
fn uri(path: &str) -> String {
    if path.starts_with('/') { format!("file://{path}") } else { path.trim_start_matches("./").to_string() }
}

/// SARIF 2.1.0 for code scanning: one result per failed control, located at the policy line
/// that declares it; controls that could not be evaluated become tool notifications and
/// mark the invocation unsuccessful.
pub fn sarif(r: &Report) -> Value {
    let mut rule_ids: Vec<&'static str> = Vec::new();
    for c in &r.results {
        if c.status == Status::Fail && !rule_ids.contains(&c.family) {
            rule_ids.push(c.family);
        }
    }
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let f = catalog::family(id);
            let prop = f.map(|f| f.property).unwrap_or("A control of the secctl policy.");
            let fix = f.map(|f| f.fix).unwrap_or("See docs/verify.md.");
            json!({
                "id": id,
                "name": id.replace(['.', '-'], "_"),
                "shortDescription": { "text": prop },
                "fullDescription": { "text": prop },
                "help": { "text": fix, "markdown": fix },
                "helpUri": format!("https://example.invalid/secctl/docs/verify.md#{}", id.replace('.', "")),
                "defaultConfiguration": { "level": "error" },
                "properties": { "tags": ["security"], "precision": "very-high", "security-severity": "7.0" }
            })
        })
        .collect();
    let loc = |c: &ControlResult| {
        json!([{ "physicalLocation": {
            "artifactLocation": { "uri": uri(&c.location.file) },
            "region": { "startLine": c.location.line, "startColumn": c.location.column }
        }}])
    };
    let results: Vec<Value> = r
        .results
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| {
            let idx = rule_ids.iter().position(|i| *i == c.family).unwrap_or(0);
            let first = c.evidence.first();
            let text = match first {
                Some(e) => format!("{} fails: sent {}; received {}; the policy expects {}.", c.id, e.sent, e.received, e.expected),
                None => format!("{} fails.", c.id),
            };
            json!({
                "ruleId": c.family,
                "ruleIndex": idx,
                "level": "error",
                "message": { "text": text },
                "locations": loc(c),
                "partialFingerprints": { "primaryLocationLineHash": format!("{:016x}:1", fnv(&c.id)) },
                "properties": { "control": c.id, "yamlPath": c.location.path, "evidence": c.evidence }
            })
        })
        .collect();
    let notes: Vec<Value> = r
        .results
        .iter()
        .filter(|c| c.status == Status::NotEvaluated)
        .map(|c| {
            json!({
                "level": "error",
                "message": { "text": format!("{} was not evaluated: {}", c.id, c.detail) },
                "locations": loc(c),
                "descriptor": { "id": c.family }
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "secctl",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/secctl",
                "rules": rules
            }},
            "automationDetails": { "id": "secctl-verify/" },
            "invocations": [{
                "executionSuccessful": r.counts.not_evaluated == 0,
                "toolExecutionNotifications": notes
            }],
            "results": results
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::result::{Evidence, Location};

    fn report() -> Report {
        let c = |id: &str, fam: &'static str, st: Status| ControlResult {
            id: id.into(),
            family: fam,
            status: st,
            location: Location { file: "policies/p.yaml".into(), line: 42, column: 3, path: "edge.hsts".into() },
            detail: "x <&> \u{1}".into(),
            evidence: if st == Status::Fail { vec![Evidence { sent: "GET /".into(), received: "max-age=1 <b>".into(), expected: "max-age=2".into() }] } else { vec![] },
            connections: 1,
            millis: 12,
        };
        Report::new(
            "policies/p.yaml".into(),
            vec![c("headers.hsts", "headers.hsts", Status::Fail), c("tls.protocols", "tls.protocols", Status::Pass), c("keycloak.drift", "keycloak.drift", Status::NotEvaluated)],
            40,
        )
    }

    #[test]
    fn human_groups_and_ends_with_summary() {
        let h = human(&report());
        assert!(h.trim_end().ends_with("1 passed, 1 failed, 1 not evaluated"), "{h}");
        assert!(h.contains("FAIL  headers.hsts  (policies/p.yaml:42, edge.hsts)") && h.contains("expected: max-age=2"), "{h}");
    }

    #[test]
    fn junit_escapes_and_classifies() {
        let j = junit(&report());
        assert!(j.contains("<failure type=\"control-failed\"") && j.contains("<error type=\"not-evaluated\""), "{j}");
        assert!(j.contains("max-age=1 &lt;b&gt;") && !j.contains('\u{1}'), "{j}");
    }

    #[test]
    fn sarif_points_at_the_policy_line() {
        let s = sarif(&report());
        let res = &s["runs"][0]["results"];
        assert_eq!(res.as_array().unwrap().len(), 1, "only failures are results");
        assert_eq!(res[0]["locations"][0]["physicalLocation"]["region"]["startLine"], 42);
        assert_eq!(res[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "policies/p.yaml");
        assert_eq!(s["runs"][0]["invocations"][0]["executionSuccessful"], false);
        assert_eq!(s["runs"][0]["tool"]["driver"]["rules"][0]["id"], "headers.hsts");
    }
}
