//! Shared helpers: tools that must exist, free ports, kill-on-drop processes,
//! a test PKI in the `secctl certs` layout, and test copies of local-stack.yaml.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use secctl::policy::LoadedPolicy;

/// Path of a required tool; fails the test (never skips) when it is missing.
pub fn tool(name: &str) -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/usr/bin"])
    {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{name}` is not installed: run `.ci/run` (or its setup step) to install the test tools"
    );
}

/// The Python interpreter of the test venv (SECCTL_TEST_VENV, default `<repo>/.venv`).
pub fn venv_python() -> PathBuf {
    let venv = std::env::var_os("SECCTL_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"));
    let py = venv.join("bin/python");
    assert!(
        py.is_file(),
        "no Python venv at {}: run `.ci/run` or set SECCTL_TEST_VENV (needs tests/requirements.txt)",
        venv.display()
    );
    py
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when the guard drops.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a command and returns its output; panics with stderr when it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Waits until `ready()` or panics after `secs`.
pub fn wait_for(secs: u64, what: &str, mut ready: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {secs}s waiting for {what}");
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = run(Command::new(tool("openssl")).current_dir(dir).args(args));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issues every certificate of the policy with the real `secctl certs issue` into `pki`
/// (the layout contract in docs/ca.md), then adds `foreign/`: a client cert for
/// `backend` from an unrelated CA, made with openssl.
pub fn issue_pki(policy: &Path, pki: &Path) {
    let out = run(Command::new(env!("CARGO_BIN_EXE_secctl"))
        .args(["certs", "issue", "-p"])
        .arg(policy)
        .arg("--pki-dir")
        .arg(pki));
    assert!(
        out.status.success(),
        "secctl certs issue failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "ca/chain.crt",
        "services/redis/server-fullchain.crt",
        "services/redis/server.key",
        "services/worker/client-fullchain.crt",
        "services/worker/client.key",
    ] {
        assert!(
            pki.join(f).is_file(),
            "the CA layout changed: {f} is missing"
        );
    }
    std::fs::create_dir_all(pki.join("foreign")).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let ext = pki.join("foreign/ext.cnf");
    std::fs::write(
        &ext,
        "[client]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    let ext = ext.to_str().unwrap();
    let root = |dir: &Path, cn: &str| {
        std::fs::create_dir_all(dir).unwrap();
        let mut a = vec!["req", "-x509"];
        a.extend(ec);
        a.extend([
            "-keyout", "root.key", "-out", "root.crt", "-days", "2", "-subj", cn,
        ]);
        a.extend([
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(dir, &a);
    };
    let sign = |dir: &Path,
                key: &str,
                crt: &str,
                cn: &str,
                ca_dir: &Path,
                ca_name: &str,
                section: &str| {
        std::fs::create_dir_all(dir).unwrap();
        let csr = format!("{crt}.csr");
        let mut a = vec!["req", "-new"];
        a.extend(ec);
        a.extend(["-keyout", key, "-out", &csr, "-subj", cn]);
        openssl(dir, &a);
        let cacrt = ca_dir.join(format!("{ca_name}.crt"));
        let cakey = ca_dir.join(format!("{ca_name}.key"));
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                cacrt.to_str().unwrap(),
                "-CAkey",
                cakey.to_str().unwrap(),
                "-CAcreateserial",
                "-out",
                crt,
                "-days",
                "2",
                "-extfile",
                ext,
                "-extensions",
                section,
            ],
        );
    };
    let foreign = pki.join("foreign");
    root(&foreign, "/O=Evil/CN=Foreign root");
    sign(
        &foreign,
        "client.key",
        "client.crt",
        "/O=Acme/CN=backend",
        &foreign,
        "root",
        "client",
    );
}

/// local-stack.yaml with Redis on `redis_port` and every deploy root under `root`.
pub fn local_policy(root: &Path, redis_port: u16, extra: &[(&str, &str)]) -> PathBuf {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/local-stack.yaml"),
    )
    .unwrap();
    let r = root.display();
    let mut text = src
        .replace(
            "listen: { host: 127.0.0.1, port: 26379 }",
            &format!("listen: {{ host: 127.0.0.1, port: {redis_port} }}"),
        )
        .replace(
            "redis:\n  service: redis\n",
            &format!("redis:\n  service: redis\n  secrets_dir: {r}/secrets\n"),
        );
    assert!(
        text.contains(&format!("secrets_dir: {r}/secrets")),
        "local-stack.yaml changed shape: update the test"
    );
    for (from, to) in extra {
        assert!(text.contains(from), "local-stack.yaml lacks {from:?}");
        text = text.replace(from, to);
    }
    text.push_str(&format!(
        "\ndeploy:\n  config_dir: {r}/out\n  pki_dir: {r}/pki\n  state_dir: {r}/state\n  secrets_dir: {r}/secrets\n"
    ));
    let p = root.join("policy.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Loads a policy, panicking with its diagnostics.
pub fn load(p: &Path) -> LoadedPolicy {
    secctl::policy::load(p).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the real `secctl render -p <policy> --out <out>` (every target, written all-or-nothing).
pub fn render_into(loaded: &LoadedPolicy, out: &Path) {
    let policy = Path::new(&loaded.source.name);
    let o = run(Command::new(env!("CARGO_BIN_EXE_secctl")).args(["render", "-p"]).arg(policy).arg("--out").arg(out));
    assert!(o.status.success(), "secctl render failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    for f in ["redis/redis.conf", "redis/users.acl", "compose/docker-compose.secctl.yml", "backend/secctl_security.py"] {
        assert!(out.join(f).is_file(), "secctl render did not write {f}");
    }
}
