//! Structural validation of the raw YAML tree against the policy's JSON Schema.
//!
//! serde reports only the first error; this pass walks the whole [`Node`] tree
//! and reports every unknown key, wrong type, missing key and bad enum value,
//! each with its YAML path, position and a hint. It implements the subset of
//! JSON Schema that schemars emits for [`super::Policy`]: `type`, `properties`,
//! `additionalProperties`, `required`, `enum`/`const`, `items`,
//! `minimum`/`maximum` (and the integer `format`s), `$ref`/`$defs`,
//! `oneOf`/`anyOf`/`allOf`.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value as Json;

use crate::diag::Diagnostic;

use super::node::{Node, Value};
use super::span::Span;
use super::suggest::closest;

/// A YAML path such as `routes[2].rate_limit.per_ip`.
#[derive(Clone, Debug, Default)]
pub struct YamlPath(Vec<Seg>);

#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

impl YamlPath {
    fn key(&self, k: &str) -> YamlPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    fn index(&self, i: usize) -> YamlPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
    /// `the top level` for the root, else the path in backticks.
    fn describe(&self) -> String {
        if self.0.is_empty() { "the top level".into() } else { format!("`{self}`") }
    }
    /// `at the top level` for the root, else `in` and the path.
    fn within(&self) -> String {
        if self.0.is_empty() { "at the top level".into() } else { format!("in `{self}`") }
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(k) if is_plain_key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?
                }
                Seg::Key(k) => write!(f, "[{k:?}]")?,
            }
        }
        Ok(())
    }
}

fn is_plain_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Validates `root` against `schema` and returns every problem found, in file order.
pub fn validate(file: &str, root: &Node, schema: &Json) -> Vec<Diagnostic> {
    let v = Validator { file, root_schema: schema };
    let mut out = duplicate_keys(file, root, &YamlPath::default());
    out.extend(v.check(root, schema, &YamlPath::default(), root.span));
    out.sort_by_key(|d| (d.line, d.column));
    out
}

/// Every repeated key in every mapping of the tree (serde-saphyr passes them through for us).
fn duplicate_keys(file: &str, node: &Node, path: &YamlPath) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match &node.value {
        Value::Map(entries) => {
            let mut seen: HashMap<String, Span> = HashMap::new();
            for (k, v) in entries {
                let text = k.value.key_text();
                if let Some(first) = seen.get(&text) {
                    out.push(
                        Diagnostic::error("yaml-duplicate-key", file, k.span, path.key(&text).to_string(), format!("duplicate key `{text}` {}", path.within()))
                            .with_label("repeated here")
                            .with_hint(format!("the first `{text}` is at line {}; keep one of them", first.line)),
                    );
                } else {
                    seen.insert(text.clone(), k.span);
                }
                out.extend(duplicate_keys(file, v, &path.key(&text)));
            }
        }
        Value::Seq(items) => {
            for (i, n) in items.iter().enumerate() {
                out.extend(duplicate_keys(file, n, &path.index(i)));
            }
        }
        _ => {}
    }
    out
}

struct Validator<'a> {
    file: &'a str,
    root_schema: &'a Json,
}

impl<'a> Validator<'a> {
    fn resolve(&self, schema: &'a Json) -> &'a Json {
        let mut s = schema;
        // Bounded: schemars never chains more than a couple of refs.
        for _ in 0..16 {
            match s.get("$ref").and_then(Json::as_str) {
                Some(r) => match r.strip_prefix("#/").and_then(|p| p.split('/').try_fold(self.root_schema, |acc, seg| acc.get(seg))) {
                    Some(target) => s = target,
                    None => return s,
                },
                None => return s,
            }
        }
        s
    }

    /// `anchor` is where to point when something is missing from `node` (the key that names it).
    fn check(&self, node: &Node, schema: &'a Json, path: &YamlPath, anchor: Span) -> Vec<Diagnostic> {
        let s = self.resolve(schema);
        let mut out = Vec::new();
        if let Some(all) = s.get("allOf").and_then(Json::as_array) {
            for sub in all {
                out.extend(self.check(node, sub, path, anchor));
            }
        }
        if let Some(alts) = s.get("anyOf").or_else(|| s.get("oneOf")).and_then(Json::as_array) {
            out.extend(self.alternatives(node, alts, path, anchor));
            return out;
        }
        if let Some(c) = s.get("const") {
            if !json_eq(&node.value, c) {
                out.push(self.not_allowed(node, std::slice::from_ref(c), path));
            }
            return out;
        }
        if let Some(e) = s.get("enum").and_then(Json::as_array) {
            if !e.iter().any(|c| json_eq(&node.value, c)) {
                out.push(self.not_allowed(node, e, path));
            }
            return out;
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Json::String(one) => vec![one.as_str()],
                Json::Array(many) => many.iter().filter_map(Json::as_str).collect(),
                _ => vec![],
            };
            if !types.is_empty() && !types.iter().any(|t| type_matches(&node.value, t)) {
                out.push(self.wrong_type(node, &types, path, schema));
                return out;
            }
        }
        match &node.value {
            Value::Map(entries) => out.extend(self.object(node, entries, s, path, anchor)),
            Value::Seq(items) => {
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        out.extend(self.check(item, item_schema, &path.index(i), item.span));
                    }
                }
            }
            Value::UInt(_) | Value::Int(_) | Value::Float(_) => out.extend(self.range(node, s, path)),
            _ => {}
        }
        out
    }

    fn object(&self, node: &Node, entries: &[(Node, Node)], s: &'a Json, path: &YamlPath, anchor: Span) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let props = s.get("properties").and_then(Json::as_object);
        let additional = s.get("additionalProperties");
        for (k, v) in entries {
            let key = k.value.key_text();
            let sub = path.key(&key);
            match props.and_then(|p| p.get(&key)) {
                Some(ps) => out.extend(self.check(v, ps, &sub, k.span)),
                None => match additional {
                    Some(Json::Bool(false)) => {
                        let allowed: Vec<&str> = props.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                        let hint = match closest(&key, allowed.iter().copied()) {
                            Some(c) => format!("did you mean `{c}`?"),
                            None => format!("allowed keys here: {}", list(&allowed)),
                        };
                        out.push(
                            Diagnostic::error("unknown-key", self.file, k.span, sub.to_string(), format!("unknown key `{key}` {}", path.within()))
                                .with_label("not a policy key")
                                .with_hint(hint),
                        );
                    }
                    Some(extra @ Json::Object(_)) => out.extend(self.check(v, extra, &sub, k.span)),
                    _ => {}
                },
            }
        }
        if let Some(req) = s.get("required").and_then(Json::as_array) {
            let missing: Vec<&str> =
                req.iter().filter_map(Json::as_str).filter(|r| !entries.iter().any(|(k, _)| k.value.key_text() == *r)).collect();
            for m in missing {
                let what = props.and_then(|p| p.get(m)).map(|ps| self.describe_field(ps)).unwrap_or_default();
                let span = if anchor.is_known() { anchor } else { node.span };
                out.push(
                    Diagnostic::error("missing-key", self.file, span, path.key(m).to_string(), format!("missing required key `{m}` {}", path.within()))
                        .with_label(format!("`{m}` is missing here"))
                        .with_hint(format!("add `{m}:`{what}")),
                );
            }
        }
        out
    }

    fn alternatives(&self, node: &Node, alts: &'a [Json], path: &YamlPath, anchor: Span) -> Vec<Diagnostic> {
        // A Rust enum of unit variants: `oneOf` of `const`s.
        let consts: Vec<&Json> = alts.iter().filter_map(|a| self.resolve(a).get("const")).collect();
        let nulls = alts.iter().filter(|a| self.resolve(a).get("type").and_then(Json::as_str) == Some("null")).count();
        if !consts.is_empty() && consts.len() + nulls == alts.len() {
            if matches!(node.value, Value::Null) && nulls > 0 || consts.iter().any(|c| json_eq(&node.value, c)) {
                return Vec::new();
            }
            let owned: Vec<Json> = consts.into_iter().cloned().collect();
            return vec![self.not_allowed(node, &owned, path)];
        }
        let mut best: Option<Vec<Diagnostic>> = None;
        let mut expected = Vec::new();
        for alt in alts {
            let r = self.resolve(alt);
            let shallow = self.shallow_types(r);
            expected.extend(shallow.iter().copied());
            if !shallow.is_empty() && !shallow.iter().any(|t| type_matches(&node.value, t)) {
                continue;
            }
            let errs = self.check(node, alt, path, anchor);
            if errs.is_empty() {
                return errs;
            }
            if best.as_ref().is_none_or(|b| errs.len() < b.len()) {
                best = Some(errs);
            }
        }
        match best {
            Some(errs) => errs,
            None => {
                expected.dedup();
                vec![self.wrong_type(node, &expected, path, &Json::Null)]
            }
        }
    }

    /// The JSON types a schema accepts at its top level (empty when unconstrained).
    fn shallow_types(&self, s: &'a Json) -> Vec<&'a str> {
        let s = self.resolve(s);
        match s.get("type") {
            Some(Json::String(t)) => vec![t.as_str()],
            Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).collect(),
            _ => {
                if let Some(alts) = s.get("anyOf").or_else(|| s.get("oneOf")).and_then(Json::as_array) {
                    let nested: Vec<&str> = alts.iter().flat_map(|a| self.shallow_types(a)).collect();
                    if alts.iter().all(|a| !self.shallow_types(a).is_empty()) { nested } else { Vec::new() }
                } else if let Some(c) = s.get("const") {
                    vec![json_type(c)]
                } else {
                    Vec::new()
                }
            }
        }
    }

    fn range(&self, node: &Node, s: &Json, path: &YamlPath) -> Vec<Diagnostic> {
        let (fmin, fmax) = match s.get("format").and_then(Json::as_str) {
            Some("uint8") => (Some(0.0), Some(u8::MAX as f64)),
            Some("uint16") => (Some(0.0), Some(u16::MAX as f64)),
            Some("uint32") => (Some(0.0), Some(u32::MAX as f64)),
            Some("uint64") => (Some(0.0), Some(u64::MAX as f64)),
            _ => (None, None),
        };
        let min = s.get("minimum").and_then(Json::as_f64).or(fmin);
        let max = s.get("maximum").and_then(Json::as_f64).map(|m| fmax.map_or(m, |f: f64| f.min(m))).or(fmax);
        let x = match node.value {
            Value::UInt(u) => u as f64,
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
            _ => return Vec::new(),
        };
        let bad = min.is_some_and(|m| x < m) || max.is_some_and(|m| x > m);
        if !bad {
            return Vec::new();
        }
        let bounds = match (min, max) {
            (Some(a), Some(b)) => format!("between {a} and {b}"),
            (Some(a), None) => format!("at least {a}"),
            (None, Some(b)) => format!("at most {b}"),
            (None, None) => unreachable!("bad implies a bound"),
        };
        vec![
            Diagnostic::error("out-of-range", self.file, node.span, path.to_string(), format!("{} is out of range for {}: it must be {bounds}", node.value.describe(), path.describe()))
                .with_label("out of range")
                .with_hint(format!("use a number {bounds}")),
        ]
    }

    fn not_allowed(&self, node: &Node, allowed: &[Json], path: &YamlPath) -> Diagnostic {
        let names: Vec<String> = allowed.iter().map(|c| c.as_str().map(str::to_string).unwrap_or_else(|| c.to_string())).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let hint = match &node.value {
            Value::Str(s) => closest(s, refs.iter().copied()).map(|c| format!("did you mean `{c}`?")),
            _ => None,
        }
        .unwrap_or_else(|| format!("use one of: {}", list(&refs)));
        Diagnostic::error("invalid-value", self.file, node.span, path.to_string(), format!("{} is not a valid value for {}; expected one of {}", node.value.describe(), path.describe(), list(&refs)))
            .with_label("not an allowed value")
            .with_hint(hint)
    }

    fn wrong_type(&self, node: &Node, types: &[&str], path: &YamlPath, schema: &Json) -> Diagnostic {
        let wanted: Vec<&str> = types.iter().filter(|t| **t != "null").copied().collect();
        let wanted = if wanted.is_empty() { types.to_vec() } else { wanted };
        let expected = wanted.iter().map(|t| article(t)).collect::<Vec<_>>().join(" or ");
        let found = node.value.type_name();
        let hint = match (&node.value, wanted.first().copied()) {
            (Value::Str(s), Some("integer" | "number")) if s.trim().parse::<f64>().is_ok() => "remove the quotes around the number".to_string(),
            (Value::Str(s), Some("boolean")) if matches!(s.to_lowercase().as_str(), "yes" | "no" | "on" | "off" | "y" | "n" | "\"true\"") => {
                "write `true` or `false` (YAML 1.1 `yes`/`no`/`on`/`off` are not booleans here)".to_string()
            }
            (Value::Bool(b), Some("string")) => format!("quote it if you mean the text: \"{b}\""),
            (_, Some("object")) if path.0.is_empty() => "a policy is a mapping of top-level keys: `version`, `project`, `services`, ... (run `secctl init` for an example)".to_string(),
            (Value::Null, _) => format!("give a value, or remove the key{}", self.describe_field(schema)),
            (_, Some("array")) => format!("write a list, e.g. `[{}]` or one `- item` per line", scalar_text(&node.value)),
            _ => format!("expected {expected}{}", self.describe_field(schema)),
        };
        let found_text = match &node.value {
            Value::Seq(_) | Value::Map(_) | Value::Null => article(found),
            v => format!("{} {}", article(found), v.describe()),
        };
        Diagnostic::error("wrong-type", self.file, node.span, path.to_string(), format!("{} must be {expected}, found {found_text}", path.describe()))
            .with_label(format!("expected {expected}"))
            .with_hint(hint)
    }

    /// ` (description)` from a property schema, for hints.
    fn describe_field(&self, schema: &Json) -> String {
        let d = schema.get("description").or_else(|| self.resolve(schema).get("description")).and_then(Json::as_str);
        match d {
            Some(d) => {
                let joined = d.split_whitespace().collect::<Vec<_>>().join(" ");
                let first = joined.split(". ").next().unwrap_or("").trim_end_matches('.');
                format!(" ({first})")
            }
            None => String::new(),
        }
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Seq(_) | Value::Map(_) | Value::Null => "...".into(),
        other => other.describe(),
    }
}

fn article(t: &str) -> String {
    match t {
        "integer" => "an integer".into(),
        "object" | "mapping" => "a mapping".into(),
        "array" | "sequence" => "a list".into(),
        "null" => "nothing (null)".into(),
        other => format!("a {other}"),
    }
}

fn list(items: &[&str]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

fn json_type(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// Whether a YAML value has a JSON-Schema type. Plain numbers are accepted where a
/// string is expected, because YAML and serde-saphyr read `client_id: 12345` as the text.
fn type_matches(v: &Value, t: &str) -> bool {
    matches!(
        (v, t),
        (Value::Null, "null")
            | (Value::Bool(_), "boolean")
            | (Value::Str(_), "string")
            | (Value::UInt(_) | Value::Int(_), "integer" | "number")
            | (Value::Float(_), "number")
            | (Value::UInt(_) | Value::Int(_) | Value::Float(_), "string")
            | (Value::Seq(_), "array")
            | (Value::Map(_), "object")
    )
}

fn json_eq(v: &Value, j: &Json) -> bool {
    match (v, j) {
        (Value::Str(s), Json::String(c)) => s == c,
        (Value::Bool(b), Json::Bool(c)) => b == c,
        (Value::UInt(u), Json::Number(n)) => n.as_u64() == Some(*u),
        (Value::Int(i), Json::Number(n)) => n.as_i64() == Some(*i),
        (Value::Null, Json::Null) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(yaml: &str) -> Vec<Diagnostic> {
        let tree = super::super::node::parse(yaml).unwrap();
        validate("t.yaml", &tree, &super::super::schema::policy_schema())
    }

    #[test]
    fn paths_quote_keys_that_are_not_plain() {
        let p = YamlPath::default().key("services").key("a.b").index(2).key("port");
        assert_eq!(p.to_string(), "services[\"a.b\"][2].port");
        assert_eq!(YamlPath::default().describe(), "the top level");
    }

    #[test]
    fn option_of_struct_reports_the_inner_errors_not_a_type_mismatch() {
        let e = errors("version: 1\nproject: {name: a, environment: dev}\nservices: {}\nedge: {gateway: g, hosts: [h], hsts: {max_agee: 5}}\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!((e[0].code.as_str(), e[0].path.as_str(), e[0].line, e[0].column), ("unknown-key", "edge.hsts.max_agee", 4, 39));
        assert_eq!(e[0].hint.as_deref(), Some("did you mean `max_age`?"));
    }

    #[test]
    fn null_is_accepted_for_optional_sections_only() {
        assert!(errors("version: 1\nproject: {name: a, environment: dev}\nservices: {}\nedge:\n").is_empty());
        let e = errors("version: 1\nproject: {name: a, environment: dev}\nservices:\n");
        assert_eq!(e[0].code, "wrong-type");
        assert_eq!(e[0].path, "services");
    }
}
