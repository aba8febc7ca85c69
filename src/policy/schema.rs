//! The JSON Schema of the policy format, generated from [`Policy`] by schemars.
//!
//! It is printed by `secctl schema`, committed as `docs/policy.schema.json` for
//! editors (the shipped policies point at it with a `yaml-language-server`
//! comment), and used by the loader to validate the raw YAML tree.

use super::model::Policy;

/// The schema as a JSON value.
pub fn policy_schema() -> serde_json::Value {
    cached_schema().clone()
}

/// The schema, generated once per process (the loader validates every file against it).
pub fn cached_schema() -> &'static serde_json::Value {
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| schemars::schema_for!(Policy).to_value())
}

/// The schema as pretty JSON text with a trailing newline (the `secctl schema` output).
pub fn policy_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&policy_schema()).unwrap_or_default();
    s.push('\n');
    s
}

use serde_json::Value as Json;

/// The key reference as Markdown, generated from the schema so it can never miss a key:
/// one section per policy type (a table of its keys) and one per choice list.
/// `docs/policy.md` embeds it (`secctl schema --markdown`); a test keeps it current.
pub fn markdown_reference() -> String {
    let schema = policy_schema();
    let empty = serde_json::Map::new();
    let defs = schema.get("$defs").and_then(Json::as_object).unwrap_or(&empty);
    let mut out = String::new();
    out.push_str(&object_section("Policy (top level)", "policy", &schema));
    for (name, def) in defs {
        if def.get("properties").is_some() {
            out.push_str(&object_section(name, &anchor(name), def));
        } else if let Some(alts) = def.get("oneOf").or_else(|| def.get("enum")).and_then(Json::as_array) {
            out.push_str(&format!("### {name}\n\n{}\n\n| value | meaning |\n|---|---|\n", one_line(def.get("description"))));
            for a in alts {
                let v = a.get("const").or(Some(a)).and_then(Json::as_str).unwrap_or("");
                out.push_str(&format!("| `{v}` | {} |\n", one_line(a.get("description"))));
            }
            out.push('\n');
        }
    }
    out
}

fn anchor(name: &str) -> String {
    name.to_lowercase()
}

fn one_line(d: Option<&Json>) -> String {
    d.and_then(Json::as_str).unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

fn object_section(title: &str, _anchor: &str, def: &Json) -> String {
    let mut s = format!("### {title}\n\n{}\n\n| key | type | required | default | meaning |\n|---|---|---|---|---|\n", one_line(def.get("description")));
    let required: Vec<&str> = def.get("required").and_then(Json::as_array).map(|r| r.iter().filter_map(Json::as_str).collect()).unwrap_or_default();
    if let Some(props) = def.get("properties").and_then(Json::as_object) {
        for (key, p) in props {
            let default = p.get("default").map(|d| format!("`{d}`")).unwrap_or_default();
            s.push_str(&format!(
                "| `{key}` | {} | {} | {default} | {} |\n",
                type_of(p),
                if required.contains(&key.as_str()) { "yes" } else { "" },
                one_line(p.get("description"))
            ));
        }
    }
    s.push('\n');
    s
}

fn type_of(p: &Json) -> String {
    if let Some(r) = p.get("$ref").and_then(Json::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("[{name}](#{})", anchor(name));
    }
    if let Some(alts) = p.get("anyOf").or_else(|| p.get("oneOf")).and_then(Json::as_array) {
        let parts: Vec<String> = alts.iter().filter(|a| a.get("type").and_then(Json::as_str) != Some("null")).map(type_of).collect();
        return parts.join(" or ");
    }
    let t: Vec<&str> = match p.get("type") {
        Some(Json::String(t)) => vec![t.as_str()],
        Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).filter(|t| *t != "null").collect(),
        _ => vec![],
    };
    match t.first().copied() {
        Some("array") => format!("list of {}", p.get("items").map(type_of).unwrap_or_else(|| "values".into())),
        Some("object") => match p.get("additionalProperties") {
            Some(a @ Json::Object(_)) => format!("map of name → {}", type_of(a)),
            _ => "mapping".into(),
        },
        Some("integer") => {
            let max = match p.get("format").and_then(Json::as_str) {
                Some("uint8") => " (0-255)",
                Some("uint16") => " (0-65535)",
                _ => "",
            };
            format!("integer{max}")
        }
        Some(other) => other.to_string(),
        None => "any".into(),
    }
}
