//! The JSON Schema of the policy format, generated from [`Policy`] by schemars.
//!
//! It is printed by `secctl schema`, committed as `docs/policy.schema.json` for
//! editors (the shipped policies point at it with a `yaml-language-server`
//! comment), and used by the loader to validate the raw YAML tree.

use super::model::Policy;

/// The schema as a JSON value.
pub fn policy_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Policy);
    schema.to_value()
}

/// The schema as pretty JSON text with a trailing newline (the `secctl schema` output).
pub fn policy_schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&policy_schema()).unwrap_or_default();
    s.push('\n');
    s
}
