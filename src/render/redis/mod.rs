//! Redis: `redis/redis.conf` (TLS only, client certs required) and `redis/users.acl`
//! (one ACL user per client service from the flows).
//!
//! Passwords are per-install secrets and never enter the rendered tree; see
//! [`secrets`] for how the file Redis loads is produced at deploy time.

use anyhow::Result;
use serde::Serialize;

use crate::diag::Diagnostic;
use crate::exit::Fail;
use crate::policy::model::TlsProfile;

use super::{Context, RenderedFile, engine_once};

pub mod acl;
pub mod secrets;

static ENGINE: std::sync::OnceLock<tera::Tera> = std::sync::OnceLock::new();

const TEMPLATES: &[(&str, &str)] = &[
    (
        "redis.conf",
        include_str!("../../../templates/redis/redis.conf.tera"),
    ),
    (
        "users.acl",
        include_str!("../../../templates/redis/users.acl.tera"),
    ),
];

/// Mozilla intermediate TLS 1.2 ciphers (guideline 6.0).
pub const INTERMEDIATE_CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

#[derive(Serialize)]
struct UserView {
    name: String,
    why: String,
    line: String,
}

/// Renders the Redis files for a policy (none when the policy has no `redis` section).
pub fn render(ctx: &Context) -> Result<Vec<RenderedFile>> {
    let Some(plan) = acl::plan(ctx.valid) else { return Ok(Vec::new()) };
    // Second depth: tokens an ACL line cannot carry, and a secrets path with NUL or `..`.
    plan.ensure_safe()?;
    super::escape::host_path(&secrets::host_dir(ctx.loaded), "redis.secrets_dir")?;
    let policy = ctx.valid.policy();
    // `check` refuses a `redis.service` that is not a Redis service with `listen` (redis-service-invalid).
    let Some(listen) = policy.service(&plan.service).and_then(|s| s.listen.as_ref()) else { return Ok(Vec::new()) };
    let paths = policy.deploy_paths();
    let profile = policy
        .edge
        .as_ref()
        .map(|e| e.tls_profile())
        .unwrap_or(TlsProfile::Intermediate);
    let (profile_name, protocols, ciphers) = match profile {
        TlsProfile::Intermediate => ("intermediate", "TLSv1.2 TLSv1.3", INTERMEDIATE_CIPHERS),
        TlsProfile::Modern => ("modern", "TLSv1.3", ""),
    };
    let mut c = tera::Context::new();
    c.insert("service", &plan.service);
    // Redis takes a bare address (`::1`, not `[::1]`); `check` typed it as a `Host`.
    let bind = crate::policy::types::Host::parse(&listen.host.value).map(|h| h.to_string()).unwrap_or_else(|_| listen.host.value.clone());
    c.insert("bind", &bind);
    c.insert("port", &listen.port.value);
    let pki = paths.pki_dir.trim_end_matches('/');
    // Full paths here, so the template quotes each as one redis.conf argument.
    c.insert("cert_file", &format!("{pki}/services/{}/server-fullchain.crt", plan.service));
    c.insert("key_file", &format!("{pki}/services/{}/server.key", plan.service));
    c.insert("ca_file", &format!("{pki}/ca/chain.crt"));
    c.insert(
        "acl_file",
        &format!(
            "{}/{}",
            paths.secrets_dir.trim_end_matches('/'),
            secrets::ACL_FILE
        ),
    );
    c.insert(
        "data_dir",
        &format!("{}/redis", paths.state_dir.trim_end_matches('/')),
    );
    c.insert("profile", profile_name);
    c.insert("protocols", protocols);
    c.insert("ciphers", ciphers);
    let users: Vec<UserView> = plan
        .users
        .iter()
        .map(|u| UserView {
            name: u.name.clone(),
            why: u.why.replace('\n', " "),
            line: u.to_string(),
        })
        .collect();
    c.insert("users", &users);
    c.insert("header", &ctx.header("#"));
    let t = engine_once(&ENGINE, TEMPLATES)?;
    Ok(vec![
        RenderedFile {
            path: "redis/redis.conf".into(),
            contents: t.render("redis.conf", &c)?,
            mode: 0o644,
        },
        RenderedFile {
            path: "redis/users.acl".into(),
            contents: t.render("users.acl", &c)?,
            mode: 0o644,
        },
    ])
}

/// Creates missing Redis password files and writes the ACL Redis loads (see [`secrets`]).
/// Returns `None` when the policy has no `redis` section. Call it after rendering, never in `--check`.
pub fn provision_secrets(valid: &crate::policy::ValidPolicy) -> Result<Option<secrets::Provisioned>> {
    match acl::plan(valid) {
        Some(plan) => secrets::provision(valid.loaded(), &plan).map(Some),
        None => Ok(None),
    }
}

/// An exit-2 error listing policy findings with their positions and hints.
pub(crate) fn policy_error(diags: &[Diagnostic]) -> anyhow::Error {
    let mut msg = format!("{} problem(s) in the policy to fix first:", diags.len());
    for d in diags {
        msg.push_str(&format!(
            "\n  {}: error[{}]: {}",
            d.location(),
            d.code,
            d.message
        ));
        if !d.path.is_empty() {
            msg.push_str(&format!(" (at `{}`)", d.path));
        }
        if let Some(h) = &d.hint {
            msg.push_str(&format!("\n    help: {h}"));
        }
    }
    Fail::invalid(anyhow::anyhow!(msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{LoadedPolicy, load::parse_bytes};

    pub(crate) fn reference_text() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/reference.yaml"
        ))
        .unwrap()
    }

    fn loaded(text: &str) -> LoadedPolicy {
        let (policy, source) =
            parse_bytes("policy.yaml", text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        LoadedPolicy {
            policy,
            source,
            base_dir: std::path::PathBuf::from("."),
        }
    }

    /// What the judge says: Redis rules are refused by `check` (render has no refusal of its own).
    fn render_err(text: &str) -> String {
        let l = loaded(text);
        let diags = crate::policy::check::check(&l);
        assert!(crate::policy::check::validate(l).is_err(), "check must refuse");
        diags
            .iter()
            .map(|d| format!("{}: error[{}]: {} (at `{}`)\n    help: {}\n", d.location(), d.code, d.message, d.path, d.hint.as_deref().unwrap_or("")))
            .collect()
    }

    #[test]
    fn reference_acl_follows_flows_and_queues() {
        let l = loaded(&reference_text());
        let files = render(&Context::new(&crate::policy::ValidPolicy::assume_valid(l.clone()))).unwrap();
        let acl = &files
            .iter()
            .find(|f| f.path == "redis/users.acl")
            .unwrap()
            .contents;
        assert!(acl.contains("\nuser default off resetpass resetkeys resetchannels -@all\n"));
        assert!(acl.contains(
            "user backend on resetkeys ~ratelimit:* ~jobs:* ~cache:backend:* %W~errors:* resetchannels -@all +@read +@write +@connection -@dangerous +evalsha +script|load +time (%W~audit:backend +xadd)\n"
        ));
        // FastAPI services get their limiter's keys, EVALSHA and their audit stream (write-only); the worker does not.
        assert!(
            acl.contains("user ai on resetkeys ~jobs:ai:* ~cache:ai:* ~ratelimit:ai:* %W~errors:* resetchannels -@all +@read +@write +@connection -@dangerous +evalsha +script|load +time (%W~audit:ai +xadd)\n")
        );
        let worker = acl.lines().find(|l| l.starts_with("user worker ")).expect("worker user");
        assert!(worker.starts_with("user worker on resetkeys ~jobs:* ~errors:* resetchannels -@all +@read +@write +@connection -@dangerous"), "{worker}");
        assert!(!worker.contains("evalsha") && !worker.contains("ratelimit"), "the worker gets no limiter rights: {worker}");
        // Exactly the three clients with a flow to redis.
        assert_eq!(acl.lines().filter(|l| l.starts_with("user ")).count(), 4);
        // No credentials of any form in the committed file.
        assert!(
            acl.lines()
                .filter(|l| l.starts_with("user "))
                .all(|l| !l.contains('>') && !l.contains('#') && !l.contains("nopass"))
        );
        let conf = &files
            .iter()
            .find(|f| f.path == "redis/redis.conf")
            .unwrap()
            .contents;
        for line in [
            "port 0\n",
            "tls-port 6379\n",
            "bind 0.0.0.0\n",
            "tls-auth-clients yes\n",
            "protected-mode yes\n",
            "tls-cert-file /etc/secctl/pki/services/redis/server-fullchain.crt\n",
            "tls-key-file /etc/secctl/pki/services/redis/server.key\n",
            "tls-ca-cert-file /etc/secctl/pki/ca/chain.crt\n",
            "aclfile /run/secrets/redis_users_acl\n",
            "tls-protocols \"TLSv1.2 TLSv1.3\"\n",
        ] {
            assert!(conf.contains(line), "missing {line:?} in\n{conf}");
        }
        assert!(conf.starts_with("# Generated by secctl"));
        // Deterministic.
        assert_eq!(files, render(&Context::new(&crate::policy::ValidPolicy::assume_valid(l.clone()))).unwrap());
    }

    #[test]
    fn modern_profile_is_tls13_only() {
        let l = loaded(&reference_text().replace("tls_profile: intermediate", "tls_profile: modern"));
        let conf = render(&Context::new(&crate::policy::ValidPolicy::assume_valid(l.clone()))).unwrap().remove(0).contents;
        assert!(conf.contains("tls-protocols \"TLSv1.3\"\n"), "{conf}");
        assert!(!conf.contains("tls-ciphers "), "no TLS 1.2 cipher list under modern");
    }

    #[test]
    fn missing_user_for_flow_is_an_error() {
        let t = reference_text().replace("    ai: { keys: [\"jobs:ai:*\", \"cache:ai:*\"], commands: [\"+@read\", \"+@write\", \"+@connection\", \"-@dangerous\"] }\n", "");
        let e = render_err(&t);
        assert!(
            e.contains("redis-flow-without-user") && e.contains("`ai` may connect to Redis but has no entry in `redis.users`"),
            "{e}"
        );
    }

    #[test]
    fn user_without_flow_is_an_error() {
        let t = reference_text().replace(
            "  - { from: worker, to: redis, description: consumes jobs and errors }\n",
            "",
        );
        let e = render_err(&t);
        assert!(
            e.contains("redis-user-without-flow") && e.contains("redis.users.worker"),
            "{e}"
        );
        assert!(e.contains("help: add `- { from: worker, to: redis }`"), "{e}");
    }

    #[test]
    fn key_pattern_that_reads_the_error_queue_is_an_error() {
        let t = reference_text().replace(
            "keys: [\"jobs:ai:*\", \"cache:ai:*\"]",
            "keys: [\"jobs:ai:*\", \"err*\"]",
        );
        let e = render_err(&t);
        assert!(
            e.contains("redis-queue-overlap") && e.contains("`ai` can read error queue `errors:*`"),
            "{e}"
        );
    }

    #[test]
    fn smuggled_rules_are_errors_with_positions() {
        let t = reference_text().replace(
            "commands: [\"+@read\", \"+@write\", \"+@connection\", \"-@dangerous\"] }\n  error",
            "commands: [\"+@read\", \"allkeys\", \"+@nosuch\"] }\n  error",
        );
        let e = render_err(&t);
        assert!(
            e.contains("redis-invalid-rule") && e.contains("`allkeys` is not a command rule"),
            "{e}"
        );
        assert!(e.contains("`+@nosuch` names an ACL category"), "{e}");
        assert!(e.contains("policy.yaml:"), "positions are reported: {e}");
        let t = reference_text().replace("\"cache:ai:*\"]", "\"cache:ai:* >pw\"]");
        assert!(render_err(&t).contains("contains whitespace"));
    }
}
