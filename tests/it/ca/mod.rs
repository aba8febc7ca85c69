//! Integration tests: the private service CA (`secctl certs ...`).
//!
//! They run the real binary against copies of `policies/local-stack.yaml` in
//! temp dirs, and check the results with real tools: `openssl verify`,
//! `openssl s_server`/`s_client` (mTLS handshakes) and pkilint. A missing tool
//! fails the test with a pointer to `.ci/run`; nothing is skipped.

mod crash;
mod errors;
mod issue;
mod lint;
mod rotate;
mod tls;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temp project with a policy and a PKI directory next to it.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub policy: PathBuf,
}

/// The shipped local-stack policy.
pub fn local_stack() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/local-stack.yaml")).unwrap()
}

/// local-stack without the single-label `localhost` names (pkilint's domain validator rejects them;
/// real deployments use FQDNs), with the PKI directory next to the policy.
pub fn fqdn_stack() -> String {
    local_stack().replace(", localhost]", "]").replace("pki_dir: ../pki-local", "pki_dir: pki")
}

impl Env {
    /// A project whose policy is `yaml`.
    pub fn new(yaml: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("secctl.yaml");
        std::fs::write(&policy, yaml).unwrap();
        Env { dir, policy }
    }
    /// The default test project.
    pub fn stack() -> Env {
        Env::new(&local_stack().replace("pki_dir: ../pki-local", "pki_dir: pki"))
    }
    /// Rewrites the policy.
    pub fn edit(&self, f: impl FnOnce(String) -> String) {
        let text = std::fs::read_to_string(&self.policy).unwrap();
        std::fs::write(&self.policy, f(text)).unwrap();
    }
    /// The PKI directory.
    pub fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }
    /// `secctl certs <args> --policy <policy>`.
    pub fn certs(&self, args: &[&str]) -> Output {
        self.certs_env(args, &[])
    }
    /// Same, with extra environment.
    pub fn certs_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_secctl"));
        c.arg("certs").args(args).arg("--policy").arg(&self.policy).env("NO_COLOR", "1").env_remove("SECCTL_CRASH_AT");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
    /// Runs and asserts an exit code, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.certs(args);
        assert_eq!(o.status.code(), Some(0), "secctl certs {args:?} failed:\nstdout:\n{}\nstderr:\n{}", out(&o), err(&o));
        out(&o)
    }
    /// Bytes of a file under the PKI dir.
    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.pki().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
    /// `certs list --format json` rows.
    pub fn list(&self) -> (i32, Vec<serde_json::Value>) {
        let o = self.certs(&["list", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("list JSON: {e}\n{}\n{}", out(&o), err(&o)));
        (o.status.code().unwrap(), v["certs"].as_array().unwrap().clone())
    }
    /// Snapshot of every file under the PKI dir (path → bytes), for "nothing was overwritten" checks.
    pub fn snapshot(&self) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
        let mut m = std::collections::BTreeMap::new();
        let mut stack = vec![self.pki()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if !p.ends_with(".lock") {
                    m.insert(p.clone(), std::fs::read(&p).unwrap());
                }
            }
        }
        m
    }
}

pub fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The leaf files the local stack gets: (service, purpose).
pub const LEAVES: &[(&str, &str)] = &[
    ("ai", "client"),
    ("ai", "server"),
    ("backend", "client"),
    ("backend", "server"),
    ("gateway", "client"),
    ("gateway", "server"),
    ("loki", "server"),
    ("redis", "server"),
    ("worker", "client"),
];

/// `openssl` or a failure telling how to install it.
pub fn openssl() -> Command {
    if Command::new("openssl").arg("version").output().is_err() {
        panic!("openssl is not installed: run `.ci/run` (or `apt-get install openssl`)");
    }
    Command::new("openssl")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The Python venv with pkilint.
pub fn venv_bin(tool: &str) -> PathBuf {
    let venv = std::env::var_os("SECCTL_TEST_VENV").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"));
    let p = venv.join("bin").join(tool);
    if !p.exists() {
        panic!("{} not found: run `.ci/run` (it creates the venv from tests/requirements.txt), or set SECCTL_TEST_VENV to a venv with pkilint", p.display());
    }
    p
}

/// `openssl verify` of a leaf with the bundle, the chain and every CRL, as nginx checks it.
pub fn openssl_verify(pki: &Path, leaf: &str, purpose: &str) -> Output {
    openssl()
        .arg("verify")
        .arg("-CAfile")
        .arg(pki.join("ca/bundle.crt"))
        .arg("-untrusted")
        .arg(pki.join("ca/chain.crt"))
        .arg("-crl_check_all")
        .arg("-CRLfile")
        .arg(pki.join("ca/crl.pem"))
        .arg("-purpose")
        .arg(if purpose == "server" { "sslserver" } else { "sslclient" })
        .arg(pki.join(leaf))
        .output()
        .unwrap()
}
