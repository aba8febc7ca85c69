//! Human rendering of many diagnostics: time and peak memory for 5k, 10k and 20k findings
//! against a policy text with one line per finding. Prints figures; asserts nothing.
//! `cargo bench --bench diagnostics`
//!
//! Each size runs in a child process (this binary re-executed with `--one N`), so that each
//! peak RSS (VmHWM) is that size's own. The capped run (what `check` prints) comes first, then an
//! uncapped one that shows rendering itself is linear.

use std::time::Instant;

use secctl::diag::{self, Diagnostic};
use secctl::policy::Span;

fn input(n: usize) -> (String, Vec<Diagnostic>) {
    let mut text = String::from("version: 1\nservices:\n");
    let mut diags = Vec::with_capacity(n);
    for i in 0..n {
        let line = text.matches('\n').count() as u32 + 1;
        let offset = text.len() + 2;
        text.push_str(&format!("  svc{i}: {{ kind: fastapi, dns_name: [svc{i}.svc.internal] }}\n"));
        let span = Span { line, col: 3, offset: Some(offset), len: Some(format!("svc{i}").len()) };
        diags.push(
            Diagnostic::error("unknown-key", "bench.yaml", span, format!("services.svc{i}.dns_name"), format!("unknown key `dns_name` in service `svc{i}`"))
                .with_hint("did you mean `dns_names`?"),
        );
    }
    (text, diags)
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn one(n: usize) {
    let (text, diags) = input(n);
    let base = peak_rss_kb();
    for (what, limit) in [("default cap", diag::HUMAN_LIMIT), ("uncapped", usize::MAX)] {
        let mut out = Vec::new();
        let t = Instant::now();
        diag::render_human_limited(&mut out, false, &diags, Some(&text), limit).expect("render");
        let el = t.elapsed();
        println!(
            "{n:>6} findings  {what:<11}  {:>9.1} ms  output {:>9} bytes  peak RSS {:>8} KiB (input alone {:>7} KiB)",
            el.as_secs_f64() * 1e3,
            out.len(),
            peak_rss_kb(),
            base
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--one") {
        one(args[i + 1].parse().expect("a number after --one"));
        return;
    }
    let me = std::env::current_exe().expect("own path");
    for n in [5_000usize, 10_000, 20_000] {
        let st = std::process::Command::new(&me).args(["--one", &n.to_string()]).status().expect("child run");
        if !st.success() {
            println!("{n:>6} findings  failed ({st})");
        }
    }
}
