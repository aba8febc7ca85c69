//! `cargo bench --bench render`: time `render_all` on the reference policy and on a
//! generated policy with 200 services and 1000 routes (targets: < 50 ms and < 1 s,
//! growing roughly linearly). Prints figures; asserts nothing.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use secctl::policy::{check::validate, load::parse_bytes, LoadedPolicy, ValidPolicy};

fn generated(services: usize, routes: usize) -> String {
    let mut y = String::from("version: 1\nproject: { name: bench, environment: production }\nservices:\n");
    y.push_str("  gateway: { kind: gateway, dns_names: [gateway.bench.internal], listen: { host: 0.0.0.0, port: 8443 } }\n");
    for s in 0..services {
        writeln!(y, "  svc{s}: {{ kind: fastapi, dns_names: [svc{s}.bench.internal], listen: {{ host: 0.0.0.0, port: 8000 }} }}").unwrap();
    }
    y.push_str("flows:\n");
    for s in 0..services {
        writeln!(y, "  - {{ from: gateway, to: svc{s} }}").unwrap();
        if s % 10 == 0 {
            writeln!(y, "  - {{ from: svc{}, to: svc{s}, via: gateway }}", (s + 1) % services).unwrap();
        }
    }
    y.push_str("edge:\n  gateway: gateway\n  hosts: [api.bench.example]\n  internal_listen: { host: 0.0.0.0, port: 9443 }\n");
    y.push_str("  cors: { origins: [https://app.bench.example, https://admin.bench.example], credentials: true }\nroutes:\n");
    for r in 0..routes {
        let s = r % services;
        let ai = r % 7 == 0;
        write!(y, "  - {{ path: /s{s}/r{r}/, upstream: svc{s}, ai: {ai}").unwrap();
        if r % 10 == 0 {
            y.push_str(", listener: internal");
        }
        if ai {
            y.push_str(", waf_exclusions: [{ rule_ids: [942100, 941100], args: [json.prompt], reason: prompt }]");
        }
        y.push_str(" }\n");
    }
    y.push_str("waf:\n  mode: blocking\n  custom_rules:\n");
    for i in 0..20 {
        let id = 20000 + i;
        writeln!(y, "    - {{ id: {id}, rule: 'SecRule REQUEST_HEADERS:X-Bench-{i} \"@rx .\" \"id:{id},phase:1,deny,status:403,log\"' }}").unwrap();
    }
    y.push_str("ca: { trust_domain: bench.internal, name_constraints: { dns: [bench.internal] } }\n");
    y
}

fn time(name: &str, loaded: &ValidPolicy, iters: u32) -> Duration {
    let files = secctl::render::render_all(loaded).expect("render");
    let bytes: usize = files.values().map(|f| f.contents.len()).sum();
    let mut best = Duration::MAX;
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let t = Instant::now();
        let f = secctl::render::render_all(loaded).expect("render");
        let e = t.elapsed();
        std::hint::black_box(f);
        best = best.min(e);
        total += e;
    }
    println!("{name:<34} {:>3} files {:>9} bytes   best {:>9.3} ms   mean {:>9.3} ms  ({iters} runs)", files.len(), bytes, ms(best), ms(total / iters));
    best
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let reference = secctl::policy::load(&repo.join("policies/reference.yaml")).expect("reference policy loads");
    let reference = validate(reference).unwrap_or_else(|r| panic!("{:?}", r.diagnostics));
    time("reference.yaml", &reference, 50);
    let mut last = None;
    for (svc, routes) in [(50, 250), (100, 500), (200, 1000)] {
        let text = generated(svc, routes);
        let t = Instant::now();
        let (policy, source) = parse_bytes("generated.yaml", text.as_bytes()).unwrap_or_else(|e| panic!("{:?}", e.diagnostics));
        let parse = t.elapsed();
        let loaded = LoadedPolicy { policy, source, base_dir: repo.clone() };
        let loaded = validate(loaded).unwrap_or_else(|r| panic!("{:?}", r.diagnostics));
        let best = time(&format!("{svc} services / {routes} routes"), &loaded, 10);
        println!("{:<34} parse {:.3} ms", "", ms(parse));
        if let Some((prev_routes, prev)) = last {
            let ratio = ms(best) / ms(prev);
            println!("{:<34} x{:.2} time for x{:.1} routes", "", ratio, routes as f64 / prev_routes as f64);
        }
        last = Some((routes, best));
    }
}
