//! A loopback gateway stack for tests: the local-stack policy on free ports, a PKI in the
//! CA layout contract, the rendered configs, an upstream nginx that requires the gateway's
//! client certificate, and the gateway itself. Every process is stopped on drop.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The secctl binary under test.
pub fn secctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_secctl"))
}

/// Fails (never skips) when a required tool is missing.
pub fn require(tool: &str) -> PathBuf {
    let p = Path::new(tool);
    if p.is_absolute() {
        assert!(p.exists(), "{tool} is missing: run `.ci/run` (or install nginx, libnginx-mod-http-modsecurity, modsecurity-crs, curl, openssl)");
        return p.to_path_buf();
    }
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(tool))
        .find(|c| c.exists());
    found.unwrap_or_else(|| panic!("`{tool}` is not installed: run `.ci/run` (it installs nginx, libnginx-mod-http-modsecurity, modsecurity-crs, curl, openssl)"))
}

/// The Python venv with sslyze (SECCTL_TEST_VENV, default `<repo>/.venv`).
pub fn venv_bin(name: &str) -> PathBuf {
    let venv = std::env::var_os("SECCTL_TEST_VENV").map(PathBuf::from).unwrap_or_else(|| repo().join(".venv"));
    let p = venv.join("bin").join(name);
    assert!(p.exists(), "{} is missing: run `.ci/run` (it creates the venv from tests/requirements.txt) or set SECCTL_TEST_VENV", p.display());
    p
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Ports of one stack.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    pub https: u16,
    pub http: u16,
    pub internal: u16,
    pub backend: u16,
    pub ai: u16,
}

/// Where the stack's certificates come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pki {
    /// `secctl certs issue` (plus a foreign CA from openssl for negative tests).
    Secctl,
    /// The openssl script, for what `certs issue` does not make: a revoked `worker` cert in the
    /// CRL and an `intruder` cert for a service the policy does not know.
    Openssl,
}

/// A rendered (and optionally running) gateway stack in a temporary directory.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub policy: PathBuf,
    pub out: PathBuf,
    pub pki: PathBuf,
    pub state: PathBuf,
    pub ports: Ports,
    /// Whose server certificate the stand-in AI service presents (default its own).
    pub ai_cert: &'static str,
    procs: Vec<Proc>,
    n: AtomicUsize,
}

impl Stack {
    /// Copies policies/local-stack.yaml with free ports and deploy roots in a temp dir,
    /// creates the PKI and renders. `edit` may change the policy text first.
    pub fn rendered_with(edit: impl FnOnce(String) -> String) -> Stack {
        Self::with_pki(Pki::Secctl, edit)
    }

    /// Like [`Stack::rendered_with`], with the PKI from `pki`.
    pub fn with_pki(pki_source: Pki, edit: impl FnOnce(String) -> String) -> Stack {
        require("openssl");
        let dir = tempfile::Builder::new().prefix("secctl-rgw-").tempdir().unwrap();
        let root = dir.path();
        // nginx workers run as `nobody` when the master is root: let them reach state and temp dirs.
        chmod(root, 0o755);
        // Five distinct ports: the OS may hand the same free port out twice in a row.
        let mut picked: Vec<u16> = Vec::new();
        while picked.len() < 5 {
            let p = free_port();
            if !picked.contains(&p) {
                picked.push(p);
            }
        }
        let ports = Ports { https: picked[0], http: picked[1], internal: picked[2], backend: picked[3], ai: picked[4] };
        let (pki, state, out) = (root.join("pki"), root.join("gwstate"), root.join("out"));
        let mut text = std::fs::read_to_string(repo().join("policies/local-stack.yaml")).unwrap();
        for (from, to) in [(28443, ports.https), (28080, ports.http), (28445, ports.internal), (28001, ports.backend), (28002, ports.ai)] {
            let before = text.clone();
            text = text.replace(&format!("port: {from} "), &format!("port: {to} "));
            assert_ne!(before, text, "local-stack.yaml no longer has port {from}: update the test");
        }
        text = text.replace("/tmp/secctl-modsec-audit.json", &state.join("audit.json").display().to_string());
        text.push_str(&format!(
            "\ndeploy:\n  config_dir: {}\n  pki_dir: {}\n  state_dir: {}\n",
            out.display(),
            pki.display(),
            state.display()
        ));
        let text = edit(text);
        let policy = root.join("policy.yaml");
        std::fs::write(&policy, text).unwrap();
        // The gateway's state root (deploy.state_dir): nginx creates everything inside it.
        std::fs::create_dir_all(&state).unwrap();
        chmod(&state, 0o777);
        std::fs::create_dir_all(root.join("up/tmp")).unwrap();
        chmod(&root.join("up/tmp"), 0o777);
        let script = repo().join("tests/it/render_gw/pki.sh");
        if pki_source == Pki::Secctl {
            let o = secctl().args(["certs", "issue", "--policy"]).arg(&policy).arg("--pki-dir").arg(&pki).output().unwrap();
            assert!(o.status.success(), "secctl certs issue failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            let st = Command::new("bash").arg(&script).arg("rogue").arg(&pki).arg("Acme").status().unwrap();
            assert!(st.success(), "foreign test CA generation failed");
        } else {
            let st = Command::new("bash").arg(&script).arg("full").arg(&pki).arg("Acme").args(["gateway", "backend", "ai", "worker"]).status().unwrap();
            assert!(st.success(), "test PKI generation failed");
        }
        let o = secctl().arg("render").arg("-p").arg(&policy).arg("--out").arg(&out).output().unwrap();
        assert!(o.status.success(), "render failed: {}", String::from_utf8_lossy(&o.stderr));
        Stack { dir, policy, out, pki, state, ports, ai_cert: "ai", procs: Vec::new(), n: AtomicUsize::new(0) }
    }

    /// The local stack, rendered, not started.
    pub fn rendered() -> Stack {
        Self::rendered_with(|t| t)
    }

    /// The local stack, rendered and running (upstreams + gateway).
    pub fn running() -> Stack {
        let mut s = Self::rendered();
        s.start();
        s
    }

    /// Starts the upstream nginx and the gateway, and waits until they listen.
    pub fn start(&mut self) {
        let nginx = require("nginx");
        let up = self.dir.path().join("up");
        let conf = up.join("nginx.conf");
        std::fs::write(&conf, upstream_conf(&self.pki, &up, self.ports, self.ai_cert)).unwrap();
        self.procs.push(Proc::spawn(Command::new(&nginx).arg("-p").arg(&up).arg("-e").arg(up.join("error.log")).arg("-c").arg(&conf).args(["-g", "daemon off;"])));
        let ng = &self.state;
        self.procs.push(Proc::spawn(
            Command::new(&nginx).arg("-p").arg(ng).arg("-e").arg(ng.join("nginx-error.log")).arg("-c").arg(self.out.join("nginx/nginx.conf")).args(["-g", "daemon off;"]),
        ));
        for port in [self.ports.backend, self.ports.ai, self.ports.https, self.ports.http, self.ports.internal] {
            wait_port(port, &self.error_log());
        }
    }

    /// The gateway's error log (for assertion messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.state.join("nginx-error.log")).unwrap_or_default()
    }

    /// Sends one request with curl, verifying TLS against the test CA.
    pub fn curl(&self, args: &[&str]) -> Resp {
        let curl = require("curl");
        let i = self.n.fetch_add(1, Ordering::SeqCst);
        let (h, b) = (self.dir.path().join(format!("h{i}")), self.dir.path().join(format!("b{i}")));
        let o = Command::new(curl)
            .args(["-sS", "--max-time", "10", "--cacert"])
            .arg(self.pki.join("ca/bundle.crt"))
            .arg("-D")
            .arg(&h)
            .arg("-o")
            .arg(&b)
            .args(["-w", "%{http_code}"])
            .args(args)
            .output()
            .unwrap();
        let status: u16 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap_or(0);
        let headers = std::fs::read_to_string(&h).unwrap_or_default();
        let body = std::fs::read_to_string(&b).unwrap_or_default();
        Resp { status, headers: headers.to_ascii_lowercase(), body, curl_error: String::from_utf8_lossy(&o.stderr).into_owned() }
    }

    /// Like [`Stack::curl`], presenting `svc`'s client certificate (from `pki/services/<svc>`).
    pub fn curl_as(&self, svc: &str, args: &[&str]) -> Resp {
        let cert = self.client_cert(svc);
        let mut all: Vec<&str> = cert.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        self.curl(&all)
    }

    /// `https://127.0.0.1:<public port><path>`.
    pub fn public(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.ports.https)
    }

    /// `https://127.0.0.1:<internal port><path>`.
    pub fn internal(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.ports.internal)
    }

    /// `--cert/--key` arguments for a service's client certificate.
    pub fn client_cert(&self, svc: &str) -> [String; 4] {
        let d = self.pki.join("services").join(svc);
        ["--cert".into(), d.join("client-fullchain.crt").display().to_string(), "--key".into(), d.join("client.key").display().to_string()]
    }
}

impl Stack {
    /// The running gateway's nginx.conf (in the rendered output).
    pub fn gateway_conf(&self) -> PathBuf {
        self.out.join("nginx/nginx.conf")
    }

    /// Edits a file the running gateway reads (nginx.conf, the ModSecurity files), checks the
    /// result with `nginx -t`, reloads the gateway and waits until the new workers serve.
    pub fn mutate_gateway(&self, file: &Path, edit: impl FnOnce(String) -> String) {
        let before = std::fs::read_to_string(file).unwrap();
        let after = edit(before.clone());
        assert_ne!(before, after, "the mutation changed nothing in {}", file.display());
        std::fs::write(file, after).unwrap();
        let conf = self.gateway_conf();
        let t = Command::new(require("nginx")).arg("-t").arg("-p").arg(&self.state).arg("-c").arg(&conf).output().unwrap();
        assert!(t.status.success(), "mutated config does not load: {}", String::from_utf8_lossy(&t.stderr));
        reload(&self.state.join("nginx.pid"), &self.state.join("nginx-error.log"));
    }

    /// Edits the upstream stubs' nginx.conf and reloads them.
    pub fn mutate_upstreams(&self, edit: impl FnOnce(String) -> String) {
        let up = self.dir.path().join("up");
        let conf = up.join("nginx.conf");
        let before = std::fs::read_to_string(&conf).unwrap();
        let after = edit(before.clone());
        assert_ne!(before, after, "the mutation changed nothing in the upstream config");
        std::fs::write(&conf, after).unwrap();
        reload(&up.join("nginx.pid"), &up.join("error.log"));
    }
}

/// HUP to the nginx master, then wait until its log shows the reconfiguration and a new
/// worker, and give the old workers a moment to stop accepting.
fn reload(pid_file: &Path, log: &Path) {
    let count = |p: &Path| std::fs::read_to_string(p).unwrap_or_default().matches("reconfiguring").count();
    let n = count(log);
    let pid = std::fs::read_to_string(pid_file).unwrap();
    let st = Command::new("kill").arg("-HUP").arg(pid.trim()).status().unwrap();
    assert!(st.success(), "cannot signal nginx {pid}");
    let start = Instant::now();
    while count(log) <= n {
        assert!(start.elapsed() < Duration::from_secs(10), "nginx did not reload: {}", std::fs::read_to_string(log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(20));
    }
    let tail = |p: &Path| std::fs::read_to_string(p).unwrap_or_default().rsplit("reconfiguring").next().unwrap_or_default().contains("start worker process");
    while !tail(log) {
        assert!(start.elapsed() < Duration::from_secs(10), "nginx started no new worker after the reload");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
}

/// One curl response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    /// Raw header block, lowercased.
    pub headers: String,
    pub body: String,
    pub curl_error: String,
}

impl Resp {
    /// The value of a response header (lowercase name), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()))
    }
}

/// The stand-in backend and AI service: nginx TLS servers that require a client
/// certificate from the service CA and echo what they received as JSON.
fn upstream_conf(pki: &Path, up: &Path, p: Ports, ai_cert: &str) -> String {
    let server = |svc: &str, port: u16, cert_of: &str| {
        let d = pki.join("services").join(cert_of);
        format!(
            r#"
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_client_certificate {chain};
        ssl_verify_client on;
        ssl_verify_depth 2;
        location / {{
            default_type application/json;
            add_header X-Powered-By leaky-framework;
            add_header Access-Control-Allow-Origin "*";
            return 200 '{{"svc":"{svc}","method":"$request_method","uri":"$request_uri","peer":"$ssl_client_s_dn","identity":"$http_x_client_identity","client_dn":"$http_x_client_dn","xff":"$http_x_forwarded_for","real_ip":"$http_x_real_ip"}}';
        }}
    }}"#,
            cert = d.join("server-fullchain.crt").display(),
            key = d.join("server.key").display(),
            chain = pki.join("ca/chain.crt").display(),
        )
    };
    format!(
        "worker_processes 1;\npid {pid};\nerror_log {log} notice;\nevents {{ worker_connections 64; }}\nhttp {{\n    access_log off;\n    client_body_temp_path {tmp};\n{b}\n{a}\n}}\n",
        pid = up.join("nginx.pid").display(),
        log = up.join("error.log").display(),
        tmp = up.join("tmp").display(),
        b = server("backend", p.backend, "backend"),
        a = server("ai", p.ai, ai_cert),
    )
}

fn wait_port(port: u16, log: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port} after 15 s; gateway error log:\n{log}");
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A child process stopped (TERM, then KILL) on drop.
struct Proc(Child);

impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        Proc(cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("cannot start nginx"))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // nginx's master stops its workers on TERM; KILL would orphan them.
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
