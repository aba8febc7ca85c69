//! The registry of diagnostic codes.
//!
//! Codes are part of secctl's interface: CI scripts match on them. Each one
//! has a heading in `docs/diagnostics.md` (a test enforces it); never rename
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
    // Keycloak provisioning (`secctl keycloak plan|apply`, exit 2 before any call to Keycloak).
    ("keycloak-insecure-redirect", "A client redirect URI or web origin that is not https in production."),
    ("keycloak-wildcard-redirect", "A client redirect URI or web origin with a wildcard."),
    ("keycloak-direct-grants-in-production", "The password grant enabled on a client in production."),
    ("keycloak-fixtures-in-production", "Test users declared in a production policy."),
    ("keycloak-unknown-tenant", "A fixture user whose tenant is not in `identity.tenants`."),
];

/// The summary of a code, if it is registered.
pub fn lookup(code: &str) -> Option<&'static str> {
    CODES.iter().find(|(c, _)| *c == code).map(|(_, s)| *s)
}
