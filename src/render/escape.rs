//! Escaping and quoting for every target syntax, so a policy value can never add a
//! directive, a line or a path component to a generated file.
//!
//! `secctl check` is the gate that refuses unsafe values with a code; these
//! functions are the second depth. They quote what the target can quote, and
//! refuse what it cannot carry (nginx `$`, a line break in a ModSecurity rule, a
//! Redis ACL token with a space) with an internal error: reaching that error
//! means `check` let the value through, which is a secctl bug.
//!
//! The templates use them as Tera filters (registered by [`register`]):
//! `ngx` (nginx argument), `ngx_key` (nginx `map` key), `redis` (redis.conf
//! argument), `modsec_arg` (ModSecurity token), `py` (Python/JSON string literal)
//! and `comment` (text inside a `#` comment).

use std::collections::HashMap;

use anyhow::{bail, Result};
use tera::{Tera, Value};

/// The internal error for a value `check` should have refused.
pub fn unsafe_value(target: &str, what: &str, v: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "a secctl bug: `secctl check` let {what} {} through, and {target} cannot carry it safely; \
         report it, and change the value to plain letters, digits, `.`, `-` and `_` meanwhile",
        printable(v)
    )
}

/// Characters that reorder or hide text (Trojan Source): refused wherever a person reads the output.
pub fn is_bidi(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}')
}

/// Control characters, bidi controls and Unicode line/paragraph separators.
fn is_hostile(c: char) -> bool {
    c.is_control() || is_bidi(c) || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// A quoted Rust-style rendering of a value for error messages (one line, no raw control bytes).
pub fn printable(v: &str) -> String {
    format!("{:?}", v).chars().map(|c| if is_bidi(c) { '?' } else { c }).collect()
}

/// Text for a `#` comment: one line whatever the input. Control, bidi and line-separator
/// characters become `\u{..}` so a person reading the file sees them.
pub fn comment(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if is_hostile(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters safe in a bare token of nginx, Redis and ModSecurity configs.
fn bare_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@' | '+' | '=' | ',' | '*')
}

/// One nginx directive argument. Plain tokens stay bare; anything else is double-quoted with
/// `\` and `"` escaped. `$` starts a variable and cannot be escaped, and nginx has no escape
/// for control characters that survives every directive, so both are refused.
pub fn nginx(v: &str) -> Result<String> {
    if v.contains('$') || v.chars().any(is_hostile) {
        return Err(unsafe_value("nginx", "the value", v));
    }
    if !v.is_empty() && v.chars().all(bare_safe) && !v.starts_with(['=', '~', '^', '@']) {
        return Ok(v.to_string());
    }
    Ok(format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
}

/// nginx `map` keywords: a source value spelled like one of these is a directive, not a key.
const MAP_KEYWORDS: &[&str] = &["default", "hostnames", "include", "volatile"];

/// One nginx `map` source value (a literal, never a regex or a keyword). The `map` block strips
/// one leading `\`, so a value that could be read as `~regex` or a keyword gets one.
pub fn nginx_map_key(v: &str) -> Result<String> {
    let q = nginx(v)?;
    if q == v && !MAP_KEYWORDS.contains(&v) && !v.starts_with(['~', '\\']) {
        return Ok(q);
    }
    // `"\\` is one literal backslash once nginx has read the quoted string.
    Ok(format!("\"\\\\{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
}

/// One redis.conf argument: bare when plain, else double-quoted with Redis's escapes
/// (`\\`, `\"`, `\xHH` for every byte outside printable ASCII), so nothing can end the line.
pub fn redis(v: &str) -> String {
    if !v.is_empty() && v.chars().all(bare_safe) {
        return v.to_string();
    }
    let mut out = String::from("\"");
    for b in v.bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// One Redis ACL token (user name, key pattern): ACL lines are split on spaces and cannot
/// quote, so anything but printable ASCII without quotes and backslashes is refused.
pub fn acl_token(v: &str, what: &str) -> Result<String> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\')) {
        return Err(unsafe_value("a Redis ACL", what, v));
    }
    Ok(v.to_string())
}

/// A token inside a ModSecurity directive (path, operator argument, action value). The
/// SecLang lexer cuts `Include` paths at `{`, `#` and `~`, expands `*` as a glob and reads `$`
/// as a macro, so only plain characters pass: it stays one literal argument on one line.
pub fn modsec(v: &str, what: &str) -> Result<String> {
    if v.is_empty() || !v.chars().all(|c| bare_safe(c) && c != '*') {
        return Err(unsafe_value("ModSecurity", what, v));
    }
    Ok(v.to_string())
}

/// An nginx size (`client_max_body_size`): digits with an optional `k`, `m` or `g` suffix.
pub fn nginx_size(v: &str) -> Result<String> {
    let digits = v.strip_suffix(['k', 'K', 'm', 'M', 'g', 'G']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unsafe_value("nginx", "the size", v));
    }
    Ok(v.to_string())
}

/// A host path secctl writes to: a NUL byte cannot be in a file name (the write would fail
/// half-way through a render), so it is refused before anything is written.
pub fn host_path(p: &std::path::Path, what: &str) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    if p.as_os_str().as_bytes().contains(&0) {
        return Err(unsafe_value("a file path", what, &p.to_string_lossy()));
    }
    Ok(())
}

/// A JSON string literal, which is also a valid Python string literal. Everything outside
/// printable ASCII is `\u`-escaped, so U+2028, NUL or a bidi override never appear raw.
pub fn py(v: &str) -> String {
    ascii_json(&serde_json::to_string(v).expect("strings serialize"))
}

/// Rewrites serde_json output so every non-ASCII character is a `\uXXXX` escape (non-ASCII
/// only occurs inside strings there, so the result is the same JSON value).
pub fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && (!c.is_ascii_control() || c == '\n') {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// One path component built from a policy value (a service or user name in a file name):
/// never empty, `.`, `..`, and never with `/` or NUL, so it cannot leave its directory.
pub fn path_segment(v: &str, what: &str) -> Result<String> {
    if v.is_empty() || v == "." || v == ".." || v.contains(['/', '\\', '\0']) {
        bail!(unsafe_value("a file path", what, v));
    }
    Ok(v.to_string())
}

/// A deploy root (a path inside the containers): no `.` or `..` component, so two roots can
/// never turn out to be one directory, and nothing built under a root can leave it.
pub fn deploy_root(v: &str, what: &str) -> Result<()> {
    if v.is_empty() || v.split('/').any(|c| c == "." || c == "..") {
        return Err(unsafe_value("a deploy path", what, v));
    }
    Ok(())
}

/// A URL path segment: percent-encodes everything but RFC 3986 unreserved characters,
/// and the dots of `.` or `..`, so the segment can never walk up the URL.
pub fn url_segment(v: &str) -> String {
    let mut out = String::new();
    let dots = v.bytes().all(|b| b == b'.');
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') || (b == b'.' && !dots) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Registers the escaping filters on a Tera instance.
pub fn register(t: &mut Tera) {
    fn s(v: &Value, name: &str) -> tera::Result<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(tera::Error::msg(format!("filter `{name}` expects a string, got {other} (a template bug)"))),
        }
    }
    let err = |e: anyhow::Error| tera::Error::msg(format!("{e:#}"));
    t.register_filter("ngx", move |v: &Value, _: &HashMap<String, Value>| Ok(Value::String(nginx(&s(v, "ngx")?).map_err(err)?)));
    t.register_filter("ngx_key", move |v: &Value, _: &HashMap<String, Value>| Ok(Value::String(nginx_map_key(&s(v, "ngx_key")?).map_err(err)?)));
    t.register_filter("redis", |v: &Value, _: &HashMap<String, Value>| Ok(Value::String(redis(&s(v, "redis")?))));
    t.register_filter("modsec_arg", move |v: &Value, _: &HashMap<String, Value>| Ok(Value::String(modsec(&s(v, "modsec_arg")?, "a value").map_err(err)?)));
    t.register_filter("py", |v: &Value, _: &HashMap<String, Value>| Ok(Value::String(py(&s(v, "py")?))));
    t.register_filter("comment", |v: &Value, _: &HashMap<String, Value>| Ok(Value::String(comment(&s(v, "comment")?))));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_quotes_what_is_not_a_plain_token_and_refuses_what_it_cannot_carry() {
        assert_eq!(nginx("/etc/secctl/pki").unwrap(), "/etc/secctl/pki");
        assert_eq!(nginx(";include /etc/passwd;#").unwrap(), "\";include /etc/passwd;#\"");
        assert_eq!(nginx(r#"a "b" \c"#).unwrap(), r#""a \"b\" \\c""#);
        assert_eq!(nginx("~x").unwrap(), "\"~x\"");
        assert_eq!(nginx("").unwrap(), "\"\"");
        for bad in ["a$b", "a\nb", "a\rb", "a\u{1b}[2K", "a\0", "\u{202e}x", "a\u{2028}b"] {
            let e = nginx(bad).unwrap_err().to_string();
            assert!(e.contains("a secctl bug") && !e.contains('\n') && !e.contains('\u{1b}'), "{e}");
        }
    }

    #[test]
    fn map_keys_are_never_keywords_or_regexes() {
        assert_eq!(nginx_map_key("https://a.example").unwrap(), "https://a.example");
        assert_eq!(nginx_map_key("include").unwrap(), "\"\\\\include\"");
        assert_eq!(nginx_map_key("default").unwrap(), "\"\\\\default\"");
        assert_eq!(nginx_map_key("~.*").unwrap(), "\"\\\\~.*\"");
        assert_eq!(nginx_map_key("\\x").unwrap(), "\"\\\\\\\\x\"");
        assert_eq!(nginx_map_key("a b\"").unwrap(), "\"\\\\a b\\\"\"");
    }

    #[test]
    fn redis_strings_stay_on_one_line() {
        assert_eq!(redis("/var/lib/x"), "/var/lib/x");
        assert_eq!(redis("a\nenable-debug-command yes"), "\"a\\x0aenable-debug-command yes\"");
        assert_eq!(redis("a \"b\" \\"), "\"a \\\"b\\\" \\\\\"");
        assert_eq!(redis("é"), "\"\\xc3\\xa9\"");
        assert!(acl_token("api (~* &* +@all)", "user").is_err());
        assert!(acl_token("api", "user").is_ok());
    }

    #[test]
    fn python_literals_escape_everything_unusual() {
        assert_eq!(py("a\u{2028}b\u{202e}\0\"'"), "\"a\\u2028b\\u202e\\u0000\\\"'\"");
        assert_eq!(py("😀"), "\"\\ud83d\\ude00\"");
    }

    #[test]
    fn comments_and_paths_and_urls() {
        assert_eq!(comment("a\nb\u{202e}"), "a\\u{a}b\\u{202e}");
        assert!(path_segment("../x", "user").is_err());
        assert!(modsec("/a/b-c.conf", "x").is_ok());
        for bad in ["/a/x{}", "/a/#x", "/a/~x", "/a/*", "$x", "a b", "a\nb", "a'b"] {
            assert!(modsec(bad, "x").is_err(), "{bad:?}");
        }
        assert_eq!(nginx_size("1m").unwrap(), "1m");
        assert!(nginx_size("../../x").is_err() && nginx_size("m").is_err());
        assert!(path_segment("..", "user").is_err());
        assert_eq!(path_segment("api", "user").unwrap(), "api");
        assert_eq!(url_segment("../admin"), "..%2Fadmin");
        assert_eq!(url_segment(".."), "%2E%2E");
        assert_eq!(url_segment("acme"), "acme");
    }
}
