//! A probe is one control: a stable id, the policy line that declares it, and a function
//! that talks to the running stack. The runner executes probes in parallel on a bounded
//! pool of threads, then the `late` ones (rate limits) one by one, so their 429s and
//! exhausted budgets cannot spoil other probes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::env::Env;
use super::net::Counter;
use super::result::{ControlResult, Evidence, Location, Status};

/// What a probe function returns: `Ok(what was proven)` (a pass unless it recorded failures),
/// or `Err(why it could not evaluate)`.
pub type Outcome = Result<String, String>;

/// The body of a probe.
pub type ProbeFn = Box<dyn Fn(&mut Cx<'_>) -> Outcome + Send + Sync>;

/// One control to evaluate.
pub struct Probe {
    /// Stable id, `family` or `family[subject]`.
    pub id: String,
    /// The documented family.
    pub family: &'static str,
    /// The declaring policy line.
    pub at: Location,
    /// Runs after every other probe, alone (rate limits).
    pub late: bool,
    /// The probe.
    pub run: ProbeFn,
}

impl Probe {
    /// A probe in the parallel phase.
    pub fn new(family: &'static str, subject: Option<&str>, at: Location, run: impl Fn(&mut Cx<'_>) -> Outcome + Send + Sync + 'static) -> Probe {
        let id = match subject {
            Some(s) => format!("{family}[{s}]"),
            None => family.to_string(),
        };
        Probe { id, family, at, late: false, run: Box::new(run) }
    }

    /// Marks the probe as late (runs last, alone).
    pub fn late(mut self) -> Probe {
        self.late = true;
        self
    }
}

/// What a probe works with: the shared environment, its connection counter and its findings.
pub struct Cx<'a> {
    /// The run's shared context.
    pub env: &'a Env,
    /// Connections this probe opened.
    pub n: Counter,
    findings: Vec<Evidence>,
}

impl<'a> Cx<'a> {
    /// A context for one probe.
    pub fn new(env: &'a Env) -> Cx<'a> {
        Cx { env, n: Counter::default(), findings: Vec::new() }
    }

    /// Records a failure.
    pub fn fail(&mut self, sent: impl Into<String>, received: impl Into<String>, expected: impl Into<String>) {
        self.findings.push(Evidence { sent: sent.into(), received: received.into(), expected: expected.into() });
    }

    /// Records a failure unless `ok`.
    pub fn expect(&mut self, ok: bool, sent: impl FnOnce() -> String, received: impl FnOnce() -> String, expected: impl Into<String>) {
        if !ok {
            self.fail(sent(), received(), expected);
        }
    }

    /// Whether anything failed so far.
    pub fn failed(&self) -> bool {
        !self.findings.is_empty()
    }
}

/// Runs one probe and turns its outcome into a result.
pub fn evaluate(env: &Env, p: &Probe) -> ControlResult {
    let start = Instant::now();
    let mut cx = Cx::new(env);
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (p.run)(&mut cx))).unwrap_or_else(|_| Err("the probe crashed (a bug in secctl: please report it)".into()));
    let (status, detail) = match out {
        Err(why) => (Status::NotEvaluated, why),
        Ok(_) if !cx.findings.is_empty() => (Status::Fail, format!("{} observation(s) contradict the policy", cx.findings.len())),
        Ok(proven) => (Status::Pass, proven),
    };
    // A probe that could not finish keeps the failures it saw: they are real.
    let status = if status == Status::NotEvaluated && !cx.findings.is_empty() { Status::Fail } else { status };
    ControlResult {
        id: p.id.clone(),
        family: p.family,
        status,
        location: p.at.clone(),
        detail,
        evidence: cx.findings,
        connections: cx.n.get(),
        millis: start.elapsed().as_millis() as u64,
    }
}

/// Runs every probe: the parallel ones on `threads` workers, then the late ones in order.
/// `tick` is called after each probe (progress). Results keep the probes' order.
pub fn run_all(env: &Env, probes: &[Probe], threads: usize, tick: &(dyn Fn(&ControlResult) + Sync)) -> Vec<ControlResult> {
    let early: Vec<&Probe> = probes.iter().filter(|p| !p.late).collect();
    let late: Vec<&Probe> = probes.iter().filter(|p| p.late).collect();
    let slots: Vec<Mutex<Option<ControlResult>>> = early.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, 32).min(early.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(p) = early.get(i) else { break };
                    let r = evaluate(env, p);
                    tick(&r);
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                }
            });
        }
    });
    let mut out: Vec<ControlResult> = slots.into_iter().filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner())).collect();
    for p in late {
        let r = evaluate(env, p);
        tick(&r);
        out.push(r);
    }
    out
}

/// Whether `id` matches a `--only`/`--skip` pattern: `*` matches any run of characters; a pattern
/// without `*` matches the id itself, or a family prefix (`tls` matches `tls.protocols`,
/// `waf.attack` matches `waf.attack[/api/]`).
pub fn matches(pattern: &str, id: &str) -> bool {
    if !pattern.contains('*') {
        return id == pattern || id.strip_prefix(pattern).is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['));
    }
    glob(pattern.as_bytes(), id.as_bytes())
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|i| glob(&p[1..], &s[i..])),
        Some(c) => s.first() == Some(c) && glob(&p[1..], &s[1..]),
    }
}

/// Keeps the probes `--only` selects (all when empty) and `--skip` does not.
pub fn select(probes: Vec<Probe>, only: &[String], skip: &[String]) -> Vec<Probe> {
    probes
        .into_iter()
        .filter(|p| only.is_empty() || only.iter().any(|o| matches(o, &p.id)))
        .filter(|p| !skip.iter().any(|o| matches(o, &p.id)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches("tls", "tls.protocols"));
        assert!(matches("tls.protocols", "tls.protocols"));
        assert!(!matches("tls.proto", "tls.protocols"));
        assert!(matches("waf.attack", "waf.attack[/api/]"));
        assert!(matches("waf.*[/ai/]", "waf.attack[/ai/]"));
        assert!(!matches("waf.*[/ai/]", "waf.attack[/api/]"));
        assert!(matches("*", "x"));
        assert!(matches("rate-limit*", "rate-limit.per-ip[/ai/]"));
        assert!(!matches("waf", "wafx.a"));
    }
}
