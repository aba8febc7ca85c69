//! The registry of diagnostic codes.
//!
//! Codes are part of secctl's interface: CI scripts match on them. Each one
//! has a `## code` heading in one of `docs/diagnostics/*.md` (a test enforces it); never rename
//! or reuse a code.

/// `(code, one-line summary)` for every diagnostic secctl can emit.
pub const CODES: &[(&str, &str)] = &[
    // Loading: the file could not be read as a policy (exit 2).
    ("file-unreadable", "The policy file could not be read."),
    ("file-empty", "The policy file is empty."),
    ("file-not-utf8", "The policy file is not valid UTF-8."),
    ("yaml-syntax", "The file is not valid YAML."),
    ("yaml-duplicate-key", "A mapping has the same key twice."),
    ("unknown-key", "A key that the policy format does not have."),
    ("wrong-type", "A value of the wrong type."),
    ("missing-key", "A required key is missing."),
    ("invalid-value", "A value that is not one of the allowed choices."),
    ("out-of-range", "A number outside the range its field allows."),
    ("unsupported-version", "The policy `version` is not one secctl understands."),
    // Semantic checks (`secctl check`, exit 1 on errors).
    ("unknown-service", "A reference to a service that is not in `services`."),
    ("unknown-role", "A reference to a role that is not in `identity.roles`."),
    ("cors-wildcard-credentials", "CORS allows any origin together with credentials."),
    ("cors-insecure-origin", "A plain-http CORS origin in production."),
    ("hsts-too-short", "HSTS max-age under one year in production."),
    ("name-outside-constraints", "A service DNS name or IP outside the CA's name constraints."),
    ("rate-limit-invalid", "A rate limit that is not `<n>r/s` or `<n>r/m`."),
    ("rate-limit-out-of-bounds", "A rate limit or burst outside sane bounds."),
    ("listen-conflict", "Two services listen on the same host and port."),
    ("inline-secret", "A secret written into the policy instead of referenced."),
    ("route-without-flow", "A route whose upstream the gateway has no flow to."),
    ("unauthenticated-admin-route", "A route without auth whose path looks administrative."),
    // Semantic checks added with issue 2 (policy foundation).
    ("unknown-tenant", "A reference to a tenant that is not in `identity.tenants`."),
    ("duplicate-name", "Two roles, tenants, clients or routes with the same name or path."),
    ("edge-gateway-kind", "`edge.gateway` names a service whose kind is not `gateway`."),
    ("flow-via-not-gateway", "A flow's `via` is not the edge gateway."),
    ("route-path-invalid", "A route path that does not start with `/`."),
    ("hsts-disabled", "HSTS turned off in production."),
    ("redis-user-without-flow", "A Redis user for a service that has no flow to Redis."),
    ("redis-flow-without-user", "A service with a flow to Redis but no Redis user."),
    ("error-queue-without-flow", "An error-queue producer or consumer with no flow to Redis."),
    ("error-queue-consumer-not-worker", "An error queue read by a service that is not a worker."),
    ("waf-rule-id-range", "A custom WAF rule id outside 20000-29999."),
    ("waf-rule-id-mismatch", "A custom WAF rule whose `id:` action differs from its `id`."),
    ("waf-paranoia-level", "A CRS paranoia level outside 1-4."),
    ("waf-detection-only", "The WAF only detects (does not block) in production."),
    ("fixtures-in-production", "Test users in a production policy."),
    ("direct-grants-in-production", "A client allows the password grant in production."),
    ("redirect-uri-insecure", "A non-https redirect URI in production, or a wildcard one."),
    ("secret-ref-invalid", "A secret reference with neither or both of `env` and `file`."),
    ("audit-sink-incomplete", "An audit sink without the `url` or `path` its kind needs."),
    ("audit-sink-insecure", "A plain-http audit sink in production."),
    ("audit-worker-invalid", "`audit.worker` is not a worker service, or no single worker can ship audit events."),
    ("name-constraint-invalid", "A CA name constraint that is not a DNS subtree or CIDR range."),
    ("invalid-address", "A host, IP or URL that cannot be parsed."),
    // Issue 8: one judge. Every value that reaches an output is a validated type.
    ("name-invalid", "A service, project, realm, client, role, tenant or user name outside its grammar."),
    ("path-invalid", "A deploy path, local directory or secret file path outside its grammar."),
    ("env-name-invalid", "A secret's environment variable name outside `[A-Z_][A-Z0-9_]*`."),
    ("origin-invalid", "A CORS origin that is not an exact `scheme://host[:port]`, or `*`."),
    ("header-invalid", "A header name, header value or CORS method outside its grammar."),
    ("size-invalid", "A size that is not `<n>[k|m|g]`."),
    ("waf-value-invalid", "A WAF method, media type or exclusion argument outside its grammar, or too many exclusions."),
    ("waf-rule-invalid", "A custom WAF rule that is not one `SecRule`/`SecAction` line."),
    ("route-listener-missing", "An internal route without `edge.internal_listen`."),
    ("upstream-unreachable", "A route upstream or gateway the gateway cannot dial or listen on."),
    ("backend-client-missing", "An `identity` without a `backend` client (no token audience)."),
    ("ca-setting-invalid", "A CA trust domain or organization outside its grammar."),
    ("ca-validity-invalid", "A CA validity of 0 days, past the year 9999, or a window that never settles."),
    ("name-constraints-empty", "The CA has no name constraints."),
    ("service-address-missing", "A service that needs a server certificate has no DNS name or IP."),
    // Render: Redis ACL and Compose isolation (docs/diagnostics/render-data.md).
    ("redis-invalid-rule", "A Redis key pattern, channel or command rule secctl cannot render safely."),
    ("redis-queue-overlap", "A non-consumer's key patterns give it read access to an error queue."),
    ("redis-audit-overlap", "A Redis user other than the audit worker has a key pattern matching `audit:*`."),
    ("redis-service-invalid", "`redis.service` is missing, not kind `redis`, or has no `listen`."),
    ("compose-undefined-network", "A Compose service joins a network the file does not define."),
    ("compose-undefined-secret", "A Compose service uses a secret the file does not define."),
    ("compose-undefined-volume", "A Compose service mounts a named volume the file does not define."),
    ("compose-string-boolean", "A Compose boolean written as a string."),
    ("compose-unexpected-ports", "A Compose service other than the gateway publishes ports."),
    ("compose-network-not-internal", "A Compose network other than the edge is not `internal: true`."),
    ("compose-unexpected-network", "A Compose service is on a network its flows do not need."),
    ("compose-missing-hardening", "A Compose service lacks a required hardening setting."),
    // Loading, robustness pass of issue 8 (docs/diagnostics/loading.md).
    ("yaml-unsupported-tag", "A YAML tag (`!vault`, `!!python/...`, a custom `!tag`) the policy format does not have."),
];

/// The summary of a code, if it is registered.
pub fn lookup(code: &str) -> Option<&'static str> {
    CODES.iter().find(|(c, _)| *c == code).map(|(_, s)| *s)
}
