//! Integration tests: `secctl keycloak` against a real Keycloak 26 (scripts/keycloak.sh).
//!
//! One Keycloak (in-memory DB) is started on free ports and shared by every test here; each test
//! converges its own realm. The kill-mid-apply test runs its own instance on a file-backed DB.
//! Missing Keycloak/Java/venv makes the tests FAIL with a pointer to `scripts/setup.sh`.

mod errors;
mod kill;
mod scenario;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const AI_SECRET: &str = "it-ai-secret-7f3a9c";
pub const WORKER_SECRET: &str = "it-worker-secret-2b8d1e";
pub const USER_PASSWORD: &str = "It-Fixture-Pass-42!";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().unwrap().port()
}

/// A Keycloak process group, killed on drop.
pub struct Keycloak {
    pub port: u16,
    pub mgmt: u16,
    pub admin_password: String,
    pub log: PathBuf,
    pub data: Option<PathBuf>,
    child: Option<Child>,
}

impl Keycloak {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts Keycloak (waits for /health/ready, see [`ready_timeout`]).
    pub fn start(data: Option<&Path>, log_dir: &Path) -> Keycloak {
        let pw = format!("It-Admin-{}-{}", std::process::id(), Instant::now().elapsed().as_nanos() ^ 0x5eed);
        let mut kc = Keycloak { port: free_port(), mgmt: free_port(), admin_password: pw, log: log_dir.join("keycloak.log"), data: data.map(Path::to_path_buf), child: None };
        kc.spawn();
        kc
    }

    /// (Re)starts the process on the same ports and data directory.
    pub fn spawn(&mut self) {
        use std::os::unix::process::CommandExt;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("open keycloak log");
        let mut cmd = Command::new("bash");
        cmd.arg(repo().join("scripts/keycloak.sh")).arg("run").arg(self.port.to_string()).arg(self.mgmt.to_string());
        if let Some(d) = &self.data {
            cmd.arg(d);
        }
        cmd.env("KC_BOOTSTRAP_ADMIN_USERNAME", "admin").env("KC_BOOTSTRAP_ADMIN_PASSWORD", &self.admin_password).stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).process_group(0);
        let child = cmd.spawn().expect("cannot run scripts/keycloak.sh; run scripts/setup.sh (it fetches Keycloak and needs bash, Maven and a JDK)");
        watchdog(child.id(), &self.instance_dir());
        self.child = Some(child);
        let started = Instant::now();
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        loop {
            if let Ok(r) = http.get(format!("http://127.0.0.1:{}/health/ready", self.mgmt)).send()
                && r.status().is_success()
            {
                eprintln!("keycloak ready on {} after {:.1} s", self.url(), started.elapsed().as_secs_f64());
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("Keycloak exited ({status}) before it was ready; run scripts/setup.sh (fetches Keycloak 26 and needs Temurin 25). Log tail:\n{}", tail(&self.log));
            }
            assert!(started.elapsed() < ready_timeout(), "Keycloak not ready after {:?} (SECCTL_KEYCLOAK_READY_TIMEOUT). Log tail:\n{}", ready_timeout(), tail(&self.log));
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The instance's copy of the distribution (scripts/keycloak.sh runs each instance from its own).
    fn instance_dir(&self) -> PathBuf {
        match &self.data {
            Some(d) => d.join("keycloak"),
            None => repo().join(format!(".cache/run/keycloak-{}", self.port)),
        }
    }

    /// SIGKILL to the whole process group (Keycloak's JVM included).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").args(["-9", "--", &format!("-{}", c.id())]).status();
            let _ = c.wait();
        }
    }

    /// An admin-API token (master realm, bootstrap admin).
    pub fn admin_token(&self) -> String {
        let r: Value = reqwest::blocking::Client::new()
            .post(format!("{}/realms/master/protocol/openid-connect/token", self.url()))
            .form(&[("grant_type", "password"), ("client_id", "admin-cli"), ("username", "admin"), ("password", self.admin_password.as_str())])
            .send()
            .unwrap()
            .json()
            .unwrap();
        r["access_token"].as_str().expect("admin token").to_string()
    }

    /// GET below /admin/realms; None on 404.
    pub fn get(&self, path: &str) -> Option<Value> {
        let r = reqwest::blocking::Client::new().get(format!("{}/admin/realms{path}", self.url())).bearer_auth(self.admin_token()).send().unwrap();
        if r.status() == 404 {
            return None;
        }
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        Some(r.json().unwrap())
    }

    /// POST/PUT below /admin/realms.
    pub fn send(&self, method: reqwest::Method, path: &str, body: &Value) {
        let r = reqwest::blocking::Client::new().request(method, format!("{}/admin/realms{path}", self.url())).bearer_auth(self.admin_token()).json(body).send().unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
}

impl Drop for Keycloak {
    fn drop(&mut self) {
        self.kill9();
        if self.data.is_none() {
            let _ = std::fs::remove_dir_all(self.instance_dir());
        }
    }
}

/// Readiness timeout: `start --optimized` skips Quarkus augmentation (built once by
/// scripts/keycloak.sh), but a first start still creates the H2 schema, which takes minutes on
/// this 2-core machine under load; override with SECCTL_KEYCLOAK_READY_TIMEOUT (s).
fn ready_timeout() -> Duration {
    Duration::from_secs(std::env::var("SECCTL_KEYCLOAK_READY_TIMEOUT").ok().and_then(|v| v.parse().ok()).unwrap_or(600))
}

/// Statics are never dropped: a watchdog kills the Keycloak group when this test process exits.
fn watchdog(pgid: u32, instance: &Path) {
    use std::os::unix::process::CommandExt;
    let me = std::process::id();
    let script = format!("while kill -0 {me} 2>/dev/null; do sleep 1; done; kill -9 -- -{pgid} 2>/dev/null; sleep 1; rm -rf '{}'", instance.display());
    let _ = Command::new("bash").args(["-c", &script]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).process_group(0).spawn();
}

pub fn tail(p: &Path) -> String {
    let t = std::fs::read_to_string(p).unwrap_or_default();
    t.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
}

static SHARED: OnceLock<(Keycloak, tempfile::TempDir)> = OnceLock::new();

/// The Keycloak shared by the tests of this module.
pub fn shared() -> &'static Keycloak {
    &SHARED
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let kc = Keycloak::start(None, dir.path());
            (kc, dir)
        })
        .0
}

/// The local-stack policy pointed at `url` and `realm`, with `edit` applied, written to `dir`.
pub fn policy(dir: &Path, url: &str, realm: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("policies/local-stack.yaml")).unwrap();
    let text = text.replace("url: http://127.0.0.1:28180", &format!("url: {url}")).replace("  realm: acme\n", &format!("  realm: {realm}\n"));
    let path = dir.join("policy.yaml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

/// Runs secctl with the secrets the policy names in its environment (never on argv).
pub fn secctl(kc_password: &str, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_secctl"))
        .args(args)
        .env("KC_BOOTSTRAP_ADMIN_USERNAME", "admin")
        .env("KC_BOOTSTRAP_ADMIN_PASSWORD", kc_password)
        .env("SECCTL_AI_CLIENT_SECRET", AI_SECRET)
        .env("SECCTL_WORKER_CLIENT_SECRET", WORKER_SECRET)
        .env("SECCTL_TEST_PASSWORD", USER_PASSWORD)
        .env("NO_COLOR", "1")
        .output()
        .expect("run secctl");
    let s = String::from_utf8_lossy(&out.stderr);
    assert!(!s.contains("panicked"), "secctl panicked: {s}");
    out
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn text(o: &Output) -> String {
    format!("--- stdout\n{}\n--- stderr\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Validates `token` with PyJWT (an independent implementation) against the realm's JWKS and
/// returns its claims.
pub fn pyjwt_claims(token: &str, issuer: &str, audience: &str) -> Value {
    let venv = std::env::var("SECCTL_TEST_VENV").map(PathBuf::from).unwrap_or_else(|_| repo().join(".venv"));
    let python = venv.join("bin/python");
    assert!(python.exists(), "{} missing: run scripts/setup.sh (creates the venv with PyJWT) or set SECCTL_TEST_VENV", python.display());
    let script = r#"
import sys, json, jwt
tok = sys.stdin.read().strip()
iss, aud = sys.argv[1], sys.argv[2]
key = jwt.PyJWKClient(iss + "/protocol/openid-connect/certs").get_signing_key_from_jwt(tok)
claims = jwt.decode(tok, key.key, algorithms=["RS256"], audience=aud, issuer=iss,
                    options={"require": ["exp", "iat", "iss", "aud", "sub"]})
print(json.dumps(claims))
"#;
    let mut child = Command::new(&python).args(["-c", script, issuer, audience]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(token.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "PyJWT rejected the token: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn roles(claims: &Value) -> Vec<String> {
    let mut r: Vec<String> = claims["realm_access"]["roles"].as_array().cloned().unwrap_or_default().into_iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
    r.sort();
    r
}

/// A policy with `tenants` organizations and `roles` extra roles (kill test and benchmark).
pub fn generated(text: String, tenants: usize, roles: usize) -> String {
    let mut t = String::from("  tenants:\n");
    for i in 0..tenants {
        t.push_str(&format!("    - {{ id: t{i:03}, name: Tenant {i}, domains: [t{i:03}.example] }}\n"));
    }
    t.push_str("    - { id: tenant-a, name: Tenant A, domains: [tenant-a.example] }\n    - { id: tenant-b, name: Tenant B, domains: [tenant-b.example] }\n  roles:\n");
    for i in 0..roles {
        t.push_str(&format!("    - {{ name: gen-role-{i:02}, description: Generated role {i} }}\n"));
    }
    let start = text.find("  tenants:\n").unwrap();
    let end = text.find("  roles:\n").unwrap();
    format!("{}{}{}", &text[..start], t, &text[end + "  roles:\n".len()..])
}
