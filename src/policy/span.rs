//! Source positions for policy values.
//!
//! Every value that a later check may blame is wrapped in [`Spanned`], so a
//! semantic error ("this DNS name is outside the CA's name constraints") points
//! at the line and column where the user wrote it, not just at the document.

use std::fmt;
use std::ops::Deref;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A position in the policy file: 1-based line and column, plus the byte
/// range when the parser knows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// 1-based line; 0 when unknown.
    pub line: u32,
    /// 1-based column (in characters); 0 when unknown.
    pub col: u32,
    /// Byte offset of the value's first character, when known.
    pub offset: Option<usize>,
    /// Length in bytes of the value's source text, when known.
    pub len: Option<usize>,
}

impl Span {
    /// A span for values that did not come from a file (defaults, generated policies).
    pub const UNKNOWN: Span = Span { line: 0, col: 0, offset: None, len: None };

    /// Whether this span points into a file.
    pub fn is_known(&self) -> bool {
        self.line > 0
    }

    /// Converts a serde-saphyr location.
    pub fn from_location(loc: &serde_saphyr::Location) -> Span {
        let line = u32::try_from(loc.line()).unwrap_or(u32::MAX);
        let col = u32::try_from(loc.column()).unwrap_or(u32::MAX);
        let span = loc.span();
        Span {
            line,
            col,
            offset: span.byte_offset().and_then(|o| usize::try_from(o).ok()),
            len: span.byte_len().and_then(|l| usize::try_from(l).ok()),
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A policy value together with where it was written.
///
/// It dereferences to the value, serializes as the bare value and has the
/// same JSON Schema as the value, so wrapping a field changes nothing for
/// users or for `secctl schema`.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where the value was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps a value that has no source position (defaults, generated policies).
    pub fn unspanned(value: T) -> Self {
        Spanned { value, span: Span::UNKNOWN }
    }

    /// Wraps a value with a position.
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T> Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    /// Spans never take part in equality: two policies that say the same thing are equal.
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<T: Eq> Eq for Spanned<T> {}

impl<T: fmt::Display> fmt::Display for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let inner = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(Spanned { span: Span::from_location(&inner.referenced), value: inner.value })
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<T: Default> Default for Spanned<T> {
    fn default() -> Self {
        Spanned::unspanned(T::default())
    }
}
