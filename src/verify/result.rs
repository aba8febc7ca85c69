//! What a verify run concludes: one [`ControlResult`] per control, three states, and the
//! exit code they add up to.

use serde::Serialize;

use crate::exit::Outcome;

/// The verdict on one control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The running stack enforces the control.
    Pass,
    /// The running stack does not enforce it (evidence says how).
    Fail,
    /// The probe could not decide (unreachable, timed out, missing credential). Never a pass.
    NotEvaluated,
}

impl Status {
    /// `pass`, `fail` or `not evaluated`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::NotEvaluated => "not evaluated",
        }
    }
}

/// One observation that contradicts the policy: what was sent, what came back, what the policy expected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The request or handshake sent.
    pub sent: String,
    /// What came back.
    pub received: String,
    /// What the policy expected.
    pub expected: String,
}

/// Where the policy declares a control.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The policy file, as given on the command line.
    pub file: String,
    /// 1-based line (1 when the policy does not spell the value out and a default applies).
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// YAML path of the declaring value, e.g. `edge.tls_profile` or `routes[2].rate_limit`.
    pub path: String,
}

/// The verdict on one control, with its evidence and cost.
#[derive(Clone, Debug, Serialize)]
pub struct ControlResult {
    /// Stable control id, e.g. `waf.attack[/api/]`.
    pub id: String,
    /// The control family (the id without its `[...]` subject), documented in docs/verify.md.
    pub family: &'static str,
    /// The verdict.
    pub status: Status,
    /// The policy line that declares the control.
    pub location: Location,
    /// What was proven (pass), or why it could not be evaluated.
    pub detail: String,
    /// Failures: one entry per contradicting observation.
    pub evidence: Vec<Evidence>,
    /// TCP connections the probe opened.
    pub connections: u32,
    /// Wall time of the probe in milliseconds.
    pub millis: u64,
}

/// Counts per state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Passed controls.
    pub passed: usize,
    /// Failed controls.
    pub failed: usize,
    /// Controls that could not be evaluated.
    pub not_evaluated: usize,
}

/// A whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The policy file.
    pub policy: String,
    /// Every control, in run order.
    pub results: Vec<ControlResult>,
    /// Totals.
    pub counts: Counts,
    /// Wall time of the run in milliseconds.
    pub wall_ms: u64,
    /// Connections opened by all probes.
    pub connections: u32,
}

impl Report {
    /// Builds a report and its totals.
    pub fn new(policy: String, results: Vec<ControlResult>, wall_ms: u64) -> Report {
        let mut counts = Counts::default();
        for r in &results {
            match r.status {
                Status::Pass => counts.passed += 1,
                Status::Fail => counts.failed += 1,
                Status::NotEvaluated => counts.not_evaluated += 1,
            }
        }
        let connections = results.iter().map(|r| r.connections).sum();
        Report { policy, results, counts, wall_ms, connections }
    }

    /// Exit code: 1 when anything failed, else 3 when anything was not evaluated, else 0.
    /// (2, bad input, is decided before any probe runs.) A run that selected no control is 3:
    /// nothing was proven.
    pub fn outcome(&self) -> Outcome {
        if self.counts.failed > 0 {
            Outcome::Findings
        } else if self.counts.not_evaluated > 0 || self.results.is_empty() {
            Outcome::CouldNotEvaluate
        } else {
            Outcome::Ok
        }
    }

    /// `N passed, N failed, N not evaluated`.
    pub fn summary_line(&self) -> String {
        format!("{} passed, {} failed, {} not evaluated", self.counts.passed, self.counts.failed, self.counts.not_evaluated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(status: Status) -> ControlResult {
        ControlResult {
            id: "x".into(),
            family: "x",
            status,
            location: Location { file: "p.yaml".into(), line: 1, column: 1, path: "edge".into() },
            detail: String::new(),
            evidence: vec![],
            connections: 2,
            millis: 1,
        }
    }

    #[test]
    fn exit_code_precedence_fail_over_not_evaluated() {
        let rep = |v: Vec<Status>| Report::new("p".into(), v.into_iter().map(r).collect(), 0);
        assert_eq!(rep(vec![Status::Pass, Status::Pass]).outcome(), Outcome::Ok);
        assert_eq!(rep(vec![Status::Pass, Status::NotEvaluated]).outcome(), Outcome::CouldNotEvaluate);
        assert_eq!(rep(vec![Status::NotEvaluated, Status::Fail, Status::Pass]).outcome(), Outcome::Findings);
        assert_eq!(rep(vec![]).outcome(), Outcome::CouldNotEvaluate, "nothing ran is never a pass");
        let x = rep(vec![Status::Pass, Status::Fail, Status::NotEvaluated, Status::NotEvaluated]);
        assert_eq!(x.summary_line(), "1 passed, 1 failed, 2 not evaluated");
        assert_eq!(x.connections, 8);
    }
}
