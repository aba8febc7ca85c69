//! Mutation tests: each row changes the *running* stack (edit a rendered file and reload,
//! or change the PKI on disk), with the policy unchanged, and must make exactly the listed
//! controls fail while every other control still passes.

use std::collections::BTreeSet;
use std::path::Path;

use super::support::*;
use crate::render_gw::support::Stack;

/// Applies `f` to the text of the block that starts with `header` (up to its matching brace).
fn in_block(text: &str, header: &str, f: impl FnOnce(&str) -> String) -> String {
    let start = text.find(header).unwrap_or_else(|| panic!("no `{header}` in the config"));
    let mut depth = 0;
    let mut end = start;
    for (i, ch) in text[start..].char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = start + i + 1;
                    break;
                }
            }
            _ => {}
        }
    }
    format!("{}{}{}", &text[..start], f(&text[start..end]), &text[end..])
}

/// Replaces the security-headers include inside one location by an edited copy of the snippet.
fn headers_in(s: &Stack, location: &str, edit: impl Fn(&str) -> String) {
    let snippet_path = s.out.join("nginx/snippets/security-headers.conf");
    let snippet = std::fs::read_to_string(&snippet_path).unwrap();
    let inc = format!("include {};", snippet_path.display());
    let edited = edit(&snippet);
    assert_ne!(edited, snippet);
    s.mutate_gateway(&s.gateway_conf(), |t| in_block(&t, location, |b| b.replacen(&inc, &edited, 1)));
}

fn replace(s: &Stack, file: &Path, from: &str, to: &str) {
    s.mutate_gateway(file, |t| {
        assert!(t.contains(from), "`{from}` is not in {}", file.display());
        t.replacen(from, to, 1)
    });
}

fn drop_lines(text: &str, needle: &str) -> String {
    text.lines().filter(|l| !l.contains(needle)).map(|l| format!("{l}\n")).collect()
}

type Mutation = fn(&Stack);

/// (what, controls that must fail, the mutation).
fn table() -> Vec<(&'static str, &'static [&'static str], Mutation)> {
    vec![
        ("TLS 1.3 switched off", &["tls.protocols"], |s| replace(s, &s.out.join("nginx/snippets/tls.conf"), "ssl_protocols TLSv1.2 TLSv1.3;", "ssl_protocols TLSv1.2;")),
        ("a CBC suite added", &["tls.ciphers"], |s| replace(s, &s.out.join("nginx/snippets/tls.conf"), "ECDHE-RSA-CHACHA20-POLY1305;", "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA;")),
        ("a self-signed server certificate", &["tls.certificate"], |s| {
            let d = s.dir.path().join("selfsigned");
            std::fs::create_dir_all(&d).unwrap();
            let st = std::process::Command::new("openssl")
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"])
                .arg("-keyout")
                .arg(d.join("k.pem"))
                .arg("-out")
                .arg(d.join("c.pem"))
                .output()
                .unwrap();
            assert!(st.status.success());
            let gw = s.pki.join("services/gateway");
            let conf = s.gateway_conf();
            // The public server comes first in the rendered file: replace only its certificate.
            s.mutate_gateway(&conf, |t| {
                t.replacen(&format!("ssl_certificate {};", gw.join("server-fullchain.crt").display()), &format!("ssl_certificate {};", d.join("c.pem").display()), 1)
                    .replacen(&format!("ssl_certificate_key {};", gw.join("server.key").display()), &format!("ssl_certificate_key {};", d.join("k.pem").display()), 1)
            });
        }),
        ("HSTS dropped on /healthz", &["headers.hsts"], |s| headers_in(s, "location = /healthz {", |t| drop_lines(t, "Strict-Transport-Security"))),
        ("another CSP on /healthz", &["headers.csp"], |s| headers_in(s, "location = /healthz {", |t| t.replace("form-action 'none'", "form-action 'self'"))),
        ("X-Frame-Options dropped on /healthz", &["headers.security"], |s| headers_in(s, "location = /healthz {", |t| drop_lines(t, "X-Frame-Options"))),
        ("server_tokens on", &["headers.server-version"], |s| replace(s, &s.gateway_conf(), "server_tokens off;", "server_tokens on;")),
        ("headers without `always` on /ai/", &["headers.on-429"], |s| headers_in(s, "location /ai/ {", |t| t.replace(" always;", ";"))),
        ("an allowed origin dropped from the map", &["cors.allowed-origin"], |s| replace(s, &s.gateway_conf(), "http://localhost:5173 $http_origin;", "")),
        ("a foreign origin reflected", &["cors.denied-origin"], |s| replace(s, &s.gateway_conf(), "map $http_origin $cors_allow_origin {", "map $http_origin $cors_allow_origin {\n        \"null\" $http_origin;")),
        ("another preflight max-age", &["cors.preflight"], |s| {
            let conf = s.gateway_conf();
            s.mutate_gateway(&conf, |t| in_block(&t, "map $cors_preflight_methods $cors_preflight_max_age {", |b| b.replace("\"600\"", "\"86400\"")))
        }),
        ("SQL-injection rules removed on /api/admin/", &["waf.attack[/api/admin/]"], |s| {
            let conf = s.gateway_conf();
            s.mutate_gateway(&conf, |t| in_block(&t, "location /api/admin/ {", |b| b.replacen("{", "{\n            modsecurity_rules 'SecRuleRemoveByTag attack-sqli';", 1)))
        }),
        ("a false positive on /api/", &["waf.benign[/api/]"], |s| {
            let conf = s.gateway_conf();
            s.mutate_gateway(&conf, |t| {
                in_block(&t, "location /api/ {", |b| b.replacen("{", "{\n            modsecurity_rules 'SecRule ARGS:q \"@contains hello\" \"id:29999,phase:2,deny,status:403\"';", 1))
            })
        }),
        ("PUT no longer allowed", &["waf.methods[/api/]", "waf.methods[/healthz]"], |s| replace(s, &s.out.join("modsecurity/crs-setup.conf"), "GET HEAD POST PUT PATCH", "GET HEAD POST PATCH")),
        ("the body limit raised", &["waf.body-size[/api/]", "waf.body-size[/api/admin/]", "waf.body-size[/ai/]", "waf.body-size[/healthz]"], |s| {
            s.mutate_gateway(&s.gateway_conf(), |t| t.replace("client_max_body_size 1m;", "client_max_body_size 8m;"))
        }),
        ("internal listener: client certificate optional", &["mtls.internal.refuse"], |s| replace(s, &s.gateway_conf(), "ssl_verify_client on;", "ssl_verify_client optional_no_ca;")),
        ("internal listener: `ai` allowed", &["mtls.internal.authz[/internal/]"], |s| {
            let conf = s.gateway_conf();
            s.mutate_gateway(&conf, |t| {
                let t = in_block(&t, "map $ssl_client_s_dn $mtls_identity {", |b| b.replacen("default \"\";", "default \"\";\n        \"CN=ai,O=Acme\" ai;\n        \"O=Acme,CN=ai\" ai;", 1));
                in_block(&t, "map $mtls_identity $mtls_allow_r4_internal {", |b| b.replacen("worker 1;", "worker 1;\n        ai 1;", 1))
            })
        }),
        ("backend stub: client certificate optional", &["mtls.upstream[backend]"], |s| {
            let port = s.ports.backend;
            s.mutate_upstreams(|t| in_block(&t, &format!("listen 127.0.0.1:{port} ssl;"), |b| b.replace("ssl_verify_client on;", "ssl_verify_client optional_no_ca;")))
        }),
        ("no per-IP limit on /healthz", &["rate-limit.per-ip[/healthz]"], |s| {
            let conf = s.gateway_conf();
            s.mutate_gateway(&conf, |t| in_block(&t, "location = /healthz {", |b| drop_lines(b, "limit_req zone=")))
        }),
        // `certs verify` reads the CRLs too, so a damaged CRL fails both certificate controls;
        // the running gateway keeps the CRL it loaded, so nothing else changes.
        ("a damaged CRL in the PKI", &["certs.chain", "certs.crl"], |s| std::fs::write(s.pki.join("ca/crl.pem"), "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n").unwrap()),
        ("a damaged key in the PKI", &["certs.chain"], |s| std::fs::write(s.pki.join("services/ai/server.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap()),
    ]
}

/// Every row fails exactly its controls; together the rows cover every family the harness runs.
#[test]
fn each_mutation_fails_exactly_its_control() {
    let mut covered: BTreeSet<String> = BTreeSet::new();
    let mut all_ids: BTreeSet<String> = BTreeSet::new();
    for (what, want, mutate) in table() {
        let s = clean_stack();
        mutate(&s);
        let (code, doc, o) = verify(&s, &skips(&[]));
        let failed = with_status(&doc, "fail");
        let want: BTreeSet<String> = want.iter().map(|x| x.to_string()).collect();
        assert_eq!(failed, want, "mutation `{what}`: exit {code}\n{}\n{}", explain(&doc), String::from_utf8_lossy(&o.stderr));
        assert!(with_status(&doc, "not-evaluated").is_empty(), "mutation `{what}`: {}", explain(&doc));
        assert_eq!(code, 1, "mutation `{what}`");
        covered.extend(want);
        all_ids.extend(doc["controls"].as_array().unwrap().iter().map(|c| c["family"].as_str().unwrap().to_string()));
    }
    let families: BTreeSet<String> = covered.iter().map(|id| id.split('[').next().unwrap().to_string()).collect();
    let missing: Vec<&String> = all_ids.iter().filter(|f| !families.contains(*f)).collect();
    assert!(missing.is_empty(), "families no mutation fails: {missing:?}");
}
