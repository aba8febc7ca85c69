//! Robustness: a refused command writes nothing, bad input never panics, hostile bytes never
//! reach a terminal raw, and odd YAML is read or refused precisely.
//!
//! The "writes nothing" tests snapshot the whole project tree (directories, files, modes and
//! bytes, lock files included) before and after each refused invocation and compare them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::ca::Env;

/// One entry of a [`tree`] snapshot.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    /// A directory and its mode.
    Dir(u32),
    /// A file, its mode and its bytes.
    File(u32, Vec<u8>),
    /// A symlink and its target.
    Link(PathBuf),
}

/// Everything under `root` (relative path → entry), `root` itself excluded. Nothing is skipped:
/// lock files and hidden temp files count, which is the point.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, Entry> {
    use std::os::unix::fs::PermissionsExt;
    let mut m = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let mode = meta.permissions().mode() & 0o7777;
            let entry = if meta.file_type().is_symlink() {
                Entry::Link(std::fs::read_link(&p).unwrap())
            } else if meta.is_dir() {
                stack.push(p.clone());
                Entry::Dir(mode)
            } else {
                Entry::File(mode, std::fs::read(&p).unwrap())
            };
            m.insert(rel, entry);
        }
    }
    m
}

fn secctl(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_secctl"));
    c.current_dir(dir).args(args).env("NO_COLOR", "1").env_remove("SECCTL_CRASH_AT").env_remove("TEST_ROOT_PASS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdin(std::process::Stdio::null()).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Runs `args` in `dir` and asserts: the exit code is `code`, stderr says `why`, and the tree
/// under `dir` is byte-for-byte what it was before.
fn refused_without_writing(dir: &Path, args: &[&str], env: &[(&str, &str)], code: i32, why: &str) {
    let before = tree(dir);
    let o = secctl(dir, args, env);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(code), "secctl {args:?}: want exit {code}:\n{all}");
    assert!(all.contains(why), "secctl {args:?}: the refusal must say `{why}`:\n{all}");
    assert!(!all.contains("panicked"), "secctl {args:?} panicked:\n{all}");
    let after = tree(dir);
    let added: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let removed: Vec<_> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert!(added.is_empty() && removed.is_empty(), "secctl {args:?} changed the tree: added {added:?}, removed {removed:?}\n{all}");
    assert!(before == after, "secctl {args:?} changed a file's bytes or mode\n{all}");
}

fn stack_env() -> Env {
    Env::stack()
}

#[test]
fn refused_certs_commands_write_nothing() {
    let env = stack_env();
    let d = env.dir.path();
    let run = |args: &[&str], extra: &[(&str, &str)], code: i32, why: &str| {
        let mut a = vec!["certs"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--policy", "secctl.yaml"]);
        refused_without_writing(d, &a, extra, code, why);
    };
    let original = std::fs::read_to_string(&env.policy).unwrap();
    let with = |f: &dyn Fn(&str) -> String| std::fs::write(&env.policy, f(&original)).unwrap();

    // A validity past 9999-12-31: refused by check or by the CA before the store is opened
    // (this used to panic with exit 101 and leave pki/.lock behind).
    with(&|t| t.replace("  leaf_validity_days: 30\n", "  leaf_validity_days: 30\n  root_validity_days: 3000000\n"));
    run(&["issue"], &[], 2, "9999");
    run(&["init"], &[], 2, "9999");
    // `ca.pki_dir: ""` resolves to the policy's own directory (it used to get `ca/`, `services/`
    // and an unencrypted root key).
    with(&|t| t.replace("pki_dir: pki", "pki_dir: \"\""));
    run(&["issue"], &[], 2, "pki_dir");
    run(&["init"], &[], 2, "pki_dir");
    with(&|t| t.to_string());
    refused_without_writing(d, &["certs", "issue", "--policy", "secctl.yaml", "--pki-dir", "."], &[], 2, "policy's own directory");
    // A name outside the name constraints.
    with(&|t| t.replace("dns_names: [redis.acme.internal, localhost]", "dns_names: [redis.acme.internal, redis.other.org]"));
    run(&["issue"], &[], 2, "redis.other.org");
    // A root passphrase that is not available (not a terminal, variable unset).
    with(&|t| t.replace("  name_constraints:", "  root_passphrase: { env: TEST_ROOT_PASS }\n  name_constraints:"));
    run(&["issue"], &[], 2, "TEST_ROOT_PASS is not set");
    run(&["init"], &[], 2, "TEST_ROOT_PASS is not set");
    // A passphrase too short for a new root key.
    run(&["issue"], &[("TEST_ROOT_PASS", "short")], 2, "passphrase");
    // Bad YAML.
    with(&|t| t.replace("ca:\n", "ca: [\n"));
    run(&["issue"], &[], 2, "yaml-syntax");
    // The PKI path is a file.
    with(&|t| t.to_string());
    std::fs::write(d.join("pki"), "not a directory").unwrap();
    run(&["issue"], &[], 2, "not a directory");
    std::fs::remove_file(d.join("pki")).unwrap();
    // Commands that need an existing store do not create one.
    run(&["list"], &[], 2, "no PKI directory");
    run(&["revoke", "backend", "--reason", "key-compromise"], &[], 2, "no PKI directory");
    run(&["rotate-ca", "stage"], &[], 2, "no PKI directory");
}

#[test]
fn a_panic_mid_issue_removes_the_fresh_pki_directory_and_its_lock() {
    let env = stack_env();
    let before = tree(env.dir.path());
    let o = secctl(env.dir.path(), &["certs", "issue", "--policy", "secctl.yaml"], &[("SECCTL_CRASH_AT", "panic:leaf-staged")]);
    let all = text(&o);
    // The panic landed mid-work: after the CA was made and a leaf's files were staged.
    assert_eq!(o.status.code(), Some(101), "{all}");
    assert!(all.contains("SECCTL_CRASH_AT: panic at leaf-staged"), "{all}");
    assert_eq!(tree(env.dir.path()), before, "unwinding must remove the PKI directory this run created (CA keys, staged leaf, .lock)");
    // And the next run works from scratch.
    env.ok(&["issue"]);
    assert!(env.pki().join("ca/root.key").exists());
}

#[test]
fn a_lock_file_created_by_a_failed_run_is_removed() {
    // An existing, empty PKI directory (made by hand): a refused run removes only its own lock file.
    let env = stack_env();
    std::fs::create_dir(env.pki()).unwrap();
    std::fs::write(env.pki().join("README"), "mine").unwrap();
    env.edit(|t| t.replace("  name_constraints:", "  root_passphrase: { file: missing-pass.txt }\n  name_constraints:"));
    refused_without_writing(env.dir.path(), &["certs", "issue", "--policy", "secctl.yaml"], &[], 2, "missing-pass.txt");
    // A panic after the CA was created in the existing directory: the lock goes, the directory stays.
    std::fs::write(env.dir.path().join("missing-pass.txt"), "correct horse battery staple\n").unwrap();
    // The one secret reader refuses a passphrase file others can read.
    std::fs::set_permissions(env.dir.path().join("missing-pass.txt"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let o = secctl(env.dir.path(), &["certs", "issue", "--policy", "secctl.yaml"], &[("SECCTL_CRASH_AT", "panic:leaf-staged")]);
    assert_eq!(o.status.code(), Some(101), "{}", text(&o));
    assert!(!env.pki().join(".lock").exists(), "the lock file this run created must be removed on a panic");
    assert_eq!(std::fs::read_to_string(env.pki().join("README")).unwrap(), "mine");
}

fn render_project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let policy = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/reference.yaml")).unwrap();
    std::fs::write(d.path().join("secctl.yaml"), policy).unwrap();
    d
}

#[test]
fn refused_render_writes_nothing() {
    let p = render_project();
    let d = p.path();
    // Bad policy.
    std::fs::write(d.join("bad.yaml"), "version: 1\nproject: [\n").unwrap();
    refused_without_writing(d, &["render", "--policy", "bad.yaml", "--out", "a/b/gen"], &[], 2, "yaml-syntax");
    refused_without_writing(d, &["render", "--policy", "missing.yaml", "--out", "gen"], &[], 2, "file-unreadable");
    // Foreign files in --out: refused, the directory and its file untouched.
    std::fs::create_dir(d.join("gen")).unwrap();
    std::fs::write(d.join("gen/notes.txt"), "mine").unwrap();
    refused_without_writing(d, &["render", "--policy", "secctl.yaml", "--out", "gen"], &[], 2, "notes.txt");
    // --out is a file, or lies under a file (cannot be created).
    std::fs::write(d.join("file"), "x").unwrap();
    refused_without_writing(d, &["render", "--policy", "secctl.yaml", "--out", "file"], &[], 2, "not a directory");
    refused_without_writing(d, &["render", "--policy", "secctl.yaml", "--out", "file/sub/gen"], &[], 2, "file/sub");
    // A Redis password file with a weak mode: refused before the tree is written (the secrets
    // step runs after the tree; it used to leave a rendered tree behind its refusal).
    let o = secctl(d, &["render", "--policy", "secctl.yaml", "--out", "ok"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    std::fs::remove_dir_all(d.join("ok")).unwrap();
    let pw = std::fs::read_dir(d.join("secrets/redis")).unwrap().flatten().map(|e| e.path()).find(|p| p.to_string_lossy().ends_with("_password")).unwrap();
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    refused_without_writing(d, &["render", "--policy", "secctl.yaml", "--out", "new/gen"], &[], 2, "chmod 600");
    // The secrets directory is a file.
    std::fs::remove_dir_all(d.join("secrets")).unwrap();
    std::fs::write(d.join("secrets"), "x").unwrap();
    refused_without_writing(d, &["render", "--policy", "secctl.yaml", "--out", "new/gen"], &[], 2, "secrets is not a directory");
}

#[test]
fn refused_init_writes_nothing() {
    let p = tempfile::tempdir().unwrap();
    let d = p.path();
    // An existing policy without --force.
    std::fs::create_dir(d.join("proj")).unwrap();
    std::fs::write(d.join("proj/secctl.yaml"), "mine\n").unwrap();
    refused_without_writing(d, &["init", "proj"], &[], 2, "--force");
    // The project directory would be under a file.
    std::fs::write(d.join("file"), "x").unwrap();
    refused_without_writing(d, &["init", "file/proj"], &[], 2, "not a directory");
    refused_without_writing(d, &["init", "file/a/b"], &[], 2, "not a directory");
    refused_without_writing(d, &["init", "file"], &[], 2, "not a directory");
    // `generated` or `pki` is a file: refused before the policy is written (it used to be half done).
    std::fs::create_dir(d.join("p2")).unwrap();
    std::fs::write(d.join("p2/pki"), "x").unwrap();
    refused_without_writing(d, &["init", "p2"], &[], 2, "pki exists and is not a directory");
    refused_without_writing(d, &["init", "p2", "--force"], &[], 2, "pki exists and is not a directory");
    // The policy path is a directory.
    std::fs::create_dir_all(d.join("p3/secctl.yaml")).unwrap();
    refused_without_writing(d, &["init", "p3", "--force"], &[], 2, "is a directory");
    // `.gitignore` cannot be read (a directory): refused before anything is written.
    std::fs::create_dir_all(d.join("p4/.gitignore")).unwrap();
    let before = tree(d);
    let o = secctl(d, &["init", "p4"], &[]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains(".gitignore"), "{}", text(&o));
    assert_eq!(tree(d), before);
    // And a good init still works.
    let o = secctl(d, &["init", "new/proj"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(d.join("new/proj/secctl.yaml").exists() && d.join("new/proj/pki").is_dir());
}

#[test]
fn terminal_escapes_from_a_policy_never_reach_the_output_raw() {
    let p = tempfile::tempdir().unwrap();
    let d = p.path();
    let policy = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/minimal.yaml")).unwrap();
    // `\e[2K\e[1A\r` erases the error line and moves up on a terminal; `\e]0;` retitles the window.
    let hostile = policy.replace("  - { from: gateway, to: api }", "  - { from: gateway, to: api }\n  - { from: gateway, to: \"x\\e[2K\\e[1A\\rall good\\e]0;t\\a\" }");
    std::fs::write(d.join("secctl.yaml"), hostile).unwrap();
    let o = secctl(d, &["check", "-p", "secctl.yaml"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8(o.stderr.clone()).unwrap();
    assert!(!err.contains('\u{1b}') && !err.contains('\r') && !err.contains('\u{7}'), "raw control characters in:\n{err:?}");
    assert!(err.contains("flow target `x\\u{1b}[2K\\u{1b}[1A\\rall good\\u{1b}]0;t\\u{7}`"), "{err}");
    // JSON carries the exact value, JSON-escaped.
    let o = secctl(d, &["check", "-p", "secctl.yaml", "--format", "json"], &[]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let msgs: Vec<&str> = v["diagnostics"].as_array().unwrap().iter().filter_map(|d| d["message"].as_str()).collect();
    assert!(msgs.iter().any(|m| m.contains("x\u{1b}[2K\u{1b}[1A\rall good\u{1b}]0;t\u{7}")), "{msgs:?}");
    // Reporter lines (errors and status) are escaped too, not only diagnostics.
    let o = secctl(d, &["certs", "list", "--policy", "secctl.yaml", "--pki-dir", "p\u{1b}[2Kq\u{202e}"], &[]);
    let all = text(&o);
    assert!(!all.contains('\u{1b}') && !all.contains('\u{202e}'), "{all:?}");
}
