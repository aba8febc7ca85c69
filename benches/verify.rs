//! `cargo bench --bench verify`: wall time of `secctl verify` (every control the gateway
//! harness can run) against a real loopback stack (nginx + ModSecurity/CRS + mTLS upstream
//! stubs), and the connections each control opens. Target: <= 3 s for all controls, tens of
//! connections for TLS. Prints figures; asserts nothing but that the runs worked.

#[allow(dead_code)]
#[path = "../tests/it/render_gw/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use support::{secctl, Pki, Stack};

/// What the harness does not start (Redis, Loki, Keycloak) and the render defects verify
/// reports on the current render (see tests/it/verify/live.rs).
const SKIP: &[&str] = &["redis", "mtls.upstream[loki]", "keycloak.drift", "headers.redirect", "rate-limit.tokenless"];

fn run(s: &Stack, extra: &[&str]) -> (f64, serde_json::Value) {
    let t = Instant::now();
    let o = secctl()
        .arg("verify")
        .arg("-p")
        .arg(&s.policy)
        .arg("--pki-dir")
        .arg(&s.pki)
        .args(["--format", "json"])
        .args(SKIP.iter().flat_map(|id| ["--skip", id]))
        .args(extra)
        .output()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("verify printed JSON");
    assert_eq!(o.status.code(), Some(0), "the clean stack must pass: {doc}");
    (secs, doc)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let mut s = Stack::with_pki(Pki::Secctl, |t| {
        let rule = "    - id: 20002\n      description: Log4Shell lookups in headers\n      rule: 'SecRule REQUEST_HEADERS \"@contains ${jndi:\" \"id:20002,phase:1,deny,status:403,log,msg:''Log4Shell''\"'\n";
        let at = t.find("  audit_log: ").unwrap();
        format!("{}{rule}{}", &t[..at], &t[at..])
    });
    s.start();
    let n = 7;
    let mut all = Vec::new();
    let mut last = serde_json::Value::Null;
    for _ in 0..n {
        // Let the rate-limit budgets of the previous run refill, as between two CI jobs.
        std::thread::sleep(std::time::Duration::from_secs(3));
        let (secs, doc) = run(&s, &[]);
        all.push(secs);
        last = doc;
    }
    let mut early = Vec::new();
    for _ in 0..n {
        std::thread::sleep(std::time::Duration::from_secs(3));
        early.push(run(&s, &["--skip", "rate-limit", "--skip", "headers.on-429"]).0);
    }
    // Back to back: the previous run emptied the small /ai/ budget (2r/s, burst 5), so probes
    // that meet a 429 they did not ask for wait for it to refill (up to 4 s) instead of failing.
    let mut b2b = Vec::new();
    for _ in 0..3 {
        b2b.push(run(&s, &[]).0);
    }
    let controls = last["controls"].as_array().unwrap();
    println!("secctl verify against the gateway harness (2 cores shared with other jobs; {n} runs each)");
    println!("  all {} controls:                      median {:.2} s wall (min {:.2}, max {:.2})", controls.len(), median(all.clone()), all.iter().cloned().fold(f64::MAX, f64::min), all.iter().cloned().fold(0.0, f64::max));
    println!("  without the late rate-limit probes:  median {:.2} s wall", median(early));
    println!("  all controls, runs back to back:     median {:.2} s wall (rate-limit budgets not refilled: probes wait for them)", median(b2b));
    println!("  connections in one run: {}", last["connections"]);
    let mut fam: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for c in controls {
        let e = fam.entry(c["family"].as_str().unwrap().to_string()).or_default();
        e.0 += 1;
        e.1 += c["connections"].as_u64().unwrap();
        e.2 = e.2.max(c["millis"].as_u64().unwrap());
    }
    println!("  {:<24} {:>8} {:>12} {:>16}", "family", "controls", "connections", "slowest (ms)");
    for (f, (k, conns, ms)) in fam {
        println!("  {f:<24} {k:>8} {conns:>12} {ms:>16}");
    }
}
