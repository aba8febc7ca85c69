//! Redis ACL values: key and channel patterns, and command rules.

use std::fmt;

/// ACL categories that exist in Redis 7.0 (`ACL CAT`). An unknown one aborts Redis at startup.
pub const CATEGORIES: &[&str] = &[
    "all", "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting",
];

/// A key or channel glob (`jobs:*`), written into an ACL line as one token (`~jobs:*`,
/// `%R~jobs:*`, `&events:*`). Grammar: 1-512 printable ASCII characters (`!` to `~`) except
/// `"`, `'` and `\`: no whitespace or control character can split the ACL line, so
/// `api (~* &* +@all)` can never add rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisPattern(String);

impl RedisPattern {
    /// Parses a pattern; the reason is phrased to follow the quoted value.
    pub fn parse(p: &str) -> Result<Self, &'static str> {
        if p.is_empty() {
            return Err("is empty");
        }
        if p.len() > 512 {
            return Err("is longer than 512 characters");
        }
        if p.chars().any(|c| !('!'..='~').contains(&c) || c == '"' || c == '\'' || c == '\\') {
            return Err("contains whitespace, a quote, a backslash or a control character, which would split or corrupt the ACL line");
        }
        Ok(Self(p.to_string()))
    }
    /// The pattern as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedisPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A command rule. Grammar: `+` or `-`, then `@<category>` (one of [`CATEGORIES`]) or a
/// command `[a-z0-9_-]+`, optionally `|<subcommand>` of the same characters. Keys (`~`),
/// passwords (`>`), `nopass` and `allkeys` are not command rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisCommandRule(String);

impl RedisCommandRule {
    /// Parses a rule; the reason is phrased to follow the quoted value.
    pub fn parse(c: &str) -> Result<Self, String> {
        let Some(rest) = c.strip_prefix('+').or_else(|| c.strip_prefix('-')) else {
            return Err("is not a command rule (it must start with `+` or `-`)".into());
        };
        if let Some(cat) = rest.strip_prefix('@') {
            if CATEGORIES.contains(&cat) {
                return Ok(Self(c.to_string()));
            }
            return Err(format!("names an ACL category Redis 7.0 does not have (known: {})", CATEGORIES.join(", ")));
        }
        let ok_word = |w: &str| !w.is_empty() && w.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_');
        let mut parts = rest.splitn(2, '|');
        let cmd = parts.next().unwrap_or("");
        if ok_word(cmd) && parts.next().is_none_or(ok_word) {
            Ok(Self(c.to_string()))
        } else {
            Err("is not a lowercase command name (optionally `cmd|subcommand`)".into())
        }
    }
    /// The rule as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedisCommandRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_rules() {
        for ok in ["+@read", "-@dangerous", "+get", "+acl|whoami", "-flushall"] {
            assert!(RedisCommandRule::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["@read", "+@nosuch", "~*", ">secret", "nopass", "allkeys", "+GET", "+get x"] {
            assert!(RedisCommandRule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn patterns_are_one_acl_token() {
        assert!(RedisPattern::parse("jobs:*").is_ok() && RedisPattern::parse("*").is_ok());
        for bad in ["", "a b", "api (~* &* +@all)", "a\nb", "a\"b", "a'b", "caf\u{e9}"] {
            assert!(RedisPattern::parse(bad).is_err(), "{bad:?}");
        }
    }
}
