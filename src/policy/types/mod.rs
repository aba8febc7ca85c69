//! Validated policy values: every value that reaches a generated config, a path on disk, a
//! certificate or Keycloak has a type here with a documented grammar (docs/policy.md, "Value
//! grammar"). Each type has `parse(&str) -> Result<Self, String>` (the reason names the value,
//! with control characters made visible) and `Display` (the canonical text).
//!
//! The grammars are allow-lists, chosen so that a valid value can never carry syntax of the
//! files it lands in: no `;`, braces, `$`, quotes, `\`, `#`, whitespace, control or bidi
//! characters, and no `..` path segment, unless a type says otherwise.

use std::fmt;

pub mod glob;
pub mod net;
pub mod redis;

pub use net::{dns_within, is_dns_name, Cidr, DnsName, Host, HttpUrl, NameConstraints, Origin};

/// The value as it may be shown in a message: control, bidi and other invisible characters
/// are escaped (`\n`, `\u{202e}`), so a hostile value cannot rewrite a terminal or CI log.
pub fn show(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_control() || is_invisible(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Bidi controls and zero-width characters: they reorder or hide text on screen.
fn is_invisible(c: char) -> bool {
    // Zero-width and bidi controls, and the line/paragraph separators (U+2028/9), which some
    // targets read as line breaks.
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

macro_rules! string_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// Checks `s` against a simple grammar: length, first character class, other characters.
fn word(s: &str, what: &str, max: usize, first: fn(char) -> bool, rest: fn(char) -> bool, grammar: &str) -> Result<String, String> {
    let mut chars = s.chars();
    let ok = s.len() <= max && chars.next().is_some_and(first) && chars.all(rest);
    if ok { Ok(s.to_string()) } else { Err(format!("{what} `{}` does not match {grammar}", show(s))) }
}

fn lower_digit(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

string_type! {
    /// A service name: the Compose service, certificate CN, SPIFFE path, Redis user and file
    /// name. Grammar: `[a-z][a-z0-9_-]*`, at most 63 characters, and not `default` (Redis's own
    /// user, which secctl disables: a service of that name would redefine it).
    ServiceName
}
impl ServiceName {
    /// Parses a service name.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s == "default" {
            return Err("service name `default` is reserved: it is Redis's own user, which secctl turns off; choose another name".into());
        }
        word(s, "service name", 63, |c| c.is_ascii_lowercase(), |c| lower_digit(c) || c == '-' || c == '_', "`[a-z][a-z0-9_-]*` (at most 63)").map(Self)
    }
}

string_type! {
    /// A project name (Compose project, certificate organization default). Grammar:
    /// `[a-z][a-z0-9-]*`, at most 63 characters.
    ProjectName
}
impl ProjectName {
    /// Parses a project name.
    pub fn parse(s: &str) -> Result<Self, String> {
        word(s, "project name", 63, |c| c.is_ascii_lowercase(), |c| lower_digit(c) || c == '-', "`[a-z][a-z0-9-]*` (at most 63)").map(Self)
    }
}

string_type! {
    /// A Keycloak name that lands in URLs (realm, client id, role, fixture username,
    /// token claim, user attribute). Grammar: `[A-Za-z0-9][A-Za-z0-9._:@-]*`, at most 255
    /// characters; `.` cannot start it, so `..` and `.` are impossible.
    KeycloakName
}
impl KeycloakName {
    /// Parses a Keycloak name; `what` names the field in the reason.
    pub fn parse(s: &str, what: &str) -> Result<Self, String> {
        word(s, what, 255, |c| c.is_ascii_alphanumeric(), |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '-'), "`[A-Za-z0-9][A-Za-z0-9._:@-]*`").map(Self)
    }
}

string_type! {
    /// A tenant id (organization alias or attribute value). Grammar: `[a-z0-9][a-z0-9-]*`, at
    /// most 63 characters.
    TenantId
}
impl TenantId {
    /// Parses a tenant id.
    pub fn parse(s: &str) -> Result<Self, String> {
        word(s, "tenant id", 63, lower_digit, |c| lower_digit(c) || c == '-', "`[a-z0-9][a-z0-9-]*` (at most 63)").map(Self)
    }
}

string_type! {
    /// An environment variable name (secret references). Grammar: `[A-Z_][A-Z0-9_]*`, at
    /// most 128 characters. A value outside it is usually a secret pasted by mistake.
    EnvName
}
impl EnvName {
    /// Parses an environment variable name.
    pub fn parse(s: &str) -> Result<Self, String> {
        let r = word(s, "environment variable", 128, |c| c.is_ascii_uppercase() || c == '_', |c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_', "`[A-Z_][A-Z0-9_]*`");
        // Never echo what may be a pasted secret.
        r.map(Self).map_err(|_| "the environment variable name does not match `[A-Z_][A-Z0-9_]*` (it is not shown: it may be a secret)".to_string())
    }
}

/// Characters allowed in a path segment (deploy paths, relative dirs, file references).
/// No `~`: ModSecurity's lexer cuts an `Include` path at `~` (and at `{`, `#`).
fn path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@' | '%' | '=' | ',' | ':')
}

/// Checks the segments of a path; `.` and empty segments are refused, and `..` unless `dotdot`.
fn segments(full: &str, body: &str, what: &str, dotdot: bool) -> Result<(), String> {
    let s = full;
    for seg in body.split('/') {
        if seg.is_empty() {
            return Err(format!("{what} `{}` has an empty segment (`//`); write each directory once", show(s)));
        }
        if seg == ".." && dotdot {
            continue;
        }
        if seg == "." || seg == ".." {
            return Err(format!("{what} `{}` has a `{seg}` segment; write the normalized path", show(s)));
        }
        if let Some(c) = seg.chars().find(|c| !path_char(*c)) {
            return Err(format!("{what} `{}` contains `{}`; paths use letters, digits and `._-+@%=,:` only", show(s), show(&c.to_string())));
        }
    }
    Ok(())
}

string_type! {
    /// An absolute, normalized path on the target host (`deploy.*`, `waf.audit_log`).
    /// Grammar: `/` followed by segments of `[A-Za-z0-9._+@%=,:-]`, separated by one `/`; no
    /// `.` or `..` segment; one trailing `/` is dropped; at most 1024 bytes. So no whitespace,
    /// control character, `;{}$"'\#` or glob can reach nginx, Redis or Compose.
    AbsPath
}
impl AbsPath {
    /// Parses an absolute path.
    pub fn parse(s: &str, what: &str) -> Result<Self, String> {
        let Some(rest) = s.strip_prefix('/') else { return Err(format!("{what} `{}` is not an absolute path (it must start with `/`)", show(s))) };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if s.len() > 1024 {
            return Err(format!("{what} is longer than 1024 bytes"));
        }
        if rest.is_empty() {
            return Err(format!("{what} `/` is the filesystem root; name a directory"));
        }
        segments(s, rest, what, false)?;
        Ok(Self(format!("/{rest}")))
    }
}

string_type! {
    /// A directory or file the CLI reads or writes on this machine (`ca.pki_dir`,
    /// `redis.secrets_dir`, secret files, `ca_bundle`). Grammar: an absolute path as in
    /// [`AbsPath`], or a relative one with the same segments, resolved against the policy's
    /// directory. Not empty, no `.` or empty segment, and not `.` itself (the policy's own
    /// directory is never a key store). `..` segments are allowed in a relative path and mean
    /// what they mean to the file system: the parent of the policy's directory
    /// (`../pki-local`). They give no more reach than an absolute path, which is also
    /// allowed: this path is chosen by whoever runs secctl on their own machine, and it never
    /// reaches a generated file. Names that do reach files (services, realms) refuse `..`.
    LocalPath
}
impl LocalPath {
    /// Parses a local path.
    pub fn parse(s: &str, what: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err(format!("{what} is empty; name a directory such as `pki`"));
        }
        if s.starts_with('/') {
            return AbsPath::parse(s, what).map(|p| Self(p.0));
        }
        let rest = s.strip_suffix('/').unwrap_or(s);
        if rest == "." {
            return Err(format!("{what} `.` is the policy's own directory; name a subdirectory such as `pki`"));
        }
        if s.len() > 1024 {
            return Err(format!("{what} is longer than 1024 bytes"));
        }
        segments(s, rest, what, true)?;
        Ok(Self(rest.to_string()))
    }
}

string_type! {
    /// A gateway route path (an nginx `location` and a ModSecurity `@beginsWith`/`@streq`
    /// argument). Grammar: `/`, then segments of `[A-Za-z0-9._+,=:@-]` separated by one
    /// `/`; a trailing `/` makes it a prefix route, none an exact route; no `.` or `..`
    /// segment, no `%`, at most 1024 bytes. Templates such as `/api/{tenant}/` do not exist: a
    /// route is a literal prefix, and a tenant-scoped route (`tenant_scoped: true`) takes the
    /// tenant from the token, checked by the backend kit.
    RoutePath
}
impl RoutePath {
    /// Parses a route path.
    pub fn parse(s: &str) -> Result<Self, String> {
        let Some(rest) = s.strip_prefix('/') else { return Err(format!("route path `{}` does not start with `/`", show(s))) };
        if s.len() > 1024 {
            return Err("route path is longer than 1024 bytes".into());
        }
        if s.contains(['{', '}']) {
            return Err(format!("route path `{}` has braces: path templates do not exist, a route is a literal prefix (use `tenant_scoped: true` for per-tenant access)", show(s)));
        }
        let body = rest.strip_suffix('/').unwrap_or(rest);
        if body.is_empty() {
            return Ok(Self("/".into()));
        }
        for seg in body.split('/') {
            if seg.is_empty() || seg == "." || seg == ".." {
                return Err(format!("route path `{}` has an empty, `.` or `..` segment; write the normalized path", show(s)));
            }
            // No `~`, `!` or `*`: a route path is also a ModSecurity operator argument, where `*`
            // is a glob and `~`/`!` are not plain tokens.
            if let Some(c) = seg.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | ',' | '=' | ':' | '@' | '-'))) {
                return Err(format!("route path `{}` contains `{}`; paths use letters, digits and `._+,=:@-`", show(s), show(&c.to_string())));
            }
        }
        Ok(Self(s.to_string()))
    }
    /// A prefix route (ends with `/`).
    pub fn is_prefix(&self) -> bool {
        self.0.ends_with('/')
    }
}

string_type! {
    /// An HTTP header name. Grammar: `[A-Za-z0-9-]+`, at most 128 characters.
    HeaderName
}
impl HeaderName {
    /// Parses a header name.
    pub fn parse(s: &str) -> Result<Self, String> {
        word(s, "header name", 128, |c| c.is_ascii_alphanumeric(), |c| c.is_ascii_alphanumeric() || c == '-', "`[A-Za-z0-9-]+`").map(Self)
    }
}

string_type! {
    /// An HTTP header value. Grammar: printable ASCII (space to `~`) except `$` (nginx
    /// expands it in every string), not starting or ending with a space, at most 4096 bytes.
    /// Quotes and `;` are allowed: the renderer quotes the value.
    HeaderValue
}
impl HeaderValue {
    /// Parses a header value.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() > 4096 {
            return Err("header value is longer than 4096 bytes".into());
        }
        if let Some(c) = s.chars().find(|c| !(' '..='~').contains(c) || *c == '$') {
            return Err(format!("header value `{}` contains `{}`; header values are printable ASCII without `$`", show(s), show(&c.to_string())));
        }
        if s.starts_with(' ') || s.ends_with(' ') {
            return Err(format!("header value `{s}` starts or ends with a space"));
        }
        Ok(Self(s.to_string()))
    }
}

string_type! {
    /// An nginx size (`client_max_body_size`). Grammar: `[0-9]+[kKmMgG]?`, at most 12 digits.
    Size
}
impl Size {
    /// Parses a size.
    pub fn parse(s: &str) -> Result<Self, String> {
        let digits = s.strip_suffix(['k', 'K', 'm', 'M', 'g', 'G']).unwrap_or(s);
        if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("size `{}` is not `<n>`, `<n>k`, `<n>m` or `<n>g`, e.g. `1m`", show(s)));
        }
        Ok(Self(s.to_string()))
    }
}

string_type! {
    /// An HTTP method. Grammar: `[A-Z]+`, at most 20 characters.
    HttpMethod
}
impl HttpMethod {
    /// Parses a method.
    pub fn parse(s: &str) -> Result<Self, String> {
        word(s, "HTTP method", 20, |c| c.is_ascii_uppercase(), |c| c.is_ascii_uppercase(), "`[A-Z]+`, e.g. `GET`").map(Self)
    }
}

string_type! {
    /// A media type without parameters. Grammar: `type/subtype`, each of
    /// `[A-Za-z0-9][A-Za-z0-9!#&^_.+-]*`, at most 127 characters each.
    MediaType
}
impl MediaType {
    /// Parses a media type.
    pub fn parse(s: &str) -> Result<Self, String> {
        let tok = |t: &str| !t.is_empty() && t.len() <= 127 && t.starts_with(|c: char| c.is_ascii_alphanumeric()) && t.chars().all(|c| c.is_ascii_alphanumeric() || "!#&^_.+-".contains(c));
        match s.split_once('/') {
            Some((a, b)) if tok(a) && tok(b) => Ok(Self(s.to_string())),
            _ => Err(format!("media type `{}` is not `type/subtype`, e.g. `application/json`", show(s))),
        }
    }
}

string_type! {
    /// A ModSecurity argument name for exclusions (`ARGS:<name>`). Grammar:
    /// `[A-Za-z0-9._\[\]-]+`, at most 256 characters.
    WafArg
}
impl WafArg {
    /// Parses an argument name.
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '[' | ']');
        word(s, "WAF argument", 256, ok, ok, "`[A-Za-z0-9._[]-]+`, e.g. `json.prompt`").map(Self)
    }
}

string_type! {
    /// A custom ModSecurity rule. Grammar: one line of printable ASCII (space to `~`),
    /// starting with `SecRule ` or `SecAction `, at most 4096 bytes. The directive text itself
    /// is the user's (ModSecurity syntax is checked by `modsec-rules-check` on the rendered
    /// output); the grammar guarantees it stays one directive.
    WafRule
}
impl WafRule {
    /// Parses a rule; surrounding spaces are dropped.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim_matches(' ');
        if t.len() > 4096 {
            return Err("the rule is longer than 4096 bytes".into());
        }
        if let Some(c) = t.chars().find(|c| !(' '..='~').contains(c)) {
            return Err(format!("the rule contains `{}`: a custom rule is one line of printable ASCII (a line break would start another directive)", show(&c.to_string())));
        }
        if !(t.starts_with("SecRule ") || t.starts_with("SecAction ")) {
            return Err("the rule must start with `SecRule ` or `SecAction `".into());
        }
        if t.ends_with('\\') {
            return Err("the rule ends with `\\`, which would continue it into the next directive".into());
        }
        Ok(Self(t.to_string()))
    }
}

string_type! {
    /// Free text that lands in a certificate subject and the gateway's client-subject map
    /// (`ca.organization`). Grammar: 1-64 printable characters: no control, bidi or zero-width
    /// character, and no `$` (nginx expands it in every string, so it cannot be quoted).
    Label
}
impl Label {
    /// Parses a label.
    pub fn parse(s: &str, what: &str) -> Result<Self, String> {
        if s.is_empty() || s.chars().count() > 64 || s.chars().any(|c| c.is_control() || is_invisible(c) || c == '$') {
            return Err(format!("{what} `{}` must be 1-64 printable characters without `$`", show(s)));
        }
        Ok(Self(s.to_string()))
    }
}

#[cfg(test)]
mod tests;
