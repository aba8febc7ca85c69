//! The hostile-value corpus: newlines, `;`, quotes, `$`, braces, spaces, `#`, `\`, `../`,
//! control and bidi characters and nginx `map` keywords, put into every policy field that
//! reaches a generated file. Each value must be either refused by `check` with a code that
//! names the field, or rendered so that it adds no line to any output and every output still
//! loads in its real server (`nginx -t` with ModSecurity + CRS, `modsec-rules-check`,
//! `redis-server` + PING, `docker-compose config`).
//!
//! A third outcome is tolerated and counted: `check` accepts and `render` refuses as a secctl
//! bug (the escaping layer caught what `check` should have). It writes nothing; the printed
//! table lists these cases for the `check` grammar to close.
//!
//! Classification runs in-process (fast); the real servers run once per value, on one policy
//! carrying that value in every field where it was accepted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use secctl::diag::Diagnostic;
use secctl::policy::LoadedPolicy;

use crate::render_data::support::{Guard, free_port, tool};

/// The corpus. Every entry is hostile to at least one target syntax.
pub const VALUES: &[&str] = &[
    "x\nSecRuleEngine Off",
    "x\r\nprivileged: true",
    "x\nenable-debug-command yes",
    ";include /etc/passwd;#",
    "x\";include /etc/passwd;#",
    "x' y",
    "x$http_host",
    "${HOME}x",
    "x{}",
    "x y",
    "#x",
    "x\\",
    "../../x",
    "x\u{1b}[2Kx",
    "x\u{0}x",
    "x\u{202e}x",
    "x\u{2028}x",
    "include",
    "default",
    "hostnames",
    "~x",
];

/// How a value is put into the policy.
#[derive(Clone, Copy, Debug)]
enum Put {
    /// Set the string at this JSON pointer.
    At(&'static str),
    /// Replace every string equal to this (and map keys equal to it): an identifier with references.
    Rename(&'static str),
    /// A deploy root: `<root>/<key>-<value>` (and `redis.secrets_dir` alongside `secrets_dir`).
    Deploy(&'static str),
    /// An extra response header with this value.
    ExtraHeader,
    /// The policy's file name: `p<value>.yaml`.
    FileName,
}

/// One field that reaches an output, and what a refusal's YAML path must mention.
struct Field {
    name: &'static str,
    put: Put,
    mentions: &'static [&'static str],
    /// nginx and Redis resolve this host name when they load: a well-formed name such as
    /// `default` fails on this machine for want of DNS, not for injection, so the server stage
    /// only takes an IP literal here (the in-process checks take every value).
    resolved: bool,
}

const fn f(name: &'static str, put: Put, mentions: &'static [&'static str]) -> Field {
    Field {
        name,
        put,
        mentions,
        resolved: false,
    }
}

const fn resolved(name: &'static str, put: Put, mentions: &'static [&'static str]) -> Field {
    Field {
        name,
        put,
        mentions,
        resolved: true,
    }
}

/// Every field that reaches an output (src/render and templates/).
const FIELDS: &[Field] = &[
    f("project.name", Put::At("/project/name"), &["project"]),
    f(
        "service name (worker)",
        Put::Rename("worker"),
        &["services", "flows", "redis", "clients", "worker"],
    ),
    f(
        "service name (ai)",
        Put::Rename("ai"),
        &["services", "flows", "redis", "routes", "clients"],
    ),
    f(
        "dns_names",
        Put::At("/services/backend/dns_names/0"),
        &["dns_names"],
    ),
    f("ips", Put::At("/services/backend/ips/0"), &["ips"]),
    resolved(
        "services.backend.listen.host",
        Put::At("/services/backend/listen/host"),
        &["listen"],
    ),
    resolved(
        "services.redis.listen.host",
        Put::At("/services/redis/listen/host"),
        &["listen"],
    ),
    resolved(
        "edge.listen.host",
        Put::At("/edge/listen/host"),
        &["listen"],
    ),
    f("edge.hosts", Put::At("/edge/hosts/0"), &["hosts"]),
    f(
        "edge.headers.content_security_policy",
        Put::At("/edge/headers/content_security_policy"),
        &["headers"],
    ),
    f(
        "edge.headers.referrer_policy",
        Put::At("/edge/headers/referrer_policy"),
        &["headers"],
    ),
    f("edge.headers.extra", Put::ExtraHeader, &["headers"]),
    f(
        "edge.cors.origins",
        Put::At("/edge/cors/origins/0"),
        &["cors"],
    ),
    f(
        "edge.cors.methods",
        Put::At("/edge/cors/methods/0"),
        &["cors"],
    ),
    f(
        "edge.cors.headers",
        Put::At("/edge/cors/headers/0"),
        &["cors"],
    ),
    f(
        "edge.max_body_size",
        Put::At("/edge/max_body_size"),
        &["max_body_size"],
    ),
    f("routes.path", Put::At("/routes/0/path"), &["routes"]),
    f(
        "routes.rate",
        Put::At("/routes/0/rate_limit/per_ip/rate"),
        &["rate"],
    ),
    f("identity.realm", Put::At("/identity/realm"), &["realm"]),
    f(
        "identity.url",
        Put::At("/identity/url"),
        &["identity.url", "url"],
    ),
    f(
        "identity.clients.client_id",
        Put::At("/identity/clients/1/client_id"),
        &["client"],
    ),
    f(
        "identity.roles (viewer)",
        Put::Rename("viewer"),
        &["roles", "role"],
    ),
    f(
        "identity.tenants (tenant-a)",
        Put::Rename("tenant-a"),
        &["tenant"],
    ),
    f(
        "identity.tenancy.claim",
        Put::At("/identity/tenancy/claim"),
        &["claim", "tenancy"],
    ),
    f(
        "waf.custom_rules.description",
        Put::At("/waf/custom_rules/0/description"),
        &["custom_rules"],
    ),
    f(
        "waf.custom_rules.rule",
        Put::At("/waf/custom_rules/0/rule"),
        &["custom_rules"],
    ),
    f(
        "routes.waf_exclusions.args",
        Put::At("/routes/2/waf_exclusions/0/args/0"),
        &["waf_exclusions", "args"],
    ),
    f(
        "routes.waf_exclusions.reason",
        Put::At("/routes/2/waf_exclusions/0/reason"),
        &["waf_exclusions"],
    ),
    f(
        "waf.allowed_methods",
        Put::At("/waf/allowed_methods/0"),
        &["allowed_methods"],
    ),
    f(
        "waf.allowed_content_types",
        Put::At("/waf/allowed_content_types/0"),
        &["allowed_content_types"],
    ),
    f("waf.audit_log", Put::At("/waf/audit_log"), &["audit_log"]),
    f(
        "redis.users.keys",
        Put::At("/redis/users/backend/keys/0"),
        &["redis"],
    ),
    f(
        "redis.error_queues.key",
        Put::At("/redis/error_queues/0/key"),
        &["redis"],
    ),
    f(
        "flows.description",
        Put::At("/flows/3/description"),
        &["flows"],
    ),
    f("deploy.config_dir", Put::Deploy("config_dir"), &["deploy"]),
    f("deploy.pki_dir", Put::Deploy("pki_dir"), &["deploy"]),
    f("deploy.state_dir", Put::Deploy("state_dir"), &["deploy"]),
    f(
        "deploy.secrets_dir",
        Put::Deploy("secrets_dir"),
        &["deploy", "secrets_dir"],
    ),
    f(
        "ca.organization",
        Put::At("/ca/organization"),
        &["ca", "organization"],
    ),
    f(
        "ca.trust_domain",
        Put::At("/ca/trust_domain"),
        &["ca", "trust_domain"],
    ),
    f("policy file name", Put::FileName, &[]),
];

/// The corpus as data: the base policy (local-stack with deploy roots under `root`).
struct Corpus {
    root: PathBuf,
    base: Value,
    baseline: BTreeMap<String, String>,
}

/// What happened to one (field, value).
#[derive(Debug)]
enum Outcome {
    Refused(Vec<Diagnostic>),
    RenderRefused(String),
    Rendered(BTreeMap<String, String>),
}

impl Corpus {
    fn new(root: &Path) -> Corpus {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/local-stack.yaml"),
        )
        .unwrap();
        let mut base: Value = serde_saphyr::from_str(&text).unwrap();
        let r = root.display();
        base["deploy"] = serde_json::json!({
            "config_dir": format!("{r}/config_dir"),
            "pki_dir": format!("{r}/pki_dir"),
            "state_dir": format!("{r}/state_dir"),
            "secrets_dir": format!("{r}/secrets_dir"),
        });
        base["redis"]["secrets_dir"] = format!("{r}/secrets_dir").into();
        base["waf"]["audit_log"] = format!("{r}/audit.json").into();
        // The extra header exists in the baseline too, so only its value varies.
        base["edge"]["headers"]["extra"] = serde_json::json!({ "X-Hostile": "benign" });
        let mut c = Corpus {
            root: root.to_path_buf(),
            base,
            baseline: BTreeMap::new(),
        };
        match c.classify(&c.base.clone(), "policy.yaml") {
            Outcome::Rendered(files) => c.baseline = files,
            other => panic!("the base policy must render: {other:?}"),
        }
        c
    }

    /// The base policy with `v` put into `field`, and the file name to load it as.
    fn apply(&self, doc: &Value, field: &Field, v: &str) -> Option<(Value, String)> {
        let mut d = doc.clone();
        let mut name = "policy.yaml".to_string();
        match field.put {
            Put::At(ptr) => {
                *d.pointer_mut(ptr)
                    .unwrap_or_else(|| panic!("local-stack.yaml lacks {ptr}: update the corpus")) =
                    v.into()
            }
            Put::Rename(old) => {
                let mut n = 0;
                rename(&mut d, old, v, &mut n);
                assert!(n > 1, "{old} is no longer referenced in local-stack.yaml");
            }
            Put::Deploy(key) => {
                let p = format!("{}/{key}-{v}", self.root.display());
                d["deploy"][key] = p.clone().into();
                if key == "secrets_dir" {
                    d["redis"]["secrets_dir"] = p.into();
                }
            }
            Put::ExtraHeader => {
                d["edge"]["headers"]["extra"] = serde_json::json!({ "X-Hostile": v });
            }
            Put::FileName => {
                if v.contains(['/', '\0']) {
                    return None; // not a file name on Linux
                }
                name = format!("p{v}.yaml");
            }
        }
        Some((d, name))
    }

    /// check, then render, in-process (the same functions the CLI runs).
    fn classify(&self, doc: &Value, name: &str) -> Outcome {
        let text = serde_json::to_string_pretty(doc).unwrap();
        let (policy, source) = match secctl::policy::load::parse_bytes(name, text.as_bytes()) {
            Ok(p) => p,
            Err(e) => return Outcome::Refused(e.diagnostics),
        };
        let loaded = LoadedPolicy {
            policy,
            source,
            base_dir: self.root.clone(),
        };
        let valid = match secctl::policy::check::validate(loaded) {
            Ok(v) => v,
            Err(r) => return Outcome::Refused(r.diagnostics),
        };
        match secctl::render::render_all(&valid) {
            Ok(files) => {
                Outcome::Rendered(files.into_iter().map(|(k, f)| (k, f.contents)).collect())
            }
            Err(e) => Outcome::RenderRefused(format!("{e:#}")),
        }
    }

    /// The in-process assertions on a rendered case; returns what is wrong, if anything.
    fn injected(&self, files: &BTreeMap<String, String>, v: &str) -> Option<String> {
        // Upstream snippets and kit settings are named after services: compare them as pools.
        let lines = |f: &BTreeMap<String, String>| -> BTreeMap<String, Vec<usize>> {
            let mut m: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for (p, t) in f {
                let k = if p.starts_with("nginx/snippets/upstream-") {
                    "nginx/snippets/upstream-*"
                } else if p.starts_with("kit/") {
                    "kit/*.json"
                } else {
                    p
                };
                m.entry(k.to_string()).or_default().push(t.lines().count());
            }
            m.values_mut().for_each(|v| v.sort());
            m
        };
        let (got, base) = (lines(files), lines(&self.baseline));
        if got != base {
            return Some(format!(
                "line counts per file {got:?}, the baseline {base:?}: the value added a line or a file"
            ));
        }
        for (path, text) in files {
            if text.contains(['\r', '\0', '\u{1b}', '\u{202e}', '\u{2028}']) {
                return Some(format!(
                    "{path} carries a raw control, bidi or separator character"
                ));
            }
            if v.contains(['\n', '\r', '\0', '\u{1b}', '\u{202e}', '\u{2028}']) && text.contains(v)
            {
                return Some(format!("{path} holds the raw value verbatim"));
            }
        }
        None
    }
}

/// Renames an identifier everywhere it is referenced: every string value equal to `old` (but
/// never a `kind`, whose values are an enum that happens to share names with services) and the
/// keys of the maps keyed by service (`services`, `redis.users`).
pub(crate) fn rename(v: &mut Value, old: &str, new: &str, n: &mut usize) {
    rename_under(v, "", old, new, n)
}

fn rename_under(v: &mut Value, key: &str, old: &str, new: &str, n: &mut usize) {
    match v {
        Value::String(s) if s == old && key != "kind" => {
            *s = new.to_string();
            *n += 1;
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rename_under(x, key, old, new, n)),
        Value::Object(m) => {
            if matches!(key, "services" | "users")
                && let Some(x) = m.remove(old)
            {
                m.insert(new.to_string(), x);
                *n += 1;
            }
            for (k, x) in m.iter_mut() {
                rename_under(x, k, old, new, n);
            }
        }
        _ => {}
    }
}

/// Builds the test PKI once (the local stack's, with loopback roots) and copies it wherever a
/// policy's `deploy.pki_dir` points, so nginx and Redis can load the certificates.
fn issue_base_pki(root: &Path, base: &Value) -> PathBuf {
    let p = root.join("base-policy.yaml");
    std::fs::write(&p, serde_json::to_string_pretty(base).unwrap()).unwrap();
    let pki = root.join("base-pki");
    let o = Command::new(env!("CARGO_BIN_EXE_secctl"))
        .args(["certs", "issue", "-p"])
        .arg(&p)
        .arg("--pki-dir")
        .arg(&pki)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "certs issue: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    pki
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// Renders `doc` with the real CLI into its `deploy.config_dir` and runs the four servers on
/// the output (those whose files the policy produces). Returns what failed, in the tools' words.
pub(crate) fn servers_accept(
    doc: &Value,
    name: &str,
    dir: &Path,
    base_pki: &Path,
) -> Result<(), String> {
    let s = |ptr: &str| PathBuf::from(doc.pointer(ptr).and_then(Value::as_str).unwrap());
    let (out, pki, state, secrets) = (
        s("/deploy/config_dir"),
        s("/deploy/pki_dir"),
        s("/deploy/state_dir"),
        s("/deploy/secrets_dir"),
    );
    let policy = dir.join(name);
    std::fs::write(&policy, serde_json::to_string_pretty(doc).unwrap()).unwrap();
    // Every tool runs in the case's directory: a relative path in a hostile value (an audit
    // log named `include`) must land there, never in the repository.
    let o = Command::new(env!("CARGO_BIN_EXE_secctl"))
        .current_dir(dir)
        .arg("render")
        .arg("-p")
        .arg(&policy)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    if !o.status.success() {
        return Err(format!(
            "secctl render: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    // After render (which replaces its output directory whole): `../` can make the roots one directory.
    copy_tree(base_pki, &pki);
    std::fs::create_dir_all(state.join("redis")).unwrap();
    let has = |f: &str| out.join(f).is_file();
    // nginx -t with the ModSecurity module and every CRS rule.
    if has("nginx/nginx.conf") {
        let o = Command::new(tool("nginx"))
            .current_dir(dir)
            .arg("-t")
            .arg("-p")
            .arg(&state)
            .arg("-e")
            .arg(dir.join("nginx-t.log"))
            .arg("-c")
            .arg(out.join("nginx/nginx.conf"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        if !o.status.success() || !err.contains("test is successful") || err.contains("[warn]") {
            return Err(format!("nginx -t: {err}"));
        }
    }
    if has("modsecurity/main.conf") {
        let o = Command::new(tool("/usr/lib/x86_64-linux-gnu/libexec/modsec-rules-check"))
            .current_dir(dir)
            .arg(out.join("modsecurity/main.conf"))
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        if !o.status.success() || !text.contains("Test ok") {
            return Err(format!("modsec-rules-check: {text}"));
        }
    }
    if has("redis/redis.conf") {
        redis_starts(doc, &out, &pki, &secrets, dir)?;
    }
    compose_config(&out, &pki, &secrets, dir)
}

/// Starts redis-server on the rendered redis.conf (its ACL file provisioned by render), then
/// PINGs as the `backend` user over mutual TLS.
fn redis_starts(
    doc: &Value,
    out: &Path,
    pki: &Path,
    secrets: &Path,
    dir: &Path,
) -> Result<(), String> {
    let port = doc["services"]["redis"]["listen"]["port"]
        .as_u64()
        .unwrap()
        .to_string();
    let log = dir.join("redis.log");
    let child = Command::new(tool("redis-server"))
        .current_dir(dir)
        .arg(out.join("redis/redis.conf"))
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut g = Guard(child);
    // Any user render provisioned a password for (`backend` when there is one).
    let mut users: Vec<String> = std::fs::read_dir(secrets)
        .map_err(|e| format!("no Redis secrets: {e}"))?
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            Some(
                n.strip_prefix("redis_")?
                    .strip_suffix("_password")?
                    .to_string(),
            )
        })
        .collect();
    users.sort_by_key(|u| u != "backend");
    let user = users
        .first()
        .ok_or("render provisioned no Redis password")?
        .clone();
    let pw = std::fs::read_to_string(secrets.join(format!("redis_{user}_password")))
        .map_err(|e| format!("no password for {user}: {e}"))?;
    let cert = pki.join("services").join(&user);
    let ping = || {
        let o = Command::new(tool("redis-cli"))
            .current_dir(dir)
            .args(["-h", "127.0.0.1", "-p", &port, "--tls", "--cacert"])
            .arg(pki.join("ca/chain.crt"))
            .arg("--cert")
            .arg(cert.join("client-fullchain.crt"))
            .arg("--key")
            .arg(cert.join("client.key"))
            .args(["--user", &user, "--no-auth-warning", "PING"])
            .env("REDISCLI_AUTH", pw.trim())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).contains("PONG")
    };
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(15) {
        if ping() {
            return Ok(());
        }
        if let Ok(Some(st)) = g.0.try_wait() {
            return Err(format!(
                "redis-server exited ({st}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(format!(
        "redis-server never answered PING: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    ))
}

/// `docker-compose config` on the override, over a base file that gives each service an image.
fn compose_config(out: &Path, pki: &Path, secrets: &Path, dir: &Path) -> Result<(), String> {
    let over = out.join("compose/docker-compose.secctl.yml");
    let doc = secctl::render::compose::check::parse(&std::fs::read_to_string(&over).unwrap())
        .map_err(|e| e.to_string())?;
    let services: serde_json::Map<String, Value> = doc["services"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (k.clone(), serde_json::json!({ "image": "busybox" })))
        .collect();
    let base = dir.join("base-compose.yml");
    std::fs::write(
        &base,
        serde_json::to_string(&serde_json::json!({ "version": "3.8", "services": services }))
            .unwrap(),
    )
    .unwrap();
    let o = Command::new(tool("docker-compose"))
        .current_dir(dir)
        .arg("-f")
        .arg(&base)
        .arg("-f")
        .arg(&over)
        .args(["--project-name", "secctlhostile", "config"])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .env("SECCTL_PKI_DIR", pki)
        .env("SECCTL_RENDER_DIR", out)
        .env("SECCTL_REDIS_SECRETS_DIR", secrets)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if !o.status.success() {
        return Err(format!(
            "docker-compose config: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(())
}

/// The server stage for one value: a policy carrying it in every field where it rendered
/// (all at once, or greedily one field at a time if the combination does not render), its own
/// deploy roots and Redis port, then the four servers. Returns how many fields it carried.
fn serve_value(
    corpus: &Corpus,
    base_pki: &Path,
    vi: usize,
    fields: &[&Field],
) -> Result<usize, String> {
    let v = VALUES[vi];
    let mut doc = corpus.base.clone();
    doc["services"]["redis"]["listen"]["port"] = free_port().into();
    let own = corpus.root.join(format!("v{vi}"));
    for k in ["config_dir", "pki_dir", "state_dir", "secrets_dir"] {
        doc["deploy"][k] = own.join(k).display().to_string().into();
    }
    doc["redis"]["secrets_dir"] = own.join("secrets_dir").display().to_string().into();
    doc["waf"]["audit_log"] = own.join("audit.json").display().to_string().into();
    let usable: Vec<&Field> = fields
        .iter()
        .copied()
        .filter(|f| !f.resolved || v.parse::<std::net::IpAddr>().is_ok())
        .collect();
    let renders = |d: &Value, n: &str| matches!(corpus.classify(d, n), Outcome::Rendered(ref f) if corpus.injected(f, v).is_none());
    let (mut all, mut all_name) = (doc.clone(), "policy.yaml".to_string());
    for field in &usable {
        if let Some((next, n)) = corpus.apply(&all, field, v) {
            (all, all_name) = (next, n);
        }
    }
    let (doc, name, used) = if renders(&all, &all_name) {
        (all, all_name, usable.len())
    } else {
        let (mut name, mut used) = ("policy.yaml".to_string(), 0);
        for field in &usable {
            if let Some((next, n)) = corpus.apply(&doc, field, v)
                && renders(&next, &n)
            {
                (doc, name) = (next, n);
                used += 1;
            }
        }
        (doc, name, used)
    };
    std::fs::create_dir_all(&own).unwrap();
    servers_accept(&doc, &name, &own, base_pki)
        .map(|()| used)
        .map_err(|e| format!("value {v:?} in {used} fields: {e}"))
}

/// One value through every field, in-process.
struct ValueReport {
    vi: usize,
    /// (field, column: 0 refused by check, 1 refused by render, 2 rendered).
    rows: Vec<(&'static str, usize)>,
    failures: Vec<String>,
    render_refused: Vec<String>,
    fields: Vec<&'static Field>,
}

fn classify_value(corpus: &Corpus, vi: usize) -> ValueReport {
    let v = VALUES[vi];
    let mut r = ValueReport {
        vi,
        rows: Vec::new(),
        failures: Vec::new(),
        render_refused: Vec::new(),
        fields: Vec::new(),
    };
    for field in FIELDS {
        let Some((doc, name)) = corpus.apply(&corpus.base, field, v) else {
            continue;
        };
        match corpus.classify(&doc, &name) {
            Outcome::Refused(diags) => {
                r.rows.push((field.name, 0));
                let errors: Vec<&Diagnostic> = diags
                    .iter()
                    .filter(|d| d.severity == secctl::diag::Severity::Error)
                    .collect();
                let named = field.mentions.is_empty()
                    || errors.iter().any(|d| {
                        field
                            .mentions
                            .iter()
                            .any(|m| d.path.contains(m) || d.message.contains(m))
                    });
                if errors.is_empty() || errors.iter().any(|d| d.code.is_empty()) || !named {
                    r.failures.push(format!(
                        "{} = {v:?}: refused without a coded error naming the field: {:?}",
                        field.name,
                        errors
                            .iter()
                            .map(|d| (&d.code, &d.path))
                            .collect::<Vec<_>>()
                    ));
                }
            }
            Outcome::RenderRefused(msg) => {
                r.rows.push((field.name, 1));
                if msg.contains(['\0', '\u{1b}', '\u{202e}', '\u{2028}']) {
                    r.failures.push(format!("{} = {v:?}: render's error echoes a raw control or bidi character: {msg:?}", field.name));
                }
                r.render_refused.push(format!("{} = {v:?}", field.name));
            }
            Outcome::Rendered(files) => {
                r.rows.push((field.name, 2));
                match corpus.injected(&files, v) {
                    Some(why) => r.failures.push(format!("{} = {v:?}: {why}", field.name)),
                    None => r.fields.push(field),
                }
            }
        }
    }
    r
}

/// Runs `work` over `items` on two threads (the CI machine has two cores), in item order.
fn on_two_threads<T: Send, R: Send>(items: Vec<T>, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    let mut items: Vec<(usize, T)> = items.into_iter().enumerate().collect();
    let odd: Vec<(usize, T)> = {
        let (a, b): (Vec<_>, Vec<_>) = items.drain(..).partition(|(i, _)| i % 2 == 1);
        items = b;
        a
    };
    let work = &work;
    let mut out: Vec<(usize, R)> = std::thread::scope(|scope| {
        let h = scope.spawn(move || {
            odd.into_iter()
                .map(|(i, t)| (i, work(t)))
                .collect::<Vec<_>>()
        });
        let mut mine: Vec<(usize, R)> = items.into_iter().map(|(i, t)| (i, work(t))).collect();
        mine.extend(h.join().unwrap());
        mine
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

#[test]
fn hostile_values_are_refused_by_check_or_land_escaped_and_every_server_loads_the_output() {
    let tmp = tempfile::Builder::new()
        .prefix("secctl-hostile-")
        .tempdir()
        .unwrap();
    let started = std::time::Instant::now();
    let corpus = Corpus::new(tmp.path());
    let base_pki = issue_base_pki(tmp.path(), &corpus.base);
    let mut failures = Vec::new();
    let mut table: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    let mut render_refused = Vec::new();
    // value -> the fields where it rendered (for the server stage).
    let mut accepted: Vec<(usize, Vec<&Field>)> = Vec::new();
    let reports: Vec<ValueReport> = on_two_threads((0..VALUES.len()).collect(), |vi| {
        classify_value(&corpus, vi)
    });
    for r in reports {
        for (name, col) in r.rows {
            table.entry(name).or_default()[col] += 1;
        }
        failures.extend(r.failures);
        render_refused.extend(r.render_refused);
        accepted.push((r.vi, r.fields));
    }
    eprintln!(
        "classified {} cases in {:.1?}",
        VALUES.len() * FIELDS.len(),
        started.elapsed()
    );
    eprintln!("field: refused by check / refused by render (check must close) / rendered escaped");
    for (k, [a, b, c]) in &table {
        eprintln!("  {k:45} {a:3} {b:3} {c:3}");
    }
    eprintln!(
        "render refused {} cases that check accepted",
        render_refused.len()
    );
    for r in &render_refused {
        eprintln!("  render refused: {r}");
    }

    // Server stage: per value, one policy with the value in every field where it rendered.
    let results = on_two_threads(accepted, |(vi, fields)| {
        serve_value(&corpus, &base_pki, vi, &fields)
    });
    let mut fields_served = 0;
    for r in results {
        match r {
            Ok(n) => fields_served += n,
            Err(e) => failures.push(e),
        }
    }
    eprintln!("total {:.1?}", started.elapsed());
    eprintln!(
        "servers loaded {} rendered (field, value) pairs in {} combined policies",
        fields_served,
        VALUES.len()
    );
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    // `check` is the only gate: whatever it accepts renders. A render refusal here means a
    // grammar in `policy::types` is looser than what a renderer can carry.
    assert!(
        render_refused.is_empty(),
        "render refused {} case(s) that `secctl check` accepted (tighten the grammar in src/policy/types):\n{}",
        render_refused.len(),
        render_refused.join("\n")
    );
    // The corpus must exercise the renderers, not only check's refusals.
    assert!(
        fields_served > 50,
        "only {fields_served} hostile (field, value) pairs reached the servers"
    );
}

/// The CLI gives the same verdict as the library: a refused value is exit 1 or 2 with a code.
#[test]
fn check_cli_refuses_a_hostile_service_name_with_a_code() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = Corpus::new(tmp.path());
    let v = "api (~* &* +@all)";
    let (doc, _) = corpus.apply(&corpus.base, &FIELDS[1], v).unwrap();
    let p = tmp.path().join("policy.yaml");
    std::fs::write(&p, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_secctl"))
        .args(["check", "--format", "json", "-p"])
        .arg(&p)
        .output()
        .unwrap();
    let code = o.status.code();
    let render = Command::new(env!("CARGO_BIN_EXE_secctl"))
        .args(["render", "-p"])
        .arg(&p)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    if code == Some(0) {
        // Until check knows the name grammar, render must refuse (exit 2) and write nothing.
        assert_eq!(
            render.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&render.stderr)
        );
        assert!(
            String::from_utf8_lossy(&render.stderr).contains("a secctl bug"),
            "{}",
            String::from_utf8_lossy(&render.stderr)
        );
    } else {
        assert!(matches!(code, Some(1 | 2)), "check exit {code:?}");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("\"code\""), "{out}");
        assert!(!render.status.success());
    }
    assert!(
        !tmp.path().join("out").exists(),
        "a refused render wrote files"
    );
    assert!(
        !tmp.path().join("secrets_dir").exists(),
        "a refused render wrote secrets"
    );
}
