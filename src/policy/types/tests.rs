use super::*;

/// Hostile fragments that must never survive into a value bound for a config file.
const HOSTILE: &[&str] = &["\n", "\r", ";", "{", "}", "$", "\"", "'", "\\", "#", " ", "\t", "\u{202e}", "\u{0}", "\u{1b}[2K"];

#[test]
fn names_refuse_every_hostile_fragment() {
    for h in HOSTILE.iter().chain(["../", "/", "~* &* +@all", "*"].iter()) {
        let v = format!("api{h}x");
        assert!(ServiceName::parse(&v).is_err(), "{v:?}");
        assert!(ProjectName::parse(&v).is_err(), "{v:?}");
        assert!(TenantId::parse(&v).is_err(), "{v:?}");
        assert!(KeycloakName::parse(&v, "realm").is_err(), "{v:?}");
    }
    assert!(ServiceName::parse("api-1_b").is_ok());
    assert!(ServiceName::parse("1api").is_err());
    assert!(ServiceName::parse(&"a".repeat(64)).is_err());
    assert!(KeycloakName::parse("..", "realm").is_err());
    assert!(KeycloakName::parse("backend-api", "client").is_ok());
}

#[test]
fn paths_are_absolute_normalized_and_inert() {
    assert_eq!(AbsPath::parse("/etc/secctl/", "p").unwrap().as_str(), "/etc/secctl");
    for bad in ["etc", "/", "/a//b", "/a/../b", "/a/./b", "/a;include /etc/passwd;#", "/a\nenable-debug-command yes", "/a b", "/a$x", "/a{b}", "/a\"", "/a'", "/a\\b", "/a#b", "/a\u{202e}b"] {
        assert!(AbsPath::parse(bad, "p").is_err(), "{bad:?}");
    }
    assert_eq!(LocalPath::parse("pki", "p").unwrap().as_str(), "pki");
    assert_eq!(LocalPath::parse("secrets/redis/", "p").unwrap().as_str(), "secrets/redis");
    assert!(LocalPath::parse("/srv/pki", "p").is_ok());
    assert_eq!(LocalPath::parse("../pki-local", "p").unwrap().as_str(), "../pki-local");
    for bad in ["", ".", "./", "./pki", "a//b", "a\nb", "a;b", "a b"] {
        assert!(LocalPath::parse(bad, "p").is_err(), "{bad:?}");
    }
}

#[test]
fn route_paths() {
    for ok in ["/", "/api/", "/healthz", "/v1/ai/chat", "/a.b/c-d_e+f/"] {
        assert_eq!(RoutePath::parse(ok).unwrap().as_str(), ok);
    }
    assert!(RoutePath::parse("/api/").unwrap().is_prefix());
    assert!(!RoutePath::parse("/healthz").unwrap().is_prefix());
    let e = RoutePath::parse("/api/{tenant}/").unwrap_err();
    assert!(e.contains("templates do not exist"), "{e}");
    for h in HOSTILE.iter().chain(["%2e", "/../", "//"].iter()) {
        let v = format!("/api{h}x/");
        assert!(RoutePath::parse(&v).is_err(), "{v:?}");
    }
    assert!(RoutePath::parse("api/").is_err());
}

#[test]
fn env_names_never_echo_the_value() {
    assert!(EnvName::parse("KC_ADMIN_PASSWORD").is_ok());
    assert!(EnvName::parse("_X1").is_ok());
    for bad in ["kc_password", "1ABC", "A-B", "", "hunter2-secret"] {
        let e = EnvName::parse(bad).unwrap_err();
        assert!(bad.is_empty() || !e.contains(bad), "{e}");
    }
}

#[test]
fn headers_sizes_methods_media_types() {
    assert!(HeaderName::parse("X-Request-Id").is_ok());
    assert!(HeaderName::parse("X Bad").is_err());
    assert!(HeaderValue::parse("default-src 'none'; frame-ancestors 'none'").is_ok());
    assert!(HeaderValue::parse("a\nb").is_err());
    assert!(HeaderValue::parse("$host").is_err());
    assert!(HeaderValue::parse("caf\u{e9}").is_err());
    assert!(Size::parse("1m").is_ok() && Size::parse("512k").is_ok() && Size::parse("100").is_ok());
    assert!(Size::parse("1m;").is_err() && Size::parse("m").is_err() && Size::parse("1 m").is_err());
    assert!(HttpMethod::parse("GET").is_ok() && HttpMethod::parse("get").is_err());
    assert!(MediaType::parse("application/json").is_ok() && MediaType::parse("application/vnd.api+json").is_ok());
    assert!(MediaType::parse("text/plain|x").is_err() && MediaType::parse("json").is_err());
    assert!(WafArg::parse("json.prompt").is_ok() && WafArg::parse("a;b").is_err());
}

#[test]
fn custom_waf_rules_stay_one_directive() {
    assert!(WafRule::parse("SecRule REQUEST_URI \"@contains /x\" \"id:20001,phase:1,deny,status:403\"").is_ok());
    assert!(WafRule::parse("SecRule ARGS \"@rx a\" \"id:20001,deny\"\nSecRuleEngine Off").is_err());
    assert!(WafRule::parse("SecRule ARGS x \"id:20001\" \\").is_err());
    assert!(WafRule::parse("SecRuleEngine Off").is_err());
    assert!(WafRule::parse("SecAction \"id:20002,\u{202e}\"").is_err());
}

#[test]
fn show_escapes_terminal_controls() {
    assert_eq!(show("a\u{1b}[2Kb\n"), "a\\u{1b}[2Kb\\n");
    assert_eq!(show("x\u{202e}y"), "x\\u{202e}y");
    assert_eq!(show("plain"), "plain");
}
