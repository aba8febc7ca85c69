//! Property: for generated valid policies (names, routes, CORS origins, flows and header
//! values varied within the policy grammar), `check` accepts ⇒ `render` succeeds, and no
//! generated file gains a line or an nginx statement from a value.
//!
//! "Gains" is measured against a twin policy in which every generated value is replaced, as a
//! whole string and everywhere it is referenced, by a short plain placeholder of the same kind
//! (`/p3/` for a path, `n2` for a name). Both must render to files with the same line counts,
//! and the nginx files to the same number of `;`, `{` and `}` outside quotes and comments: a
//! value that escaped its quoting would add one of these.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::hostile::rename;

/// What the generator produced: the values to vary and the policy carrying them.
#[derive(Clone, Debug)]
struct Generated {
    project: String,
    worker: String,
    ai: String,
    routes: Vec<(Vec<String>, bool)>,
    origins: Vec<String>,
    csp: String,
    via_flow: bool,
}

fn generated() -> impl Strategy<Value = Generated> {
    let name = || "[a-z][a-z0-9-]{0,10}[a-z0-9]";
    (
        name(),
        name(),
        name(),
        proptest::collection::vec(
            (
                proptest::collection::vec("[a-z0-9_.-]{1,6}", 1..3),
                any::<bool>(),
            ),
            0..4,
        ),
        proptest::collection::vec(
            (
                "[a-z][a-z0-9-]{0,8}[a-z0-9]",
                proptest::option::of(1024u16..65535),
            ),
            1..4,
        ),
        "[a-z0-9' ;:/.*-]{1,40}",
        any::<bool>(),
    )
        .prop_map(
            |(project, w, a, routes, origins, csp, via_flow)| Generated {
                project,
                worker: format!("w-{w}"),
                ai: format!("a-{a}"),
                routes,
                origins: origins
                    .into_iter()
                    .map(|(h, p)| match p {
                        Some(p) => format!("https://{h}.example:{p}"),
                        None => format!("https://{h}.example"),
                    })
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                csp: format!("default-src {csp}"),
                via_flow,
            },
        )
}

/// The local-stack policy carrying the generated values; also returns (value, placeholder)
/// pairs for the twin.
fn policy(base: &Value, g: &Generated) -> (Value, Vec<(String, String)>) {
    let mut d = base.clone();
    let mut twin = Vec::new();
    let mut n = 0;
    d["project"]["name"] = g.project.clone().into();
    twin.push((g.project.clone(), "n0".to_string()));
    rename(&mut d, "worker", &g.worker, &mut n);
    twin.push((g.worker.clone(), "n1".to_string()));
    rename(&mut d, "ai", &g.ai, &mut n);
    twin.push((g.ai.clone(), "n2".to_string()));
    let routes = d["routes"].as_array_mut().unwrap();
    for (i, (segs, slash)) in g.routes.iter().enumerate() {
        let path = format!("/r{i}/{}{}", segs.join("/"), if *slash { "/" } else { "" });
        routes.push(json!({ "path": path, "upstream": "backend", "auth": "none" }));
        twin.push((path, format!("/p{i}{}", if *slash { "/" } else { "" })));
    }
    d["edge"]["cors"]["origins"] = json!(g.origins);
    for (i, o) in g.origins.iter().enumerate() {
        twin.push((o.clone(), format!("https://o{i}.example")));
    }
    d["edge"]["headers"]["content_security_policy"] = g.csp.clone().into();
    twin.push((g.csp.clone(), "default-src h0".to_string()));
    if !g.via_flow {
        let flows = d["flows"].as_array_mut().unwrap();
        flows.retain(|f| f.get("via").is_none());
    }
    (d, twin)
}

/// `;`, `{` and `}` outside quotes and `#` comments: the statements and blocks nginx reads.
fn nginx_shape(text: &str) -> (usize, usize, usize) {
    let (mut semi, mut open, mut close) = (0, 0, 0);
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    let mut at_token_start = true;
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
            '#' if at_token_start => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' | '\'' if at_token_start => quote = Some(c),
            '\\' => {
                chars.next();
            }
            ';' => semi += 1,
            '{' => open += 1,
            '}' => close += 1,
            _ => {}
        }
        at_token_start = c.is_whitespace() || matches!(c, ';' | '{' | '}');
    }
    (semi, open, close)
}

/// Per output (upstream snippets, named after services, pooled): line count and nginx shape.
/// Line count and nginx shape of one output.
type Shape = (usize, (usize, usize, usize));

fn shapes(files: &BTreeMap<String, String>) -> BTreeMap<String, Vec<Shape>> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (path, text) in files {
        let key = if path.starts_with("nginx/snippets/upstream-") {
            "nginx/snippets/upstream-*".to_string()
        } else if path.starts_with("kit/") {
            // Kit settings are named after services, as upstream snippets are: a pool.
            "kit/*.json".to_string()
        } else {
            path.clone()
        };
        let shape = if path.starts_with("nginx/") {
            nginx_shape(text)
        } else {
            (0, 0, 0)
        };
        out.entry(key)
            .or_default()
            .push((text.lines().count(), shape));
    }
    out.values_mut().for_each(|v| v.sort());
    out
}

fn render(root: &Path, doc: &Value) -> Result<BTreeMap<String, String>, String> {
    let text = serde_json::to_string_pretty(doc).unwrap();
    let (policy, source) = secctl::policy::load::parse_bytes("policy.yaml", text.as_bytes())
        .map_err(|e| format!("refused: {e}"))?;
    let loaded = secctl::policy::LoadedPolicy {
        policy,
        source,
        base_dir: root.to_path_buf(),
    };
    let valid = secctl::policy::check::validate(loaded).map_err(|r| {
        format!(
            "refused: {:?}",
            r.diagnostics.iter().map(|d| &d.code).collect::<Vec<_>>()
        )
    })?;
    let files = secctl::render::render_all(&valid)
        .map_err(|e| format!("RENDER FAILED after check accepted: {e:#}"))?;
    Ok(files.into_iter().map(|(k, f)| (k, f.contents)).collect())
}

#[test]
fn check_accepted_generated_policies_render_without_injected_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/local-stack.yaml"),
    )
    .unwrap();
    let base: Value = serde_saphyr::from_str(&text).unwrap();
    let accepted = std::cell::Cell::new(0u32);
    let refusals = std::cell::RefCell::new(BTreeMap::<String, u32>::new());
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(g in generated())| {
        let (doc, twin) = policy(&base, &g);
        let files = match render(tmp.path(), &doc) {
            Ok(f) => f,
            Err(e) if e.starts_with("refused") => {
                *refusals.borrow_mut().entry(e).or_default() += 1;
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(e)),
        };
        accepted.set(accepted.get() + 1);
        let mut plain = doc.clone();
        for (v, p) in &twin {
            let mut n = 0;
            rename(&mut plain, v, p, &mut n);
        }
        let plain_files = render(tmp.path(), &plain).map_err(|e| TestCaseError::fail(format!("the placeholder twin: {e}")))?;
        for text in files.values() {
            prop_assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "an output carries a control character");
        }
        prop_assert_eq!(shapes(&files), shapes(&plain_files), "a value added a line, statement or block");
    });
    eprintln!("check accepted {} of 48 generated policies; refusals: {:?}", accepted.get(), refusals.borrow());
    // The generator must stay mostly inside the grammar, or the property says little.
    assert!(
        accepted.get() >= 24,
        "check accepted only {} of 48 generated policies; refusals: {:?}",
        accepted.get(),
        refusals.borrow()
    );
}

#[test]
fn the_shape_counter_sees_an_injected_statement() {
    assert_eq!(
        nginx_shape("add_header A \"x;y\" always;\n# a; {\nlocation / { return 404; }\n"),
        (2, 1, 1)
    );
    assert_eq!(
        nginx_shape("add_header A x;include /etc/passwd;# always;\n"),
        (2, 0, 0)
    );
}
