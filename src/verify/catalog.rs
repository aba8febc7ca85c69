//! Every control family `verify` knows, with a one-line statement of the property it proves.
//! docs/verify.md has one heading per family (a test keeps them in step), and SARIF rules are
//! generated from this table.

/// A family: id and the property it proves.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    /// Stable id.
    pub id: &'static str,
    /// The property, stated as an attacker would test it.
    pub property: &'static str,
    /// What to do when it fails.
    pub fix: &'static str,
}

/// Every family, in report order.
pub const FAMILIES: &[Family] = &[
    Family { id: "tls.protocols", property: "The public listener accepts TLS 1.3 (and TLS 1.2 on the intermediate profile, not on modern) and refuses TLS 1.1, TLS 1.0 and SSLv3.", fix: "Render the gateway again (`secctl render`) and reload nginx; check `ssl_protocols` in the running config." },
    Family { id: "tls.ciphers", property: "Only the profile's AEAD suites with forward secrecy are negotiated: CBC, static-RSA, 3DES and RC4 suites are refused.", fix: "Restore the rendered `ssl_ciphers` line and reload nginx." },
    Family { id: "tls.certificate", property: "The served chain validates against the PKI's trust bundle for every edge host, and the leaf expires later than `ca.renew_before_days` from now.", fix: "Run `secctl certs issue` (it renews what is due) and reload the gateway; check that nginx serves the files from the PKI." },
    Family { id: "headers.hsts", property: "Strict-Transport-Security is exactly what the environment requires on 2xx, 3xx, 401, WAF 403 and 404 responses (and absent when HSTS is off).", fix: "A location with its own `add_header` drops the server's headers: render again and reload." },
    Family { id: "headers.csp", property: "Content-Security-Policy is exactly the policy's on every response kind.", fix: "Render again and reload; make sure no location adds its own headers." },
    Family { id: "headers.security", property: "Every configured security header (X-Content-Type-Options, X-Frame-Options, Referrer-Policy, Permissions-Policy, COOP, CORP, extras) is sent once, with its value, on every response kind.", fix: "Render again and reload; an upstream must not set these headers itself." },
    Family { id: "headers.server-version", property: "No response reveals a server version or framework (`Server` without a version, no `X-Powered-By`).", fix: "Keep `server_tokens off` and the `proxy_hide_header` lines of the rendered config." },
    Family { id: "headers.redirect", property: "The plain-HTTP listener answers every request with a redirect to https://<first edge host>, whatever Host the client sent (no open redirect).", fix: "Redirect to the configured host, not `$host`." },
    Family { id: "headers.on-429", property: "A rate-limited (429) response still carries HSTS, CSP and the security headers.", fix: "Use `add_header ... always` so error responses keep the headers." },
    Family { id: "cors.allowed-origin", property: "Each allowed origin gets exactly its own Access-Control-Allow-Origin, `Vary: Origin`, and credentials as configured.", fix: "Render again and reload; the upstream's own CORS headers must be hidden." },
    Family { id: "cors.denied-origin", property: "Other origins get no Access-Control-Allow-Origin or credentials, including suffix tricks, `null` and the wrong scheme.", fix: "Match origins exactly (the rendered map), never by regex or reflection." },
    Family { id: "cors.preflight", property: "A preflight from an allowed origin gets the policy's methods, headers and max-age; a preflight from another origin gets none of them.", fix: "Render again and reload." },
    Family { id: "waf.attack", property: "Canary attacks (SQL injection, XSS, path traversal, command injection, Log4Shell) in the query, a JSON body and a header are refused with 403 on the route.", fix: "Check that ModSecurity is loaded with `modsecurity on`, `SecRuleEngine On` and the CRS includes." },
    Family { id: "waf.benign", property: "Benign requests pass the WAF on the route, including attack-like free text in the route's excluded arguments.", fix: "Add a scoped `waf_exclusions` entry for the false positive." },
    Family { id: "waf.methods", property: "The methods in `waf.allowed_methods` pass the WAF; a method outside the list is refused.", fix: "Restore the rendered CRS setup (rule 900200, `tx.allowed_methods`)." },
    Family { id: "waf.body-size", property: "A request body larger than `edge.max_body_size` is refused with 413.", fix: "Restore `client_max_body_size` in the rendered config." },
    Family { id: "mtls.internal.refuse", property: "The internal listener refuses a client without a certificate, one from a foreign CA, and a revoked one.", fix: "Check `ssl_verify_client on`, `ssl_client_certificate` (the service CA) and `ssl_crl` in the internal server." },
    Family { id: "mtls.internal.authz", property: "Through the internal listener, an identity no flow allows gets 403 and every identity a flow allows gets through.", fix: "Render again: the identity maps come from `flows` with `via: <gateway>`." },
    Family { id: "mtls.upstream", property: "Each mTLS service, reached directly, refuses clients without a certificate and clients from a foreign CA, and accepts a client of the service CA.", fix: "Require client certificates from the service CA on the service's listener." },
    Family { id: "redis.transport", property: "Redis speaks TLS only: a client of the service CA is accepted; plaintext, no client certificate and a foreign CA are refused.", fix: "Keep `port 0`, `tls-port` and `tls-auth-clients yes` from the rendered redis.conf." },
    Family { id: "redis.default-user", property: "The default user is off: nothing runs before AUTH, and AUTH as `default` fails.", fix: "Load the rendered ACL (`user default off ...`)." },
    Family { id: "redis.acl", property: "Each ACL user (own certificate and provisioned password) can write its own keys and gets NOPERM outside its key patterns and for CONFIG.", fix: "Load the ACL file `secctl render` writes next to the passwords, and restart Redis." },
    Family { id: "redis.error-queue", property: "Producers can push to an error queue but get NOPERM for reading, popping and deleting it; consumers can read it.", fix: "Give producers `%W~` on the queue pattern only (the rendered ACL)." },
    Family { id: "certs.chain", property: "`secctl certs verify` finds no problem in the PKI (chains, keys, expiry, CRLs).", fix: "Run `secctl certs verify` for details, then `secctl certs issue`." },
    Family { id: "certs.crl", property: "The CRL the gateway enforces is valid now and not in the last third of its life.", fix: "Run `secctl certs issue` (it re-signs the CRL) and reload the gateway." },
    Family { id: "keycloak.drift", property: "`secctl keycloak plan` has no pending change: the realm is what the policy says.", fix: "Review `secctl keycloak plan`, then run `secctl keycloak apply`." },
    Family { id: "rate-limit.per-ip", property: "Requests from one address beyond the route's per-IP burst get 429, whatever bearer token each request carries.", fix: "A `return` in a location runs before `limit_req`: serve through `proxy_pass`, and render again." },
    Family { id: "rate-limit.tokenless", property: "Requests without a token are rate limited too (a flood of 401s is not free).", fix: "Reject missing tokens after `limit_req` (not with `return` in the rewrite phase)." },
];

/// The family with this id.
pub fn family(id: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/verify.md has exactly one `### \`id\`` heading per family, and no heading for a family that does not exist.
    #[test]
    fn every_control_id_is_documented() {
        let doc = include_str!("../../docs/verify.md");
        let headings: Vec<&str> = doc.lines().filter_map(|l| l.strip_prefix("### `")).filter_map(|l| l.strip_suffix('`')).collect();
        for f in FAMILIES {
            assert_eq!(headings.iter().filter(|h| **h == f.id).count(), 1, "docs/verify.md needs one heading ### `{}`", f.id);
        }
        for h in &headings {
            assert!(family(h).is_some(), "docs/verify.md documents `{h}`, which is not in FAMILIES");
        }
    }

    /// Every probe the reference stack implies belongs to a documented family, and ids are unique.
    #[test]
    fn every_probe_has_a_family_and_a_unique_id() {
        let loaded = crate::policy::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/local-stack.yaml"))).unwrap();
        let valid = crate::policy::check::validate(loaded).unwrap_or_else(|r| panic!("{:?}", r.diagnostics));
        let env = crate::verify::env::Env::new(&valid, &Default::default()).unwrap();
        let probes = crate::verify::plan(&env);
        let mut ids: Vec<&str> = probes.iter().map(|p| p.id.as_str()).collect();
        for p in &probes {
            assert!(family(p.family).is_some(), "{} has an undocumented family", p.id);
            assert!(p.at.line > 1, "{} points at no policy line", p.id);
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate control ids");
        for want in ["tls.protocols", "headers.hsts", "cors.denied-origin", "rate-limit.per-ip[/ai/]", "waf.attack[/api/]", "mtls.internal.authz[/internal/]", "mtls.upstream[backend]", "certs.chain", "keycloak.drift"] {
            assert!(ids.contains(&want), "{want} missing from {ids:?}");
        }
    }
}
