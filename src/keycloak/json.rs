//! Comparing and merging Keycloak representations.
//!
//! The policy declares a *subset* of each object's fields. Comparison looks only at the declared
//! fields (so unmanaged fields never cause drift), and updates overlay the declared fields onto the
//! full server representation (so a PUT never wipes what secctl does not manage).

use serde::Serialize;
use serde_json::{Map, Value};

/// Field names whose values are never shown.
const SECRET_FIELDS: &[&str] = &["secret", "credentials", "value"];

/// One changed field.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    /// Dotted path, e.g. `attributes.pkce.code.challenge.method`.
    pub field: String,
    /// Current value (`null` when absent). Masked for secrets.
    pub from: Value,
    /// Desired value. Masked for secrets.
    pub to: Value,
}

impl FieldChange {
    fn new(field: String, from: Option<&Value>, to: &Value) -> FieldChange {
        let secret = field.rsplit('.').next().is_some_and(|last| SECRET_FIELDS.contains(&last));
        if secret {
            let mask = |v: Option<&Value>| match v {
                None | Some(Value::Null) => Value::Null,
                Some(_) => Value::String("********".into()),
            };
            return FieldChange { field, from: mask(from), to: Value::String("******** (new)".into()) };
        }
        FieldChange { field, from: from.cloned().unwrap_or(Value::Null), to: to.clone() }
    }
}

impl std::fmt::Display for FieldChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} -> {}", self.field, short(&self.from), short(&self.to))
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::Null => "(unset)".into(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// The fields of `declared` whose value differs in `actual`. Objects are compared key by key
/// (only declared keys); arrays of scalars as sets (Keycloak does not keep their order).
pub fn diff(declared: &Value, actual: Option<&Value>) -> Vec<FieldChange> {
    let mut out = Vec::new();
    diff_into(&mut out, String::new(), declared, actual);
    out
}

fn diff_into(out: &mut Vec<FieldChange>, path: String, declared: &Value, actual: Option<&Value>) {
    match declared {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                diff_into(out, p, v, actual.and_then(|a| a.get(k)));
            }
        }
        _ if !same(declared, actual) => out.push(FieldChange::new(path, actual, declared)),
        _ => {}
    }
}

/// Equality with Keycloak's normalisations: absent == null == "" == []; arrays as sets.
fn same(declared: &Value, actual: Option<&Value>) -> bool {
    let empty = |v: &Value| matches!(v, Value::Null) || v.as_str() == Some("") || v.as_array().is_some_and(Vec::is_empty);
    let actual = actual.unwrap_or(&Value::Null);
    if empty(declared) && empty(actual) {
        return true;
    }
    match (declared, actual) {
        (Value::Array(d), Value::Array(a)) => sorted(d) == sorted(a),
        _ => declared == actual,
    }
}

fn sorted(v: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    s.sort();
    s.dedup();
    s
}

/// Overlays `declared` onto `actual`: objects merge key by key, everything else is replaced.
pub fn merge(actual: &mut Value, declared: &Value) {
    match (actual, declared) {
        (Value::Object(a), Value::Object(d)) => {
            for (k, v) in d {
                match a.get_mut(k) {
                    Some(slot @ Value::Object(_)) if v.is_object() => merge(slot, v),
                    _ => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, d) => *slot = d.clone(),
    }
}

/// A JSON object from pairs (terser than `json!` when keys are computed).
pub fn object<I: IntoIterator<Item = (String, Value)>>(pairs: I) -> Value {
    Value::Object(pairs.into_iter().collect::<Map<_, _>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_declared_fields_are_compared() {
        let declared = json!({"enabled": true, "attributes": {"a": "1"}});
        let actual = json!({"enabled": true, "other": 5, "attributes": {"a": "1", "b": "2"}});
        assert!(diff(&declared, Some(&actual)).is_empty());
        let changed = json!({"enabled": false, "attributes": {"a": "2"}});
        let d = diff(&changed, Some(&actual));
        assert_eq!(d.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(), ["attributes.a", "enabled"]);
    }

    #[test]
    fn arrays_compare_as_sets_and_empty_equals_absent() {
        assert!(diff(&json!({"u": ["b", "a"]}), Some(&json!({"u": ["a", "b"]}))).is_empty());
        assert!(diff(&json!({"d": "", "l": []}), Some(&json!({}))).is_empty());
        assert_eq!(diff(&json!({"u": ["a"]}), Some(&json!({"u": ["a", "b"]}))).len(), 1);
    }

    #[test]
    fn secrets_are_masked() {
        let d = diff(&json!({"secret": "hunter2"}), Some(&json!({"secret": "old"})));
        let shown = format!("{}", d[0]);
        assert!(!shown.contains("hunter2") && !shown.contains("old"), "{shown}");
    }

    #[test]
    fn merge_keeps_unmanaged_fields() {
        let mut actual = json!({"a": 1, "attributes": {"x": "1", "y": "2"}, "list": [1, 2]});
        merge(&mut actual, &json!({"attributes": {"y": "3"}, "list": [3]}));
        assert_eq!(actual, json!({"a": 1, "attributes": {"x": "1", "y": "3"}, "list": [3]}));
    }
}
