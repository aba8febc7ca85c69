//! Render cost of the Redis, Compose and backend targets.
//!
//! `cargo bench --bench render_data` prints, per policy: services, routes, the
//! median wall time of one render of the three targets, and the bytes produced.
//! Targets (issue 4): reference policy < 50 ms; 200 services and 1000 routes < 1 s,
//! growing linearly (the scaling rows show it).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use secctl::policy::{check::validate, load::parse_bytes, LoadedPolicy, ValidPolicy};
use secctl::render::{Context, backend, compose, redis};

fn loaded(name: &str, text: &str) -> ValidPolicy {
    let (policy, source) = parse_bytes(name, text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let loaded = LoadedPolicy { policy, source, base_dir: ".".into() };
    validate(loaded).unwrap_or_else(|r| panic!("{:?}", r.diagnostics))
}

/// A stack with `n` FastAPI services behind one gateway, each with its Redis user and 5 routes.
fn generated(n: usize) -> String {
    let mut s =
        String::from("version: 1\nproject: { name: big, environment: production }\nservices:\n");
    s += "  gateway: { kind: gateway, dns_names: [gateway.big.internal], listen: { host: 0.0.0.0, port: 8443 } }\n";
    s += "  redis: { kind: redis, dns_names: [redis.big.internal], listen: { host: 0.0.0.0, port: 6379 } }\n";
    s += "  keycloak: { kind: keycloak, dns_names: [keycloak.big.internal], listen: { host: 0.0.0.0, port: 8080 }, mtls: none }\n";
    for i in 0..n {
        writeln!(s, "  svc{i}: {{ kind: fastapi, dns_names: [svc{i}.big.internal], listen: {{ host: 0.0.0.0, port: 8000 }} }}").unwrap();
    }
    s += "flows:\n  - { from: gateway, to: keycloak }\n";
    for i in 0..n {
        writeln!(s, "  - {{ from: gateway, to: svc{i} }}\n  - {{ from: svc{i}, to: redis }}\n  - {{ from: svc{i}, to: keycloak }}").unwrap();
    }
    s += "edge: { gateway: gateway, hosts: [api.big.example], http_redirect: { host: 0.0.0.0, port: 8080 } }\nroutes:\n";
    for i in 0..n {
        for j in 0..5 {
            writeln!(s, "  - {{ path: /svc{i}/r{j}/, upstream: svc{i}, roles: [viewer], tenant_scoped: true }}").unwrap();
        }
    }
    s +=
        "identity:\n  service: keycloak\n  url: https://keycloak.big.internal:8443\n  realm: big\n";
    s += "  admin: { grant: client-credentials, client_id: secctl-admin, client_secret: { env: KC } }\n";
    s += "  tenants: [{ id: t1 }]\n  roles: [{ name: viewer }]\n";
    s += "  clients:\n    - { client_id: web, kind: spa, redirect_uris: [https://app.big.example/cb] }\n    - { client_id: api, kind: backend, service: svc0 }\n";
    s += "redis:\n  service: redis\n  users:\n";
    for i in 0..n {
        writeln!(s, "    svc{i}: {{ keys: [\"svc{i}:*\"] }}").unwrap();
    }
    let producers: Vec<String> = (1..n).map(|i| format!("svc{i}")).collect();
    writeln!(
        s,
        "  error_queues:\n    - {{ key: \"errors:*\", producers: [{}], consumers: [svc0] }}",
        producers.join(", ")
    )
    .unwrap();
    s
}

fn measure(label: &str, l: &ValidPolicy) -> Duration {
    let ctx = Context::new(l);
    let once = || {
        let mut bytes = 0;
        for f in redis::render(&ctx)
            .unwrap()
            .into_iter()
            .chain(compose::render(&ctx).unwrap())
            .chain(backend::render(&ctx).unwrap())
        {
            bytes += f.contents.len();
        }
        bytes
    };
    let bytes = once(); // warm-up
    let mut times: Vec<Duration> = (0..15)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(once());
            t.elapsed()
        })
        .collect();
    times.sort();
    let med = times[times.len() / 2];
    println!(
        "{label:<28} services {:>4}  routes {:>5}  median {:>9.3} ms  min {:>9.3} ms  output {:>8} bytes",
        l.policy().services.len(),
        l.policy().routes.len(),
        med.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        bytes
    );
    med
}

fn main() {
    let reference = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/policies/reference.yaml"
    ))
    .unwrap();
    let r = measure("reference.yaml", &loaded("reference.yaml", &reference));
    let mut per_service = Vec::new();
    for n in [50, 100, 200, 400] {
        let text = generated(n);
        let d = measure(
            &format!("generated n={n}"),
            &loaded("generated.yaml", &text),
        );
        per_service.push((n, d.as_secs_f64() * 1e6 / (n as f64 + 3.0)));
    }
    println!(
        "per-service cost (us): {}",
        per_service
            .iter()
            .map(|(n, us)| format!("n={n}: {us:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "target: reference < 50 ms ({}), 200 services/1000 routes < 1 s",
        if r.as_millis() < 50 { "met" } else { "MISSED" }
    );
}
