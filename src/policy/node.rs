//! A generic YAML tree with a source position on every node.
//!
//! serde stops at the first error it meets, so the loader first reads the file
//! into this untyped tree (only syntax errors can stop it), then validates the
//! tree against the policy's JSON Schema to report every structural problem at
//! once (see [`super::validate`]). Every node, keys included, is read through
//! `serde_saphyr::Spanned`, so each one knows where it was written.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::span::Span;

/// One YAML node and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the node starts.
    pub span: Span,
}

/// The value of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false` (YAML 1.1 `yes`/`on` are strings under strict booleans).
    Bool(bool),
    /// A non-negative integer.
    UInt(u64),
    /// A negative integer.
    Int(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// A string (quoted, or a plain scalar that is not a number, boolean or null).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order. Duplicate keys are kept so they can all be reported.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// The JSON-Schema type name of this value, as used in messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::UInt(_) | Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "sequence",
            Value::Map(_) => "mapping",
        }
    }

    /// A short rendering of a scalar for messages (`"foo"`, `42`); containers are described by type.
    pub fn describe(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => {
                let short: String = s.chars().take(40).collect();
                if short.len() < s.len() { format!("`{short}...`") } else { format!("`{short}`") }
            }
            Value::Seq(_) => "a sequence".into(),
            Value::Map(_) => "a mapping".into(),
        }
    }

    /// The key text when this value is used as a mapping key.
    pub fn key_text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Null => "null".into(),
            other => other.describe(),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let inner = serde_saphyr::Spanned::<Value>::deserialize(d)?;
        Ok(Node { span: Span::from_location(&inner.referenced), value: inner.value })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(if v >= 0 { Value::UInt(v as u64) } else { Value::Int(v) })
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        // Out of any range the policy accepts; keep it as a float so the schema reports it.
        Ok(u64::try_from(v).map(Value::UInt).or_else(|_| i64::try_from(v).map(Value::Int)).unwrap_or(Value::Float(v as f64)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::UInt(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(u64::try_from(v).map(Value::UInt).unwrap_or(Value::Float(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Node>()? {
            let v = map.next_value::<Node>()?;
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }
}

impl Node {
    /// The entries of a mapping node, if it is one.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
}

/// Parser options for the generic tree: like [`super::load::options`], but duplicate keys
/// pass through so that every duplicate can be reported with both positions.
pub(crate) fn tree_options() -> serde_saphyr::Options {
    let mut o = super::load::options();
    o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    o
}

/// Parses YAML text into a tree. Fails only on YAML syntax (and budget) errors.
pub fn parse(text: &str) -> Result<Node, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options::<Node>(text, tree_options())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_survive_at_every_level() {
        let text = "a:\n  b: [1, \"x\"]\n  c:\n    - d: true\n";
        let n = parse(text).unwrap();
        let top = n.as_map().unwrap();
        assert_eq!((top[0].0.span.line, top[0].0.span.col), (1, 1));
        let inner = top[0].1.as_map().unwrap();
        assert_eq!((inner[0].0.span.line, inner[0].0.span.col), (2, 3));
        let Value::Seq(items) = &inner[0].1.value else { panic!() };
        assert_eq!((items[1].span.line, items[1].span.col), (2, 10));
        assert_eq!(items[1].value, Value::Str("x".into()));
        let Value::Seq(list) = &inner[1].1.value else { panic!() };
        let d = list[0].as_map().unwrap();
        assert_eq!((d[0].1.span.line, d[0].1.span.col), (4, 10));
        assert_eq!(d[0].1.value, Value::Bool(true));
    }

    #[test]
    fn duplicates_are_kept_and_yes_is_a_string() {
        let n = parse("a: yes\na: 2\n").unwrap();
        let m = n.as_map().unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].1.value, Value::Str("yes".into()));
        assert_eq!(m[1].1.value, Value::UInt(2));
    }
}
