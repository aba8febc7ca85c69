//! `secctl verify` on a real redis-server 7 started from the rendered config: the clean
//! server passes every redis.* control; turning on the default user and giving a producer
//! read access to the error queue (ACL file edited, Redis restarted) each fail exactly their control.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;

use super::support::{explain, with_status};
use crate::render_data::support::{free_port, issue_pki, load, local_policy, render_into, tool, wait_for, Guard};
use crate::render_gw::support::secctl;

struct Redis {
    _dir: tempfile::TempDir,
    root: PathBuf,
    policy: PathBuf,
    acl: PathBuf,
    port: u16,
    proc: Option<Guard>,
}

impl Redis {
    fn start() -> Redis {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let port = free_port();
        let policy = local_policy(&root, port, &[]);
        issue_pki(&policy, &root.join("pki"));
        let loaded = load(&policy);
        render_into(&loaded, &root.join("out"));
        let prov = secctl::render::redis::provision_secrets(&secctl::policy::check::validate(loaded.clone()).unwrap_or_else(|r| panic!("{:?}", r.diagnostics))).unwrap().unwrap();
        std::fs::create_dir_all(root.join("state/redis")).unwrap();
        let mut r = Redis { _dir: dir, root, policy, acl: prov.acl_file, port, proc: None };
        r.restart();
        r
    }

    /// (Re)starts redis-server on the rendered config and waits until it accepts connections.
    fn restart(&mut self) {
        self.proc = None;
        let log = std::fs::File::create(self.root.join("redis.log")).unwrap();
        let child = Command::new(tool("redis-server")).arg(self.root.join("out/redis/redis.conf")).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
        self.proc = Some(Guard(child));
        let port = self.port;
        wait_for(15, "redis-server to listen", || TcpStream::connect(("127.0.0.1", port)).is_ok());
    }

    fn verify(&self) -> (i32, serde_json::Value) {
        let o = secctl().arg("verify").arg("-p").arg(&self.policy).arg("--pki-dir").arg(self.root.join("pki")).args(["--format", "json", "--only", "redis"]).output().unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
        (o.status.code().unwrap_or(-1), doc)
    }

    /// redis-cli as `user` (its certificate; the password in REDISCLI_AUTH, never on argv).
    fn cli(&self, user: &str, args: &[&str]) -> String {
        let pki = self.root.join("pki");
        let d = pki.join("services").join(user);
        let pw = std::fs::read_to_string(self.root.join(format!("secrets/redis_{user}_password"))).unwrap();
        let o = Command::new(tool("redis-cli"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "--tls", "--cacert"])
            .arg(pki.join("ca/chain.crt"))
            .arg("--cert")
            .arg(d.join("client-fullchain.crt"))
            .arg("--key")
            .arg(d.join("client.key"))
            .args(["--user", user, "--no-auth-warning"])
            .env("REDISCLI_AUTH", pw.trim())
            .args(args)
            .output()
            .unwrap();
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    }
}

/// The clean server passes every redis.* control, except that the rendered ACL (`%W~` for
/// producers) lets a producer DEL an error queue: verify's verdict on that must agree with
/// redis-cli. Mutations (ACL file edited, Redis restarted) fail exactly their control.
#[test]
fn redis_controls_clean_and_mutated() {
    let mut r = Redis::start();
    assert!(r.cli("backend", &["RPUSH", "errors:oracle", "x"]).trim().parse::<u32>().is_ok());
    let del_allowed = r.cli("backend", &["DEL", "errors:oracle"]).trim() == "1";
    let (code, doc) = r.verify();
    let failed = with_status(&doc, "fail");
    if del_allowed {
        assert_eq!(failed.iter().collect::<Vec<_>>(), ["redis.error-queue[errors:*]"], "{}", explain(&doc));
        assert!(explain(&doc).contains("DEL errors:secctl-verify-") && !explain(&doc).contains("LRANGE"), "{}", explain(&doc));
    } else {
        assert_eq!(code, 0, "{}", explain(&doc));
    }
    assert!(with_status(&doc, "not-evaluated").is_empty(), "{}", explain(&doc));
    let baseline = failed;
    let ids: Vec<&str> = doc["controls"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["redis.transport", "redis.default-user", "redis.acl[ai]", "redis.acl[backend]", "redis.acl[worker]", "redis.error-queue[errors:*]"]);

    let acl = std::fs::read_to_string(&r.acl).unwrap();
    for (what, edit, want) in [
        ("default user on", acl.lines().map(|l| if l.starts_with("user default ") { "user default on nopass ~* +@all".to_string() } else { l.to_string() }).collect::<Vec<_>>().join("\n") + "\n", "redis.default-user"),
        ("producer `backend` may read errors:*", acl.lines().map(|l| if l.starts_with("user backend ") { l.replace("%W~errors:*", "~errors:*") } else { l.to_string() }).collect::<Vec<_>>().join("\n") + "\n", "redis.error-queue[errors:*]"),
    ] {
        assert_ne!(edit, acl, "{what}: the mutation changed nothing");
        std::fs::write(&r.acl, &edit).unwrap();
        r.restart();
        let (code, doc) = r.verify();
        let mut expected = baseline.clone();
        expected.insert(want.to_string());
        assert_eq!(with_status(&doc, "fail"), expected, "mutation `{what}` (baseline {baseline:?}):\n{}", explain(&doc));
        assert_eq!(code, 1);
        if what.starts_with("producer") {
            assert!(explain(&doc).contains("LRANGE errors:secctl-verify-"), "the read access must be what fails: {}", explain(&doc));
        }
        std::fs::write(&r.acl, &acl).unwrap();
        r.restart();
    }
}
