//! The Compose override against Debian's docker-compose (v1, no engine needed for
//! `config`), plus secctl's referential checks on the merged result.

use std::path::Path;
use std::process::Command;

use secctl::render::compose::{self, ComposePlan, check};

use super::support::*;

fn reference_out(dir: &Path) -> secctl::policy::LoadedPolicy {
    let loaded = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/reference.yaml"));
    render_into(&loaded, dir);
    loaded
}

/// `docker-compose -f base -f override config` with the SECCTL_* host roots set.
fn compose_config(base: &Path, over: &Path, root: &Path) -> (bool, String, String) {
    let out = run(Command::new(tool("docker-compose"))
        .args(["-f"])
        .arg(base)
        .arg("-f")
        .arg(over)
        .args(["--project-name", "secctltest", "config"])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .env("SECCTL_PKI_DIR", root.join("pki"))
        .env("SECCTL_RENDER_DIR", root.join("out"))
        .env("SECCTL_REDIS_SECRETS_DIR", root.join("secrets")));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn merged_reference_stack_is_valid_and_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let loaded = reference_out(&out);
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose/docker-compose.yml");
    let over = out.join(compose::OVERRIDE_PATH);
    let (ok, merged, err) = compose_config(&base, &over, dir.path());
    assert!(
        ok,
        "docker-compose config failed: {err}\n{}",
        std::fs::read_to_string(&over).unwrap()
    );
    let doc = check::parse(&merged).unwrap();
    let plan = ComposePlan::from_policy(&loaded.policy);
    let diags = check::check("merged", &doc, Some(&compose::expectations(&plan)));
    assert!(
        diags.is_empty(),
        "merged file fails secctl's checks: {diags:#?}\n{merged}"
    );
    // What the merge really produced: the gateway alone publishes, redis only on data.
    let svc = &doc["services"];
    assert!(
        svc["gateway"]["ports"]
            .as_array()
            .is_some_and(|p| p.len() == 2),
        "{merged}"
    );
    assert!(svc["redis"].get("ports").is_none());
    assert_eq!(
        svc["redis"]["networks"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["data"]
    );
    assert_eq!(doc["networks"]["data"]["internal"], true);
    assert!(
        doc["networks"]["edge"]
            .get("internal")
            .is_none_or(|v| v == false)
    );
    // Secrets resolve to the host PKI and mount at the deploy paths redis.conf uses.
    let key = doc["secrets"]["redis_server_key"]["file"].as_str().unwrap();
    assert_eq!(
        key,
        dir.path()
            .join("pki/services/redis/server.key")
            .to_str()
            .unwrap()
    );
    let conf = std::fs::read_to_string(out.join("redis/redis.conf")).unwrap();
    for m in svc["redis"]["secrets"].as_array().unwrap() {
        let target = m["target"].as_str().unwrap();
        assert!(
            conf.contains(target) || target.ends_with(".crt") && target.contains("/ca/"),
            "redis.conf does not use {target}"
        );
    }
}

/// The library entry point users call: docker-compose merge + secctl checks in one go.
#[test]
fn verify_merged_library_function() {
    tool("docker-compose");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let loaded = reference_out(&out);
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose/docker-compose.yml");
    let pki = dir.path().join("pki");
    let roots = secctl::render::compose::verify::HostRoots {
        pki_dir: Some(&pki),
        render_dir: Some(&out),
        redis_secrets_dir: None,
    };
    let diags = secctl::render::compose::verify::verify_merged(
        &loaded,
        &base,
        &out.join(compose::OVERRIDE_PATH),
        &roots,
    )
    .unwrap();
    assert!(diags.is_empty(), "{diags:#?}");
    // A base file with a typo'd key is rejected by docker-compose itself: exit 2, with its message.
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "services:\n  redis:\n    image: redis:7.0\n    read_onyl: true\n",
    )
    .unwrap();
    let err = secctl::render::compose::verify::verify_merged(
        &loaded,
        &bad,
        &out.join(compose::OVERRIDE_PATH),
        &roots,
    )
    .unwrap_err();
    assert_eq!(
        secctl::exit::outcome_of(&err),
        secctl::exit::Outcome::Invalid
    );
    assert!(format!("{err:#}").contains("read_onyl"), "{err:#}");
}

#[test]
fn base_file_that_publishes_or_joins_networks_fails_the_merged_check() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let loaded = reference_out(&out);
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose/docker-compose.yml"),
    )
    .unwrap();
    let bad = base.replace(
        "  redis:\n    image: redis:7.0\n",
        "  redis:\n    image: redis:7.0\n    ports: [\"6379:6379\"]\n    networks: [legacy]\n",
    ) + "\nnetworks:\n  legacy: {}\n";
    let base_path = dir.path().join("docker-compose.yml");
    std::fs::write(&base_path, bad).unwrap();
    let (ok, merged, err) =
        compose_config(&base_path, &out.join(compose::OVERRIDE_PATH), dir.path());
    // docker-compose accepts it: the v1 merge keeps the base's ports and networks.
    assert!(ok, "{err}");
    let doc = check::parse(&merged).unwrap();
    let plan = ComposePlan::from_policy(&loaded.policy);
    let codes: Vec<String> = check::check("merged", &doc, Some(&compose::expectations(&plan)))
        .into_iter()
        .map(|d| d.code)
        .collect();
    assert!(
        codes.contains(&"compose-unexpected-ports".into()),
        "{codes:?}"
    );
    assert!(
        codes.contains(&"compose-unexpected-network".into()),
        "{codes:?}"
    );
    assert!(
        codes.contains(&"compose-network-not-internal".into()),
        "{codes:?}"
    );
}

/// Rewrites the rendered override (serde output) through its parsed document, as a hand
/// edit would; returns the new text.
fn edit_override(over: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let text = std::fs::read_to_string(over).unwrap();
    let mut doc = check::parse(&text).unwrap();
    edit(&mut doc);
    let broken = serde_json::to_string_pretty(&doc).unwrap();
    assert_ne!(check::parse(&broken).unwrap(), check::parse(&text).unwrap());
    std::fs::write(over, &broken).unwrap();
    broken
}

#[test]
fn undefined_references_pass_docker_compose_but_not_secctl() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    reference_out(&out);
    let over = out.join(compose::OVERRIDE_PATH);
    // A typo in a network membership and a secret that is never defined.
    let broken = edit_override(&over, |d| {
        let nets = d.pointer_mut("/services/redis/networks").unwrap().as_object_mut().unwrap();
        let data = nets.remove("data").expect("redis is on the data network");
        nets.insert("dta".into(), data);
        let secrets = d.pointer_mut("/services/redis/secrets").unwrap().as_array_mut().unwrap();
        let acl = secrets.iter_mut().find(|m| m["source"] == "redis_users_acl").expect("redis mounts its ACL");
        acl["source"] = "redis_users_acl_old".into();
    });
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose/docker-compose.yml");
    let (ok, _merged, err) = compose_config(&base, &over, dir.path());
    assert!(
        ok,
        "docker-compose v1 is expected to miss undefined references (see notes): {err}"
    );
    let codes: Vec<String> = check::check("override", &check::parse(&broken).unwrap(), None)
        .into_iter()
        .map(|d| d.code)
        .collect();
    assert_eq!(
        codes,
        ["compose-undefined-network", "compose-undefined-secret"]
    );
}

#[test]
fn string_boolean_is_rejected_by_docker_compose_and_secctl() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    reference_out(&out);
    let over = out.join(compose::OVERRIDE_PATH);
    let broken = edit_override(&over, |d| d["networks"]["data"]["internal"] = "maybe".into());
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose/docker-compose.yml");
    let (ok, _, err) = compose_config(&base, &over, dir.path());
    assert!(!ok && err.contains("maybe"), "{err}");
    let codes: Vec<String> = check::check("override", &check::parse(&broken).unwrap(), None)
        .into_iter()
        .map(|d| d.code)
        .collect();
    assert_eq!(codes, ["compose-string-boolean"]);
}
