//! "check accepted ⇒ render succeeds and every value lands escaped", on arbitrary values.
//!
//! The first input byte picks a field that reaches a generated file (names, paths, hosts,
//! headers, CORS, routes, WAF, Redis, deploy roots, the policy file name); the rest, as UTF-8
//! (lossy), is the value put into it in the local-stack policy. When `check` accepts:
//!
//! * every output has exactly the baseline's line count (a value never adds a line), and no
//!   raw control, bidi or line-separator character;
//! * the nginx files keep the baseline's count of `;`, `{` and `}` outside quotes and comments
//!   (a value never adds a statement or a block);
//! * `render` succeeds: `check` is the only gate, so a render refusal of a value it accepted
//!   is a crash (build with `SECCTL_FUZZ_LENIENT=1` to look past those while a grammar is
//!   being tightened).

#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use secctl::policy::{LoadedPolicy, check, load};
use serde_json::Value;

const STRICT: bool = option_env!("SECCTL_FUZZ_LENIENT").is_none();

/// JSON pointers of fields that reach an output; `@name` renames an identifier everywhere.
const FIELDS: &[&str] = &[
    "/project/name",
    "@worker",
    "@ai",
    "/services/backend/dns_names/0",
    "/services/backend/ips/0",
    "/services/backend/listen/host",
    "/edge/listen/host",
    "/edge/hosts/0",
    "/edge/headers/content_security_policy",
    "/edge/headers/referrer_policy",
    "/edge/headers/extra/X-Fuzz",
    "/edge/cors/origins/0",
    "/edge/cors/methods/0",
    "/edge/cors/headers/0",
    "/edge/max_body_size",
    "/routes/0/path",
    "/routes/4/path",
    "/routes/0/rate_limit/per_ip/rate",
    "/identity/realm",
    "/identity/url",
    "/identity/clients/1/client_id",
    "@viewer",
    "@tenant-a",
    "/identity/tenancy/claim",
    "/waf/custom_rules/0/description",
    "/waf/custom_rules/0/rule",
    "/routes/2/waf_exclusions/0/args/0",
    "/routes/2/waf_exclusions/0/reason",
    "/waf/allowed_methods/0",
    "/waf/allowed_content_types/0",
    "/waf/audit_log",
    "/redis/users/backend/keys/0",
    "/redis/error_queues/0/key",
    "/flows/3/description",
    "/deploy/config_dir",
    "/deploy/pki_dir",
    "/deploy/state_dir",
    "/deploy/secrets_dir",
    "/ca/organization",
    "/ca/trust_domain",
    "#file-name",
];

struct Base {
    doc: Value,
    shapes: BTreeMap<String, (usize, (usize, usize, usize))>,
}

fn base() -> &'static Base {
    static B: OnceLock<Base> = OnceLock::new();
    B.get_or_init(|| {
        let mut doc: Value = serde_saphyr::from_str(include_str!("../../policies/local-stack.yaml")).unwrap();
        doc["deploy"] = serde_json::json!({
            "config_dir": "/srv/secctl/config", "pki_dir": "/srv/secctl/pki",
            "state_dir": "/srv/secctl/state", "secrets_dir": "/srv/secctl/secrets",
        });
        doc["edge"]["headers"]["extra"] = serde_json::json!({ "X-Fuzz": "benign" });
        let files = render(&doc, "policy.yaml").expect("base renders").expect("base checks");
        Base { doc, shapes: shapes(&files) }
    })
}

/// `None`: check refused. `Some(Err)`: render refused. `Some(Ok)`: the files.
fn render(doc: &Value, name: &str) -> Option<Result<BTreeMap<String, String>, String>> {
    let text = serde_json::to_string(doc).unwrap();
    let (policy, source) = load::parse_bytes(name, text.as_bytes()).ok()?;
    let loaded = LoadedPolicy { policy, source, base_dir: "/nonexistent-secctl-fuzz".into() };
    let valid = check::validate(loaded).ok()?;
    Some(
        secctl::render::render_all(&valid)
            .map(|f| f.into_iter().map(|(k, v)| (k, v.contents)).collect())
            .map_err(|e| format!("{e:#}")),
    )
}

fn shapes(files: &BTreeMap<String, String>) -> BTreeMap<String, (usize, (usize, usize, usize))> {
    files
        .iter()
        .map(|(p, t)| {
            // Upstream snippets and kit settings are named after services: key them by size.
            let key = if p.starts_with("nginx/snippets/upstream-") {
                format!("upstream#{}", t.lines().count())
            } else if p.starts_with("kit/") {
                format!("kit#{}", t.lines().count())
            } else {
                p.clone()
            };
            (key, (t.lines().count(), if p.starts_with("nginx/") { nginx_shape(t) } else { (0, 0, 0) }))
        })
        .collect()
}

/// `;`, `{` and `}` outside quotes and `#` comments.
fn nginx_shape(text: &str) -> (usize, usize, usize) {
    let (mut semi, mut open, mut close) = (0, 0, 0);
    let mut chars = text.chars();
    let mut quote: Option<char> = None;
    let mut start = true;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == '\\' {
                chars.next();
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '#' if start => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' | '\'' if start => quote = Some(c),
            '\\' => {
                chars.next();
            }
            ';' => semi += 1,
            '{' => open += 1,
            '}' => close += 1,
            _ => {}
        }
        start = c.is_whitespace() || matches!(c, ';' | '{' | '}');
    }
    (semi, open, close)
}

fn rename(v: &mut Value, key: &str, old: &str, new: &str) {
    match v {
        Value::String(s) if s == old && key != "kind" => *s = new.to_string(),
        Value::Array(a) => a.iter_mut().for_each(|x| rename(x, key, old, new)),
        Value::Object(m) => {
            if matches!(key, "services" | "users") {
                if let Some(x) = m.remove(old) {
                    m.insert(new.to_string(), x);
                }
            }
            for (k, x) in m.iter_mut() {
                rename(x, k, old, new);
            }
        }
        _ => {}
    }
}

/// Whether `v` is already a string or a key somewhere in `doc`.
fn occurs(doc: &Value, v: &str) -> bool {
    match doc {
        Value::String(s) => s == v,
        Value::Array(a) => a.iter().any(|x| occurs(x, v)),
        Value::Object(m) => m.iter().any(|(k, x)| k == v || occurs(x, v)),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let b = base();
    let v = String::from_utf8_lossy(rest).into_owned();
    let field = FIELDS[pick as usize % FIELDS.len()];
    let mut doc = b.doc.clone();
    let mut name = "policy.yaml".to_string();
    if let Some(old) = field.strip_prefix('@') {
        rename(&mut doc, "", old, &v);
    } else if field == "#file-name" {
        name = format!("p{v}.yaml");
    } else if let Some(slot) = doc.pointer_mut(field) {
        *slot = v.clone().into();
    } else {
        panic!("local-stack.yaml lacks {field}");
    }
    let files = match render(&doc, &name) {
        None => return,
        Some(Err(e)) => {
            assert!(!STRICT, "check accepted {field} = {v:?} but render refused: {e}");
            assert!(!e.contains(['\u{1b}', '\u{202e}', '\0']), "render's error carries a raw control character: {e:?}");
            return;
        }
        Some(Ok(f)) => f,
    };
    for (p, t) in &files {
        assert!(
            !t.chars().any(|c| (c.is_control() && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')),
            "{p} carries a raw control, bidi or separator character ({field} = {v:?})"
        );
    }
    // Legitimate shape changes: a route at `/` replaces the catch-all location, and a rename
    // onto an existing identifier merges two things.
    let root_route = field.ends_with("/path") && v == "/";
    let merges = field.starts_with('@') && occurs(&b.doc, &v);
    if !root_route && !merges {
        assert_eq!(shapes(&files), b.shapes, "{field} = {v:?} changed the shape of an output");
    }
});
