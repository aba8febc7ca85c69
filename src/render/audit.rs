//! The worker's audit task configuration: `audit/worker.json`, read by
//! `python -m secctl_fastapi.worker.tasks.audit --config /etc/secctl/audit/worker.json`.
//!
//! Serialized through serde (never a text template), so no policy value can add a key or break
//! out of a string. The file holds no secret: credentials are `{"env": ...}` / `{"file": ...}`
//! references the worker resolves at start. The Python side validates the same shape
//! (`secctl_fastapi/worker/config.py`, unknown keys refused) and docs/audit.md describes it.

use serde::Serialize;

use crate::policy::model::{AuditEvent, Policy, SecretRef, ServiceKind, SinkKind};

use super::redis::secrets::password_file;
use super::{Context, RenderedFile};

/// Seconds a delivered batch stays unacknowledged: the store flushes every 1 s and lost rows
/// acknowledged up to 2-3 s before a SIGKILL, so 5 s with margin.
pub const ACK_DELAY_SECONDS: u32 = 5;
/// Entries idle this long in another consumer's pending list are taken over.
pub const RECLAIM_IDLE_SECONDS: u32 = 60;
/// Default retention when the policy sets none.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;
/// The Keycloak client the poller uses (`realm-management/view-events` only).
pub const POLLER_CLIENT: &str = "audit-poller";

/// The stream a producing service writes its audit events to.
pub fn stream_of(service: &str) -> String {
    format!("audit:{service}")
}

/// Services that produce audit events: FastAPI services with a Redis user, in name order.
pub fn producers(p: &Policy) -> Vec<String> {
    let Some(r) = &p.redis else { return Vec::new() };
    r.users.keys().filter(|u| p.service(u).is_some_and(|s| s.kind.value == ServiceKind::Fastapi)).cloned().collect()
}

/// Whether the policy ships audit events through the worker (a Loki or Elasticsearch sink).
pub fn pipeline_enabled(p: &Policy) -> bool {
    p.audit.as_ref().is_some_and(|a| matches!(a.sink.kind.value, SinkKind::Loki | SinkKind::Elasticsearch)) && p.redis.is_some()
}

/// A credential reference as the worker reads it.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// An environment variable.
    Env(String),
    /// A file (first line).
    File(String),
}

fn secret(s: &Option<SecretRef>) -> Option<SecretSource> {
    let s = s.as_ref()?;
    s.env.as_ref().map(|e| SecretSource::Env(e.value.clone())).or_else(|| s.file.as_ref().map(|f| SecretSource::File(f.value.clone())))
}

/// `audit/worker.json`.
#[derive(Debug, Serialize)]
pub struct WorkerConfig {
    generated_by: String,
    version: u32,
    redis: RedisConf,
    sink: SinkConf,
    streams: Vec<String>,
    events: Vec<AuditEvent>,
    consumer: Option<String>,
    group: &'static str,
    dead_letter_stream: &'static str,
    ack_delay_seconds: u32,
    reclaim_idle_seconds: u32,
    retention_days: u32,
    gateway: Option<GatewayConf>,
    keycloak: Option<KeycloakConf>,
}

#[derive(Debug, Serialize)]
struct RedisConf {
    url: String,
    username: String,
    password: SecretSource,
    ca_file: String,
    cert_file: String,
    key_file: String,
}

#[derive(Debug, Serialize)]
struct SinkConf {
    protocol: &'static str,
    url: String,
    username: Option<SecretSource>,
    password: Option<SecretSource>,
    ca_file: String,
    epoch_url: Option<String>,
}

#[derive(Debug, Serialize)]
struct GatewayConf {
    stream: &'static str,
    nginx_access_log: Option<String>,
    modsec_audit_log: Option<String>,
}

#[derive(Debug, Serialize)]
struct KeycloakConf {
    url: String,
    realm: String,
    client_id: &'static str,
    client_secret: SecretSource,
    stream: &'static str,
    ca_file: String,
}

/// VictoriaLogs serves its ingestion APIs under `/insert/`; its start time is on `/metrics`
/// at the same origin. Other stores get no epoch check (durability then rests on the delay).
fn epoch_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    path.starts_with("insert/").then(|| format!("{scheme}://{authority}/metrics"))
}

/// The worker configuration, or None when the policy has no shipping pipeline.
pub fn plan(p: &Policy, generated_by: String) -> Option<WorkerConfig> {
    if !pipeline_enabled(p) {
        return None;
    }
    let a = p.audit.as_ref()?;
    let worker = p.audit_worker()?;
    let redis = p.redis.as_ref()?;
    let rsvc = p.service(&redis.service.value)?;
    let host = rsvc.dns_names.first().map(|d| d.value.clone()).unwrap_or_else(|| redis.service.value.clone());
    let port = rsvc.listen.as_ref().map(|l| l.port.value).unwrap_or(6379);
    let dp = p.deploy_paths();
    let (pki, sec, state) = (dp.pki_dir.trim_end_matches('/'), dp.secrets_dir.trim_end_matches('/'), dp.state_dir.trim_end_matches('/'));
    let bundle = format!("{pki}/ca/bundle.crt");
    let events: Vec<AuditEvent> = {
        let mut e: Vec<AuditEvent> = a.events.iter().map(|e| e.value).collect();
        e.sort();
        e.dedup();
        e
    };
    let has = |e: AuditEvent| events.contains(&e);
    let gateway = p.edge.as_ref().map(|_| GatewayConf {
        stream: "audit:gateway",
        nginx_access_log: (has(AuditEvent::Access) || has(AuditEvent::RateLimit) || has(AuditEvent::Mtls)).then(|| format!("{state}/nginx-access.json")),
        modsec_audit_log: p.waf.as_ref().filter(|_| has(AuditEvent::Waf)).map(|w| w.audit_log().to_string()),
    });
    let keycloak = p.identity.as_ref().filter(|_| has(AuditEvent::Login) || has(AuditEvent::Admin)).map(|id| KeycloakConf {
        url: id.url.value.clone(),
        realm: id.realm.value.clone(),
        client_id: POLLER_CLIENT,
        client_secret: SecretSource::File(format!("{sec}/keycloak_audit_poller_secret")),
        stream: "audit:keycloak",
        ca_file: bundle.clone(),
    });
    let url = a.sink.url.as_ref()?.value.clone();
    Some(WorkerConfig {
        generated_by,
        version: 1,
        redis: RedisConf {
            url: format!("rediss://{host}:{port}/0"),
            username: worker.clone(),
            password: SecretSource::File(format!("{sec}/{}", password_file(&worker))),
            ca_file: bundle.clone(),
            cert_file: format!("{pki}/services/{worker}/client-fullchain.crt"),
            key_file: format!("{pki}/services/{worker}/client.key"),
        },
        sink: SinkConf {
            protocol: if a.sink.kind.value == SinkKind::Loki { "loki" } else { "elasticsearch" },
            epoch_url: epoch_url(&url),
            url,
            username: secret(&a.sink.username),
            password: secret(&a.sink.password),
            ca_file: a.sink.ca_file.as_ref().map(|c| c.value.clone()).unwrap_or(bundle),
        },
        streams: producers(p).iter().map(|s| stream_of(s)).collect(),
        events,
        consumer: Some(worker),
        group: "audit-shippers",
        dead_letter_stream: "audit:dead",
        ack_delay_seconds: ACK_DELAY_SECONDS,
        reclaim_idle_seconds: RECLAIM_IDLE_SECONDS,
        retention_days: a.retention_days.as_ref().map(|r| r.value).unwrap_or(DEFAULT_RETENTION_DAYS),
        gateway,
        keycloak,
    })
}

/// Renders `audit/worker.json`. JSON has no comments, so the usual header is the
/// `generated_by` value, kept on the first line.
pub fn render(ctx: &Context) -> anyhow::Result<Vec<RenderedFile>> {
    let header = ctx.header("").trim().to_string();
    let Some(cfg) = plan(&ctx.loaded.policy, header) else { return Ok(Vec::new()) };
    let pretty = super::escape::ascii_json(&serde_json::to_string_pretty(&cfg)?);
    // Still JSON, with the header on the first line like every generated file:
    // `{"generated_by": "Generated by secctl ...",`.
    let contents = format!("{{{}\n", pretty.strip_prefix("{\n  ").unwrap_or(&pretty));
    if !contents.starts_with("{\"generated_by\"") {
        anyhow::bail!("audit/worker.json: unexpected serialization (a secctl bug)");
    }
    Ok(vec![RenderedFile { path: "audit/worker.json".into(), contents, mode: 0o644 }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_url_only_for_victorialogs_paths() {
        assert_eq!(epoch_url("https://logs:9428/insert/loki/api/v1/push").as_deref(), Some("https://logs:9428/metrics"));
        assert_eq!(epoch_url("https://es:9200/_bulk"), None);
    }

    #[test]
    fn secrets_serialize_as_references() {
        let s = serde_json::to_string(&SecretSource::File("/run/secrets/x".into())).unwrap();
        assert_eq!(s, r#"{"file":"/run/secrets/x"}"#);
    }
}
