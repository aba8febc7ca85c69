//! Benchmark: `keycloak apply` from empty and the no-op re-apply, for the reference realm and a
//! generated 50-tenant / 20-role policy, against a real Keycloak. Prints wall time and the
//! read/write call counts. Target: no-op re-apply < 1 s with 0 writes.
//!
//! Run: `cargo bench --bench keycloak` (starts its own Keycloak through scripts/keycloak.sh on
//! free ports; run scripts/setup.sh first). To use a running Keycloak instead, set
//! SECCTL_BENCH_KEYCLOAK_URL plus KC_BOOTSTRAP_ADMIN_USERNAME / KC_BOOTSTRAP_ADMIN_PASSWORD.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use secctl::keycloak::{self, apply, desired, plan, read::{LiveReader, Reader}};

struct Server(Child, PathBuf);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-9", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1); // the instance's copy of the distribution
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(repo: &Path, log: &Path, password: &str) -> (Server, String) {
    use std::os::unix::process::CommandExt;
    let (port, mgmt) = (free_port(), free_port());
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new("bash")
        .arg(repo.join("scripts/keycloak.sh")).args(["run", &port.to_string(), &mgmt.to_string()])
        .env("KC_BOOTSTRAP_ADMIN_USERNAME", "admin").env("KC_BOOTSTRAP_ADMIN_PASSWORD", password)
        .stdout(log.try_clone().unwrap()).stderr(log).process_group(0)
        .spawn().expect("scripts/keycloak.sh (run scripts/setup.sh first)");
    let server = Server(child, repo.join(format!(".cache/run/keycloak-{port}")));
    let t = Instant::now();
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    while !http.get(format!("http://127.0.0.1:{mgmt}/health/ready")).send().is_ok_and(|r| r.status().is_success()) {
        assert!(t.elapsed() < Duration::from_secs(600), "Keycloak not ready after 600 s");
        std::thread::sleep(Duration::from_millis(500));
    }
    println!("keycloak started in {:.1} s", t.elapsed().as_secs_f64());
    (server, format!("http://127.0.0.1:{port}"))
}

/// The reference policy, pointed at the bench Keycloak with the password admin grant.
fn reference(repo: &Path, url: &str, realm: &str) -> String {
    let t = std::fs::read_to_string(repo.join("policies/reference.yaml")).unwrap();
    t.replace("url: https://keycloak.acme.internal:8443", &format!("url: {url}"))
        .replace("  realm: acme\n", &format!("  realm: {realm}\n"))
        .replace(
            "    grant: client-credentials\n    client_id: secctl-admin\n    client_secret: { env: SECCTL_KC_CLIENT_SECRET }\n",
            "    grant: password\n    client_id: admin-cli\n    username: { env: KC_BOOTSTRAP_ADMIN_USERNAME }\n    password: { env: KC_BOOTSTRAP_ADMIN_PASSWORD }\n",
        )
}

fn generated(text: String, tenants: usize, roles: usize) -> String {
    let mut t = String::from("  tenants:\n");
    for i in 0..tenants {
        t.push_str(&format!("    - {{ id: t{i:03}, name: Tenant {i}, domains: [t{i:03}.example] }}\n"));
    }
    // Keep the roles the reference routes and clients use: `check` refuses dangling role names.
    t.push_str("  roles:\n    - { name: viewer, description: Read-only access }\n    - { name: analyst, description: Analyst }\n    - { name: admin, description: Admin }\n    - { name: ai-user, description: May call the AI endpoints }\n");
    for i in 0..roles.saturating_sub(4) {
        t.push_str(&format!("    - {{ name: gen-role-{i:02}, description: Generated role {i} }}\n"));
    }
    let start = text.find("  tenants:\n").unwrap();
    let end = text.find("  clients:\n").unwrap();
    format!("{}{}{}", &text[..start], t, &text[end..])
}

fn run(path: &Path) -> (Duration, u64, u64, usize) {
    let t = Instant::now();
    let loaded = secctl::policy::load(path).unwrap_or_else(|e| panic!("{e}"));
    let valid = secctl::policy::check::validate(loaded).unwrap_or_else(|r| panic!("{:?}", r.diagnostics));
    let want = desired::build(&valid).unwrap();
    let admin = keycloak::connect(&valid).expect("identity").unwrap();
    let actual = LiveReader(&admin).read(&want).unwrap();
    let p = plan::plan(&want, &actual, false);
    let report = apply::apply(&admin, &p, &indicatif::ProgressBar::hidden()).unwrap();
    (t.elapsed(), report.calls.reads, report.calls.writes, report.applied)
}

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let _server;
    let url = match std::env::var("SECCTL_BENCH_KEYCLOAK_URL") {
        Ok(u) => u,
        Err(_) => {
            let pw = format!("bench-{}", std::process::id());
            // SAFETY: single-threaded at this point; the library reads the admin secret from env.
            unsafe {
                std::env::set_var("KC_BOOTSTRAP_ADMIN_USERNAME", "admin");
                std::env::set_var("KC_BOOTSTRAP_ADMIN_PASSWORD", &pw);
            }
            let (s, u) = start(&repo, &dir.path().join("keycloak.log"), &pw);
            _server = s;
            u
        }
    };
    let cases = [
        ("reference realm", reference(&repo, &url, "bench-ref")),
        ("50 tenants / 20 roles", generated(reference(&repo, &url, "bench-gen"), 50, 20)),
    ];
    println!("{:<24} {:<22} {:>9} {:>7} {:>7} {:>8}", "policy", "run", "wall", "reads", "writes", "changes");
    for (name, text) in cases {
        let path = dir.path().join(format!("{}.yaml", name.replace([' ', '/'], "_")));
        std::fs::write(&path, text).unwrap();
        for label in ["apply from empty", "no-op re-apply", "no-op re-apply (2)"] {
            let (wall, reads, writes, changes) = run(&path);
            println!("{name:<24} {label:<22} {:>7.3} s {reads:>7} {writes:>7} {changes:>8}", wall.as_secs_f64());
            if label.starts_with("no-op") {
                assert_eq!(writes, 0, "a no-op re-apply must not write");
            }
        }
    }
}
