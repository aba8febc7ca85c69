//! The rendered Redis config on a real redis-server 7: TLS only, client certs
//! required, default user off, each service confined to its keys, and error
//! queues write-only for producers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::support::*;

struct Stack {
    _dir: tempfile::TempDir,
    root: PathBuf,
    port: u16,
    _redis: Guard,
}

impl Stack {
    fn start() -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let port = free_port();
        let policy = local_policy(&root, port, &[]);
        issue_pki(&policy, &root.join("pki"));
        let loaded = load(&policy);
        render_into(&loaded, &root.join("out"));
        let prov = secctl::render::redis::provision_secrets(&secctl::policy::check::validate(loaded.clone()).unwrap_or_else(|r| panic!("{:?}", r.diagnostics)))
            .unwrap()
            .unwrap();
        // `secctl render` already created the passwords; provisioning again keeps them.
        assert!(prov.created.is_empty(), "{:?}", prov.created);
        assert_eq!(prov.kept, ["ai", "backend", "worker"]);
        std::fs::create_dir_all(root.join("state/redis")).unwrap();
        let log = std::fs::File::create(root.join("redis.log")).unwrap();
        let child = Command::new(tool("redis-server"))
            .arg(root.join("out/redis/redis.conf"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let s = Stack {
            _dir: dir,
            root,
            port,
            _redis: Guard(child),
        };
        wait_for(15, "redis-server to accept TLS", || {
            s.cli(Some("worker"), None, &["PING"]).contains("NOAUTH")
        });
        s
    }

    fn password(&self, user: &str) -> String {
        std::fs::read_to_string(self.root.join(format!("secrets/redis_{user}_password")))
            .unwrap()
            .trim()
            .to_string()
    }

    /// redis-cli over TLS with `cert_of`'s client cert; the password travels in REDISCLI_AUTH, never on argv.
    fn cli(&self, cert_of: Option<&str>, auth: Option<(&str, &str)>, args: &[&str]) -> String {
        let pki = self.root.join("pki");
        let mut c = Command::new(tool("redis-cli"));
        c.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "--tls",
            "--cacert",
        ])
        .arg(pki.join("ca/chain.crt"));
        match cert_of {
            Some("foreign") => {
                c.arg("--cert")
                    .arg(pki.join("foreign/client.crt"))
                    .arg("--key")
                    .arg(pki.join("foreign/client.key"));
            }
            Some(svc) => {
                let d = pki.join("services").join(svc);
                c.arg("--cert")
                    .arg(d.join("client-fullchain.crt"))
                    .arg("--key")
                    .arg(d.join("client.key"));
            }
            None => {}
        }
        c.env_remove("REDISCLI_AUTH");
        if let Some((user, pw)) = auth {
            c.args(["--user", user, "--no-auth-warning"])
                .env("REDISCLI_AUTH", pw);
        }
        c.args(args);
        let out = run(c.stdin(Stdio::null()));
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    fn as_user(&self, user: &str, args: &[&str]) -> String {
        self.cli(Some(user), Some((user, &self.password(user))), args)
    }
}

fn assert_denied(out: &str, what: &str) {
    assert!(
        out.contains("NOPERM"),
        "{what} must be denied with NOPERM, got: {out}"
    );
}

fn assert_not_denied(out: &str, what: &str) {
    assert!(
        !out.contains("NOPERM") && !out.contains("ERR") && !out.contains("NOAUTH"),
        "{what} must be allowed, got: {out}"
    );
}

#[test]
fn transport_rejects_plaintext_no_cert_and_foreign_ca() {
    let s = Stack::start();
    let pw = s.password("backend");
    let plain = run(Command::new(tool("redis-cli")).args([
        "-h",
        "127.0.0.1",
        "-p",
        &s.port.to_string(),
        "PING",
    ]));
    let plain = format!(
        "{}{}",
        String::from_utf8_lossy(&plain.stdout),
        String::from_utf8_lossy(&plain.stderr)
    );
    assert!(
        !plain.contains("PONG") && !plain.contains("NOAUTH"),
        "plaintext must not reach Redis: {plain}"
    );
    let nocert = s.cli(None, Some(("backend", &pw)), &["PING"]);
    assert!(
        !nocert.contains("PONG") && !nocert.contains("NOAUTH"),
        "a TLS client without a cert must be rejected: {nocert}"
    );
    let foreign = s.cli(Some("foreign"), Some(("backend", &pw)), &["PING"]);
    assert!(
        !foreign.contains("PONG"),
        "a foreign-CA cert must be rejected even with the right password: {foreign}"
    );
    // The server (not the client) refused the handshakes, for certificate reasons.
    let log = std::fs::read_to_string(s.root.join("redis.log")).unwrap();
    assert!(
        log.contains("wrong version number"),
        "plaintext rejection not logged: {log}"
    );
    assert!(
        log.matches("Error accepting a client connection").count() >= 3,
        "{log}"
    );
    assert!(
        log.contains("peer did not return a certificate"),
        "no-cert rejection not logged: {log}"
    );
    assert!(
        log.contains("certificate verify failed"),
        "foreign-CA rejection not logged: {log}"
    );
    // The valid cert alone is not enough: the default user is off.
    assert!(
        s.cli(Some("backend"), None, &["GET", "jobs:1"])
            .contains("NOAUTH")
    );
    let wrong = s.cli(
        Some("backend"),
        Some(("backend", &"0".repeat(64))),
        &["PING"],
    );
    assert!(wrong.contains("WRONGPASS"), "{wrong}");
    // Another service's password does not open this user.
    let cross = s.cli(
        Some("backend"),
        Some(("backend", &s.password("worker"))),
        &["PING"],
    );
    assert!(cross.contains("WRONGPASS"), "{cross}");
    assert!(s.as_user("backend", &["PING"]).contains("PONG"));
}

#[test]
fn users_confined_to_key_patterns_and_error_queues() {
    let s = Stack::start();
    // backend: its own keys, write-only error queue.
    assert_not_denied(
        &s.as_user("backend", &["SET", "jobs:1", "v"]),
        "backend SET jobs:1",
    );
    assert!(s.as_user("backend", &["GET", "jobs:1"]).contains('v'));
    assert_not_denied(
        &s.as_user("backend", &["SET", "ratelimit:u1", "3"]),
        "backend SET ratelimit",
    );
    assert_denied(
        &s.as_user("backend", &["SET", "secrets:x", "1"]),
        "backend outside its patterns",
    );
    assert_denied(
        &s.as_user("backend", &["GET", "cache:ai:1"]),
        "backend reading ai's cache",
    );
    assert!(
        s.as_user("backend", &["LPUSH", "errors:api", "boom"])
            .trim()
            .parse::<u32>()
            .is_ok(),
        "producer can push errors"
    );
    assert_denied(
        &s.as_user("backend", &["LRANGE", "errors:api", "0", "-1"]),
        "producer reading the error queue",
    );
    assert_denied(
        &s.as_user("backend", &["LPOP", "errors:api"]),
        "producer popping the error queue",
    );
    assert_denied(&s.as_user("backend", &["FLUSHALL"]), "FLUSHALL");
    assert_denied(&s.as_user("backend", &["CONFIG", "GET", "*"]), "CONFIG");
    assert_denied(&s.as_user("backend", &["KEYS", "*"]), "KEYS (dangerous)");
    // ai: narrower keys than backend.
    assert_denied(
        &s.as_user("ai", &["SET", "jobs:1", "x"]),
        "ai outside jobs:ai:*",
    );
    assert_not_denied(
        &s.as_user("ai", &["SET", "jobs:ai:1", "x"]),
        "ai SET jobs:ai:1",
    );
    assert_not_denied(
        &s.as_user("ai", &["RPUSH", "errors:ai", "oops"]),
        "ai pushing errors",
    );
    assert_denied(
        &s.as_user("ai", &["LRANGE", "errors:ai", "0", "-1"]),
        "ai reading errors",
    );
    // worker: the only consumer.
    let got = s.as_user("worker", &["LRANGE", "errors:api", "0", "-1"]);
    assert!(
        got.contains("boom"),
        "the worker reads the error queue: {got}"
    );
    assert!(s.as_user("worker", &["LPOP", "errors:ai"]).contains("oops"));
    assert!(s.as_user("worker", &["GET", "jobs:1"]).contains('v'));
    assert_denied(
        &s.as_user("worker", &["GET", "cache:backend:1"]),
        "worker outside its patterns",
    );
    assert_denied(&s.as_user("worker", &["ACL", "LIST"]), "ACL admin");
}

#[test]
fn passwords_are_private_kept_and_out_of_the_rendered_tree() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let policy = local_policy(root, free_port(), &[]);
    let loaded = load(&policy);
    let first = secctl::render::redis::provision_secrets(&secctl::policy::check::validate(loaded.clone()).unwrap_or_else(|r| panic!("{:?}", r.diagnostics)))
        .unwrap()
        .unwrap();
    let pw: Vec<String> = ["ai", "backend", "worker"]
        .iter()
        .map(|u| {
            let p = root.join(format!("secrets/redis_{u}_password"));
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600,
                "{}",
                p.display()
            );
            std::fs::read_to_string(p).unwrap()
        })
        .collect();
    let acl = std::fs::read_to_string(&first.acl_file).unwrap();
    assert_eq!(
        std::fs::metadata(&first.acl_file)
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(
        !acl.contains('>') && acl.matches(" on #").count() == 3,
        "hashes only: {acl}"
    );
    for p in &pw {
        assert!(
            !acl.contains(p.trim()),
            "a cleartext password leaked into the ACL"
        );
    }
    // A second run keeps every password and produces the same ACL.
    let second = secctl::render::redis::provision_secrets(&secctl::policy::check::validate(loaded.clone()).unwrap_or_else(|r| panic!("{:?}", r.diagnostics)))
        .unwrap()
        .unwrap();
    assert!(second.created.is_empty() && second.kept.len() == 3);
    assert_eq!(std::fs::read_to_string(&second.acl_file).unwrap(), acl);
    // The rendered (committable) tree is identical for two different installs and holds no secret.
    let out_a = root.join("a");
    render_into(&loaded, &out_a);
    let tree = read_tree(&out_a);
    for (path, text) in &tree {
        for p in &pw {
            assert!(!text.contains(p.trim()), "{path} contains a password");
        }
        assert!(
            !text.contains(&secctl::render::redis::secrets::sha256_hex(pw[0].trim())),
            "{path} contains a hash"
        );
    }
}

fn read_tree(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(read_tree(&p));
        } else {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    out
}

/// The way the services connect (redis-py, as in docs/render-data.md): cert + ACL user + password file.
#[test]
fn redis_py_client_with_cert_and_password_file() {
    let py = venv_python();
    let s = Stack::start();
    let script = r#"
import sys, redis
root, port = sys.argv[1], int(sys.argv[2])
def conn(svc):
    pki = f"{root}/pki"
    return redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_cert_reqs="required",
        ssl_certfile=f"{pki}/services/{svc}/client-fullchain.crt", ssl_keyfile=f"{pki}/services/{svc}/client.key",
        ssl_ca_certs=f"{pki}/ca/chain.crt", username=svc,
        password=open(f"{root}/secrets/redis_{svc}_password").read().strip(), socket_timeout=5)
b, w = conn("backend"), conn("worker")
assert b.rpush("errors:py", "e1") == 1
try:
    b.lrange("errors:py", 0, -1); print("FAIL producer read"); sys.exit(1)
except redis.exceptions.NoPermissionError:
    pass
assert w.lpop("errors:py") == b"e1"
try:
    w.config_get("*"); print("FAIL config"); sys.exit(1)
except redis.exceptions.NoPermissionError:
    pass
print("redis-py ok")
"#;
    let out = run(Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(&s.root)
        .arg(s.port.to_string()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("redis-py ok"),
        "{text}"
    );
}

/// A policy whose Redis section cannot be rendered safely: exit 2, positions and hints, nothing written.
#[test]
fn unrenderable_redis_policy_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let policy = local_policy(dir.path(), free_port(), &[("keys: [\"jobs:ai:*\", \"cache:ai:*\"]", "keys: [\"jobs:ai:*\", \"*\"]")]);
    let out = dir.path().join("out");
    let o = run(Command::new(env!("CARGO_BIN_EXE_secctl")).args(["render", "-p"]).arg(&policy).arg("--out").arg(&out));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("redis-queue-overlap") && err.contains("`ai` can read error queue `errors:*`"), "{err}");
    assert!(err.contains(&format!("{}:", policy.display())) && err.contains("help:"), "position and hint: {err}");
    assert!(!out.exists(), "nothing may be written");
}

/// `secctl render` itself (not only the library) provisions the Redis secrets: password files
/// and the loadable ACL appear next to the policy, 0600, and a second render keeps them.
#[test]
fn render_command_provisions_redis_secrets_and_keeps_them() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let policy = local_policy(root, free_port(), &[]);
    let loaded = load(&policy);
    render_into(&loaded, &root.join("out"));
    let pw_file = root.join("secrets/redis_backend_password");
    let acl_file = root.join("secrets/redis_users_acl");
    for f in [&pw_file, &acl_file] {
        assert_eq!(std::fs::metadata(f).unwrap_or_else(|e| panic!("{}: {e}", f.display())).permissions().mode() & 0o777, 0o600);
    }
    let first = std::fs::read_to_string(&pw_file).unwrap();
    render_into(&loaded, &root.join("out"));
    assert_eq!(std::fs::read_to_string(&pw_file).unwrap(), first, "a second render must not rotate passwords");
    // The secret never lands in the rendered (committed) tree.
    for entry in walk(&root.join("out")) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(!text.contains(first.trim()), "password leaked into {}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)); } else { out.push(p); }
    }
    out
}
