//! Integration tests: the policy (loading, `check`, `init`, `schema`, documentation of codes).
//!
//! The exact wording and positions of diagnostics are pinned by the trycmd
//! cases in `tests/cmd/bad/` (see `cli.rs`); these tests prove the contracts
//! around them: exit codes, the JSON shape, shipped policies and templates.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn secctl(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_secctl"))
        .args(args)
        .current_dir(cwd)
        .env_remove("SECCTL_POLICY")
        .env("NO_COLOR", "1")
        .output()
        .expect("run secctl")
}

/// The `--format json` document of `check`, decoded strictly: a new or renamed
/// field fails this test, so the JSON contract cannot drift silently.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckJson {
    diagnostics: Vec<DiagJson>,
    errors: usize,
    warnings: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiagJson {
    code: String,
    severity: String,
    message: String,
    file: String,
    line: u32,
    column: u32,
    path: String,
    hint: Option<String>,
}

fn check_json(policy: &Path) -> (i32, CheckJson) {
    let out = secctl(&["check", "-p", policy.to_str().unwrap(), "--format", "json"], &root());
    let doc: CheckJson = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout of check on {} is not the JSON contract: {e}\n{}", policy.display(), String::from_utf8_lossy(&out.stdout)));
    (out.status.code().expect("exit code"), doc)
}

#[test]
fn shipped_policies_pass_check() {
    for p in ["policies/reference.yaml", "policies/minimal.yaml", "policies/local-stack.yaml"] {
        let (code, doc) = check_json(&root().join(p));
        assert_eq!(code, 0, "{p}: {doc:#?}");
        assert!(doc.diagnostics.is_empty(), "{p} should have no findings: {doc:#?}");
    }
}

#[test]
fn json_output_decodes_into_strict_structs() {
    let (code, doc) = check_json(&root().join("tests/cmd/bad/redis.yaml"));
    assert_eq!(code, 1, "semantic errors exit 1");
    assert_eq!((doc.errors, doc.warnings), (4, 1));
    assert_eq!(doc.diagnostics.len(), 5);
    assert!(doc.diagnostics.iter().any(|d| d.code == "redis-service-invalid"), "render-only Redis rules are reported by check too");
    let d = doc.diagnostics.iter().find(|d| d.code == "redis-user-without-flow").expect("redis-user-without-flow reported");
    assert_eq!((d.line, d.column, d.severity.as_str()), (15, 5, "error"));
    assert_eq!(d.path, "redis.users.worker");
    assert!(d.file.ends_with("redis.yaml"));
    assert!(d.message.contains("`worker`"), "{}", d.message);
    assert!(d.hint.as_deref().is_some_and(|h| h.contains("from: worker, to: redis")));
    let w = doc.diagnostics.iter().find(|d| d.severity == "warning").unwrap();
    assert_eq!(w.code, "error-queue-consumer-not-worker");
}

#[test]
fn every_structural_error_is_reported_at_once_with_exit_2() {
    let (code, doc) = check_json(&root().join("tests/cmd/bad/many-errors.yaml"));
    assert_eq!(code, 2, "structural errors exit 2");
    let got: Vec<(&str, u32, &str)> = doc.diagnostics.iter().map(|d| (d.code.as_str(), d.line, d.path.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("unknown-key", 6, "services.api.dns_name"),
            ("invalid-value", 8, "services.gw.kind"),
            ("out-of-range", 9, "services.gw.listen.port"),
            ("invalid-value", 13, "routes[0].auth"),
            ("wrong-type", 14, "routes[0].roles"),
        ]
    );
    assert_eq!(doc.diagnostics[0].hint.as_deref(), Some("did you mean `dns_names`?"));
}

#[test]
fn unreadable_input_exits_2_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 3] = [("empty.yaml", b"\n# only a comment\n", "file-empty"), ("latin1.yaml", b"version: 1\nname: d\xe9mo\n", "file-not-utf8"), ("syntax.yaml", b"a: [1, 2\n", "yaml-syntax")];
    for (name, bytes, code) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let (exit, doc) = check_json(&p);
        assert_eq!(exit, 2, "{name}");
        assert_eq!(doc.diagnostics[0].code, code, "{name}");
        let human = secctl(&["check", "-p", p.to_str().unwrap()], &root());
        assert_eq!(human.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&human.stderr).contains(&format!("error[{code}]")), "{name}");
    }
    let (exit, doc) = check_json(&dir.path().join("missing.yaml"));
    assert_eq!((exit, doc.diagnostics[0].code.as_str()), (2, "file-unreadable"));
}

#[test]
fn init_templates_pass_check() {
    for preset in ["minimal", "reference"] {
        let dir = tempfile::tempdir().unwrap();
        let out = secctl(&["init", "proj", "--preset", preset], dir.path());
        assert!(out.status.success(), "init {preset}: {}", String::from_utf8_lossy(&out.stderr));
        let proj = dir.path().join("proj");
        let text = std::fs::read_to_string(proj.join("secctl.yaml")).unwrap();
        assert!(text.lines().filter(|l| l.trim_start().starts_with('#')).count() >= 10, "{preset} template should be commented");
        assert!(proj.join("generated").is_dir() && proj.join("pki").is_dir());
        assert!(proj.join("policy.schema.json").is_file(), "the template's $schema comment points at it");
        let (code, doc) = check_json(&proj.join("secctl.yaml"));
        assert_eq!(code, 0, "{preset}: {doc:#?}");
        assert!(doc.diagnostics.is_empty(), "{preset}: {doc:#?}");
    }
}

#[test]
fn init_never_clobbers_a_policy_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("secctl.yaml");
    std::fs::write(&policy, "# my own policy\n").unwrap();
    let out = secctl(&["init"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"), "the refusal says how to proceed");
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), "# my own policy\n", "existing policy untouched");
    let out = secctl(&["init", "--force", "--preset", "reference"], dir.path());
    assert!(out.status.success());
    assert!(std::fs::read_to_string(&policy).unwrap().contains("kind: keycloak"), "--force writes the chosen preset");
}

#[test]
fn init_appends_its_gitignore_block_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".gitignore"), "target/").unwrap();
    assert!(secctl(&["init"], dir.path()).status.success());
    assert!(secctl(&["init", "--force"], dir.path()).status.success());
    let gi = std::fs::read_to_string(dir.path().join(".gitignore")).unwrap();
    assert!(gi.starts_with("target/\n"), "user lines kept: {gi}");
    for pattern in ["pki/", "secrets/", "*.key", ".env"] {
        assert!(gi.lines().any(|l| l == pattern), "{pattern} ignored: {gi}");
    }
    assert_eq!(gi.matches("# secctl:").count(), 1, "block added once: {gi}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("pki")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "pki/ holds keys");
    }
}

#[test]
fn committed_schema_is_up_to_date() {
    let out = secctl(&["schema"], &root());
    assert!(out.status.success());
    let committed = std::fs::read_to_string(root().join("docs/policy.schema.json")).unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "docs/policy.schema.json is stale: run `cargo run -q -- schema > docs/policy.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(schema["additionalProperties"], serde_json::Value::Bool(false), "unknown keys are refused by editors too");
    for p in ["policies/reference.yaml", "policies/minimal.yaml", "policies/local-stack.yaml"] {
        let text = std::fs::read_to_string(root().join(p)).unwrap();
        assert!(text.starts_with("# yaml-language-server: $schema=../docs/policy.schema.json"), "{p} references the schema");
    }
}

/// `## code` headings across `docs/diagnostics/*.md`.
fn documented_codes() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("docs/diagnostics")).expect("docs/diagnostics exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(&path).unwrap();
            let file = path.file_name().unwrap().to_string_lossy().to_string();
            for line in text.lines() {
                if let Some(h) = line.strip_prefix("## ") {
                    out.push((h.trim().trim_matches('`').to_string(), file.clone()));
                }
            }
        }
    }
    out
}

#[test]
fn every_diagnostic_code_is_documented() {
    let docs = documented_codes();
    let missing: Vec<&str> = secctl::diag::codes::CODES.iter().map(|(c, _)| *c).filter(|c| !docs.iter().any(|(d, _)| d == c)).collect();
    assert!(missing.is_empty(), "codes without a `## code` heading in docs/diagnostics/*.md: {missing:?}");
    let mut codes: Vec<&str> = secctl::diag::codes::CODES.iter().map(|(c, _)| *c).collect();
    let n = codes.len();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), n, "codes are unique");
    assert!(codes.iter().all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-' || ch.is_ascii_digit())), "kebab-case");
}

#[test]
fn every_policy_code_is_exercised_by_a_bad_case() {
    let bad = root().join("tests/cmd/bad");
    let mut seen = String::new();
    for entry in std::fs::read_dir(&bad).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "stderr" || e == "stdout") {
            seen.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    let unexercised: Vec<String> = documented_codes()
        .into_iter()
        .filter(|(_, f)| f == "policy.md")
        .map(|(c, _)| c)
        .filter(|c| !seen.contains(&format!("[{c}]")) && !seen.contains(&format!("\"{c}\"")))
        .collect();
    assert!(unexercised.is_empty(), "policy codes with no case in tests/cmd/bad: {unexercised:?}");
}

#[test]
fn loader_survives_every_truncation_of_the_reference_policy() {
    // Cheap stand-in for the fuzz target in CI: no prefix of a real policy may panic.
    let text = std::fs::read(root().join("policies/reference.yaml")).unwrap();
    for end in (0..text.len()).step_by(13) {
        let _ = secctl::policy::load::parse_bytes("prefix.yaml", &text[..end]);
    }
}

#[test]
fn key_reference_in_docs_is_up_to_date() {
    let out = secctl(&["schema", "--markdown"], &root());
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let doc = std::fs::read_to_string(root().join("docs/policy.md")).unwrap();
    let begin = "<!-- BEGIN GENERATED: secctl schema --markdown -->\n\n";
    let start = doc.find(begin).expect("docs/policy.md has the generated block") + begin.len();
    let end = doc.find("<!-- END GENERATED -->").expect("end marker");
    assert!(
        doc[start..end] == generated,
        "docs/policy.md key reference is stale: replace the block with `cargo run -q -- schema --markdown`"
    );
    // Every top-level key is in the reference.
    for key in ["version", "project", "services", "flows", "edge", "routes", "identity", "waf", "redis", "ca", "audit", "deploy"] {
        assert!(generated.contains(&format!("| `{key}` |")), "{key} documented");
    }
}

/// `check` is the single judge: `render` refuses a policy `check` rejects, shows the same
/// positioned diagnostics, exits 2 and writes nothing.
#[test]
fn render_refuses_a_policy_that_check_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("generated");
    let bad = root().join("tests/cmd/bad/redis.yaml");
    let out = secctl(&["render", "-p", bad.to_str().unwrap(), "--out", out_dir.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[redis-flow-without-user]") && stderr.contains("redis.yaml:10:"), "{stderr}");
    assert!(stderr.contains("not rendered"), "{stderr}");
    assert!(!out_dir.exists(), "nothing may be written for a rejected policy");
}

/// `check` is the only judge: no `bail!`/`anyhow!`/`Fail::invalid` in src/render, src/ca or
/// src/keycloak carries a user-facing message about a policy value. A message is about the
/// policy when it names a policy section path (`routes[`, `edge.`, `waf.`, `identity.`, ...)
/// or says "policy". I/O, server and store errors stay allowed; the few policy-shaped
/// messages that remain are listed here with the reason they are not a second judge.
#[test]
fn no_policy_refusal_outside_check() {
    const ALLOWED: &[(&str, &str, &str)] = &[
        ("src/ca/issue.rs", "has no `ca.root_passphrase`", "state of the CA store (an encrypted root key on disk), not a judgement of the policy"),
        ("src/ca/passphrase.rs", "ca.root_passphrase.env, policy line", "secret resolution at run time: the variable is unset and there is no terminal"),
        ("src/ca/passphrase.rs", "set `ca.root_passphrase` (env or fi", "secret resolution at run time: no source and no terminal"),
        ("src/ca/keys.rs", "Check the passphrase source in `ca.root_passphrase`", "a wrong passphrase for a key on disk"),
        ("src/keycloak/token.rs", "the policy has no `identity` section", "a precondition of the command (a valid policy without identity has no tokens), not a judgement of a value"),
        ("src/keycloak/token.rs", "is not in identity.fixtures.users", "a command-line argument (`--user`), not a policy value"),
        ("src/keycloak/token.rs", "no client with direct_access_grants", "a command-line request (`token --user`) the policy has no client for"),
        ("src/keycloak/token.rs", "is not in identity.clients", "a command-line argument (`--client`)"),
        ("src/keycloak/token.rs", "only confidential clients have", "a command-line argument (`--client` names a public client)"),
        ("src/keycloak/token.rs", "has no `secret` reference in the policy", "a command-line request (`token --client`) for a client without a secret"),
        ("src/keycloak/http.rs", "is Keycloak running and is identity.url right", "network: Keycloak did not answer (exit 3); the hint names the URL to check"),
        ("src/keycloak/http.rs", "Keycloak rejected the admin credentials", "the server refused the credentials (their values, not the policy's shape)"),
        ("src/ca/issue.rs", "the PKI directory resolves to the policy's own directory", "`--pki-dir .` is a command-line argument; check refuses `ca.pki_dir: \"\"` itself (backstop: a refused run writes nothing)"),
        ("src/ca/issue.rs", "exists and is not a directory", "state of the file system, not a policy value"),
        ("src/ca/authority.rs", "ends after 9999-12-31", "backstop for the date arithmetic (total, never a panic); check refuses such a validity first"),
        ("src/ca/issue.rs", "is constrained to {} and cannot sign", "state of the CA store: the existing intermediate predates the policy's constraints; the fix is a rotation"),
    ];
    let policy_words = ["routes[", "edge.", "waf.", "identity.", "services.", "ca.", "redis.", "deploy.", "flows[", "project.", "policy"];
    let mut offenders = Vec::new();
    let mut used = vec![false; ALLOWED.len()];
    for area in ["src/render", "src/ca", "src/keycloak"] {
        let mut stack = vec![root().join(area)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let rel = path.strip_prefix(root()).unwrap().to_string_lossy().into_owned();
                let name = path.file_name().unwrap().to_string_lossy();
                if !rel.ends_with(".rs") || name == "tests.rs" || name == "fake.rs" {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                // Unit tests at the end of a file may build any message they like.
                let text = text.split("#[cfg(test)]").next().unwrap();
                let lines: Vec<&str> = text.lines().collect();
                for (i, line) in lines.iter().enumerate() {
                    if line.trim_start().starts_with("//") || !(line.contains("bail!(") || line.contains("anyhow!(") || line.contains("Fail::invalid(")) {
                        continue;
                    }
                    let stmt = lines[i..lines.len().min(i + 4)].join(" ");
                    // Only the message text counts: the string literals of the statement.
                    let literals: String = stmt.split('"').skip(1).step_by(2).collect::<Vec<_>>().join(" ");
                    let names_policy = policy_words.iter().any(|w| {
                        literals.match_indices(w).any(|(at, _)| at == 0 || !literals[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '/' || c == '_'))
                    });
                    if !names_policy {
                        continue;
                    }
                    match ALLOWED.iter().position(|(f, needle, _)| *f == rel && stmt.contains(needle)) {
                        Some(k) => used[k] = true,
                        None => offenders.push(format!("{rel}:{}: {}", i + 1, line.trim())),
                    }
                }
            }
        }
    }
    assert!(offenders.is_empty(), "policy refusals outside `check` (move them into src/policy/check with a code):\n{}", offenders.join("\n"));
    let stale: Vec<_> = ALLOWED.iter().zip(&used).filter(|(_, u)| !**u).map(|(a, _)| format!("{} / {}", a.0, a.1)).collect();
    assert!(stale.is_empty(), "allow-list entries that match nothing any more (remove them): {stale:?}");
}

/// Every value class that reaches an output refuses every hostile fragment, with its code:
/// newline, CR, `;`, braces, `$`, quotes, `\`, `#`, space, tab, `../`, NUL, ESC, U+202E, and
/// the nginx map keywords where a whole value could be one.
#[test]
fn check_refuses_hostile_fragments_in_every_value_class() {
    let base = std::fs::read_to_string(root().join("tests/cmd/judge-base.yaml")).unwrap();
    // (what is replaced in the base, how the hostile value is written in its place, code,
    // fragments the grammar allows on purpose: docs/policy.md "Value grammar")
    let quoted = &[";", "{", "}", "\\\"", "'", "\\\\", "#", " ", "../"][..];
    let fields: &[(&str, &str, &str, &[&str])] = &[
        ("name: demo,", "name: \"demo{h}x\",", "name-invalid", &[]),
        ("  api: { kind: fastapi", "  \"api{h}x\": { kind: generic, mtls: none }\n  api: { kind: fastapi", "name-invalid", &[]),
        ("realm: demo", "realm: \"demo{h}x\"", "name-invalid", &[]),
        ("client_id: backend-api,", "client_id: \"backend{h}x\",", "name-invalid", &[]),
        ("roles: [{ name: user }]", "roles: [{ name: \"user{h}x\" }]", "name-invalid", &[]),
        ("waf: { mode: blocking }", "waf: { mode: blocking }\ndeploy: { config_dir: \"/etc/x/{h}y\" }", "path-invalid", &[]),
        // `..` in a local path means the parent directory (it never reaches a generated file).
        ("  trust_domain: svc.internal\n", "  trust_domain: svc.internal\n  pki_dir: \"pki/{h}x\"\n", "path-invalid", &["../"]),
        ("path: /api/,", "path: \"/api/{h}x/\",", "route-path-invalid", &[]),
        ("origins: [\"https://app.example.com\"]", "origins: [\"https://app.example.com{h}x\"]", "origin-invalid", &[]),
        // Header values are quoted by the renderer: only what quoting cannot carry is refused.
        ("  cors: {", "  headers: { frame_options: \"DENY{h}x\" }\n  cors: {", "header-invalid", quoted),
        ("  cors: {", "  max_body_size: \"1m{h}\"\n  cors: {", "size-invalid", &[]),
        ("waf: { mode: blocking }", "waf: { mode: blocking, exclusions: [{ args: [\"json{h}x\"] }] }", "waf-value-invalid", &[]),
        ("password: { env: KC_ADMIN_PASSWORD }", "password: { env: \"KC{h}X\" }", "env-name-invalid", &[]),
        ("hosts: [api.example.com]", "hosts: [\"api{h}x.example.com\"]", "invalid-address", &[]),
        ("host: 127.0.0.1, port: 28443", "host: \"127.0.0.1{h}x\", port: 28443", "invalid-address", &[]),
    ];
    // Written as YAML double-quoted escapes.
    let hostile = ["\\n", "\\r", ";", "{", "}", "$", "\\\"", "'", "\\\\", "#", " ", "\\t", "../", "\\0", "\\e[2K", "\\u202e"];
    let mut missed = Vec::new();
    for (from, to, code, allowed) in fields {
        assert!(base.contains(from), "the judge base no longer has {from:?}");
        for h in hostile.into_iter().filter(|h| !allowed.contains(h)) {
            let text = base.replacen(from, &to.replace("{h}", h), 1);
            let (policy, source) = secctl::policy::load::parse_bytes("p.yaml", text.as_bytes()).unwrap_or_else(|e| panic!("{code} {h:?}: {e}\n{text}"));
            let loaded = secctl::policy::LoadedPolicy { policy, source, base_dir: PathBuf::from(".") };
            let codes: Vec<String> = secctl::policy::check::check(&loaded).into_iter().filter(|d| d.severity == secctl::diag::Severity::Error).map(|d| d.code).collect();
            if !codes.iter().any(|c| c == code) {
                missed.push(format!("{code} with {h:?}: {codes:?}"));
            }
        }
    }
    // Whole values that are nginx `map` keywords or otherwise not origins.
    for word in ["include", "default", "hostnames", "volatile", "*.example.com", "https://app.example.com/"] {
        let text = base.replacen("\"https://app.example.com\"", &format!("\"{word}\""), 1);
        let (policy, source) = secctl::policy::load::parse_bytes("p.yaml", text.as_bytes()).unwrap();
        let loaded = secctl::policy::LoadedPolicy { policy, source, base_dir: PathBuf::from(".") };
        if !secctl::policy::check::check(&loaded).iter().any(|d| d.code == "origin-invalid") {
            missed.push(format!("origin {word:?}"));
        }
    }
    assert!(missed.is_empty(), "hostile values accepted by check:\n{}", missed.join("\n"));
}
