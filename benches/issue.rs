//! Issuance cost: a generated policy with 1000 services (each `mtls: both`, so
//! 2000 leaf certificates), issued in one run with every file written (cert,
//! full chain, key, 0600 + fsync + rename), plus the idempotent re-run, a forced
//! re-issue and a full `verify`. Prints figures; asserts nothing about time.
//!
//! Run: `cargo bench --bench issue` (release). Target: ≤ 0.5 ms per cert.

use std::fmt::Write as _;
use std::time::Instant;

use secctl::ca::{issue, settings, verify};

fn policy(n: usize) -> String {
    let mut y = String::from("version: 1\nproject: { name: bench, environment: dev }\nservices:\n");
    for i in 0..n {
        let _ = writeln!(y, "  svc{i:04}:\n    kind: fastapi\n    dns_names: [svc{i:04}.bench.internal]\n    ips: [10.{}.{}.{}]", i / 65536 % 256, i / 256 % 256, i % 256);
    }
    y.push_str("ca:\n  trust_domain: bench.internal\n  leaf_validity_days: 30\n  name_constraints:\n    dns: [bench.internal]\n    ips: [10.0.0.0/8]\n");
    y
}

/// User + system CPU time of this process, in ms (wall time on a shared machine includes other jobs).
fn cpu_ms() -> f64 {
    // SAFETY: getrusage fills the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn main() {
    let services: usize = std::env::var("SECCTL_BENCH_SERVICES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secctl.yaml");
    std::fs::write(&path, policy(services)).expect("write policy");
    let loaded = secctl::policy::load(&path).expect("policy loads");
    let valid = secctl::policy::check::validate(loaded).unwrap_or_else(|r| panic!("{:?}", r.diagnostics));
    let s = settings::from_policy(&valid, None).expect("the policy has a `ca` section");
    let certs = s.leaves.len();
    let hidden = indicatif::ProgressBar::hidden();
    println!("secctl issue benchmark: {services} services, {certs} leaf certificates, key {:?}, PKI dir on {}", s.algorithm, dir.path().display());

    let t = Instant::now();
    let c0 = cpu_ms();
    let r = issue::run(&s, &issue::Options::default(), &hidden).expect("first issue");
    let first = t.elapsed();
    let first_cpu = cpu_ms() - c0;
    assert_eq!(r.certs.iter().filter(|c| c.action == "issued").count(), certs);
    println!(
        "first run (CA + {certs} leaves, {} files): {:>8.1} ms total, {:.3} ms/cert",
        certs * 3 + 9,
        first.as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3 / certs as f64
    );
    println!("first run CPU (user+sys): {first_cpu:>8.1} ms total, {:.3} ms/cert", first_cpu / certs as f64);

    let t = Instant::now();
    let r = issue::run(&s, &issue::Options::default(), &hidden).expect("second issue");
    let second = t.elapsed();
    assert_eq!(r.certs.iter().filter(|c| c.action == "kept").count(), certs);
    println!("idempotent re-run (assess {certs} certs, nothing written): {:>8.1} ms total, {:.3} ms/cert", second.as_secs_f64() * 1e3, second.as_secs_f64() * 1e3 / certs as f64);

    let t = Instant::now();
    issue::run(&s, &issue::Options { force: true, ..Default::default() }, &hidden).expect("forced issue");
    let forced = t.elapsed();
    println!("forced re-issue (crash-safe replacement of {certs} leaves): {:>8.1} ms total, {:.3} ms/cert", forced.as_secs_f64() * 1e3, forced.as_secs_f64() * 1e3 / certs as f64);

    let t = Instant::now();
    let v = verify::run(&s).expect("verify");
    let ver = t.elapsed();
    assert!(v.findings.is_empty(), "{:?}", v.findings.first());
    println!("verify ({} chains with CRLs, {} files): {:>8.1} ms total, {:.3} ms/cert", v.chains_validated, v.files_checked, ver.as_secs_f64() * 1e3, ver.as_secs_f64() * 1e3 / certs as f64);
    let target = 0.5;
    let per = first.as_secs_f64() * 1e3 / certs as f64;
    println!("machine load while measuring (1-min loadavg): {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').next().unwrap_or("?"));
    println!("target ≤ {target} ms/cert (first run): {}", if per <= target { "met" } else { "NOT met" });
}
