//! Load + check throughput on the reference policy, and on a large generated
//! policy (200 services, 400 routes). Prints figures; asserts nothing.
//! `cargo bench --bench policy_load`

use std::time::Instant;

use secctl::policy::{check, load, LoadedPolicy};

fn large_policy(services: usize) -> String {
    let mut s = String::from("version: 1\nproject: { name: big, environment: production }\nservices:\n  gateway: { kind: gateway, dns_names: [gateway.svc.internal], listen: { host: 0.0.0.0, port: 8443 } }\n");
    for i in 0..services {
        s.push_str(&format!("  svc{i}: {{ kind: fastapi, dns_names: [svc{i}.svc.internal], listen: {{ host: 0.0.0.0, port: 8000 }} }}\n"));
    }
    s.push_str("flows:\n");
    for i in 0..services {
        s.push_str(&format!("  - {{ from: gateway, to: svc{i} }}\n"));
    }
    s.push_str("edge: { gateway: gateway, hosts: [api.example.com] }\nroutes:\n");
    for i in 0..services {
        s.push_str(&format!("  - {{ path: /s{i}/, upstream: svc{i}, rate_limit: {{ per_ip: {{ rate: 10r/s, burst: 20 }} }} }}\n"));
        s.push_str(&format!("  - {{ path: /s{i}/v2/, upstream: svc{i} }}\n"));
    }
    s.push_str("ca: { trust_domain: svc.internal, name_constraints: { dns: [svc.internal] } }\n");
    s
}

fn bench(name: &str, text: &str, iters: u32) {
    let start = Instant::now();
    for _ in 0..iters {
        let (policy, source) = load::parse_bytes("bench.yaml", text.as_bytes()).expect("policy loads");
        let loaded = LoadedPolicy { policy, source, base_dir: Default::default() };
        let diags = check::check(&loaded);
        assert!(diags.is_empty(), "{diags:?}");
    }
    let per = start.elapsed() / iters;
    println!("{name:<28} {:>7} bytes  {:>9.3} ms per load+check  ({iters} iterations)", text.len(), per.as_secs_f64() * 1e3);
}

/// Where the time goes, for one large policy.
fn phases(text: &str) {
    use secctl::policy::{model::Policy, node, schema, validate};
    let t = Instant::now();
    let tree = node::parse(text).unwrap();
    let parse = t.elapsed();
    let t = Instant::now();
    let errs = validate::validate("bench.yaml", &tree, schema::cached_schema());
    assert!(errs.is_empty());
    let val = t.elapsed();
    let t = Instant::now();
    let policy: Policy = serde_saphyr::from_str(text).unwrap();
    let serde = t.elapsed();
    let t = Instant::now();
    let _ = check::check_policy("bench.yaml", &policy);
    let chk = t.elapsed();
    println!("  phases: yaml tree {parse:?}, schema validation {val:?}, serde {serde:?}, semantic checks {chk:?}");
}

fn main() {
    let reference = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/reference.yaml")).unwrap();
    bench("policies/reference.yaml", &reference, 200);
    let large = large_policy(200);
    bench("generated, 200 services", &large, 10);
    phases(&large);
}
