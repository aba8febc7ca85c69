//! ModSecurity + OWASP CRS 3.3 files: engine config, CRS setup from the policy,
//! per-route runtime exclusions, custom rules and global exclusions.

use anyhow::Result;
use serde::Serialize;

use crate::policy::model::{Policy, WafExclusion, WafMode};

use super::{engine_once, Context, RenderedFile};

/// First id of the rules secctl generates for route exclusions (10000-19999).
pub const EXCLUSION_ID_BASE: u32 = 10_000;
/// The id range reserved for the policy's custom rules.
pub const CUSTOM_IDS: std::ops::RangeInclusive<u32> = 20_000..=29_999;
/// Where Debian's modsecurity-crs package installs the rules.
pub const CRS_RULES_DIR: &str = "/usr/share/modsecurity-crs/rules";
/// CRS 3.3 rule files, in load order. Listed explicitly so a stray file in the rules
/// directory is never loaded and the include list is reviewable.
pub const CRS_FILES: &[&str] = &[
    "REQUEST-901-INITIALIZATION.conf",
    "REQUEST-903.9001-DRUPAL-EXCLUSION-RULES.conf",
    "REQUEST-903.9002-WORDPRESS-EXCLUSION-RULES.conf",
    "REQUEST-903.9003-NEXTCLOUD-EXCLUSION-RULES.conf",
    "REQUEST-903.9004-DOKUWIKI-EXCLUSION-RULES.conf",
    "REQUEST-903.9005-CPANEL-EXCLUSION-RULES.conf",
    "REQUEST-903.9006-XENFORO-EXCLUSION-RULES.conf",
    "REQUEST-905-COMMON-EXCEPTIONS.conf",
    "REQUEST-910-IP-REPUTATION.conf",
    "REQUEST-911-METHOD-ENFORCEMENT.conf",
    "REQUEST-912-DOS-PROTECTION.conf",
    "REQUEST-913-SCANNER-DETECTION.conf",
    "REQUEST-920-PROTOCOL-ENFORCEMENT.conf",
    "REQUEST-921-PROTOCOL-ATTACK.conf",
    "REQUEST-922-MULTIPART-ATTACK.conf",
    "REQUEST-930-APPLICATION-ATTACK-LFI.conf",
    "REQUEST-931-APPLICATION-ATTACK-RFI.conf",
    "REQUEST-932-APPLICATION-ATTACK-RCE.conf",
    "REQUEST-933-APPLICATION-ATTACK-PHP.conf",
    "REQUEST-934-APPLICATION-ATTACK-NODEJS.conf",
    "REQUEST-941-APPLICATION-ATTACK-XSS.conf",
    "REQUEST-942-APPLICATION-ATTACK-SQLI.conf",
    "REQUEST-943-APPLICATION-ATTACK-SESSION-FIXATION.conf",
    "REQUEST-944-APPLICATION-ATTACK-JAVA.conf",
    "REQUEST-949-BLOCKING-EVALUATION.conf",
    "RESPONSE-950-DATA-LEAKAGES.conf",
    "RESPONSE-951-DATA-LEAKAGES-SQL.conf",
    "RESPONSE-952-DATA-LEAKAGES-JAVA.conf",
    "RESPONSE-953-DATA-LEAKAGES-PHP.conf",
    "RESPONSE-954-DATA-LEAKAGES-IIS.conf",
    "RESPONSE-959-BLOCKING-EVALUATION.conf",
    "RESPONSE-980-CORRELATION.conf",
];

static ENGINE: std::sync::OnceLock<tera::Tera> = std::sync::OnceLock::new();

const TEMPLATES: &[(&str, &str)] = &[
    ("modsecurity/main.conf", include_str!("../../templates/modsecurity/main.conf.tera")),
    ("modsecurity/modsecurity.conf", include_str!("../../templates/modsecurity/modsecurity.conf.tera")),
    ("modsecurity/crs-setup.conf", include_str!("../../templates/modsecurity/crs-setup.conf.tera")),
    ("modsecurity/before-crs.conf", include_str!("../../templates/modsecurity/before-crs.conf.tera")),
    ("modsecurity/after-crs.conf", include_str!("../../templates/modsecurity/after-crs.conf.tera")),
];

#[derive(Serialize)]
struct ModsecPlan {
    dir: String,
    state_dir: String,
    crs_rules_dir: &'static str,
    crs_files: &'static [&'static str],
    engine: &'static str,
    paranoia: u8,
    inbound: u32,
    outbound: u32,
    methods: String,
    content_types: String,
    audit_log: String,
    route_exclusions: Vec<RouteExclusion>,
    custom_rules: Vec<Custom>,
    global_exclusions: Vec<GlobalExclusion>,
}

#[derive(Serialize)]
struct RouteExclusion {
    id: u32,
    comment: String,
    operator: &'static str,
    path: String,
    ctls: Vec<String>,
}

#[derive(Serialize)]
struct GlobalExclusion {
    comment: String,
    lines: Vec<String>,
}

#[derive(Serialize)]
struct Custom {
    id: u32,
    description: Option<String>,
    rule: String,
}

/// Renders the ModSecurity files; nothing when the policy has no `waf`.
pub fn render(ctx: &Context) -> Result<Vec<RenderedFile>> {
    let policy = &ctx.loaded.policy;
    let Some(plan) = plan(policy, &ctx.loaded.source.name)? else { return Ok(Vec::new()) };
    let tera = engine_once(&ENGINE, TEMPLATES)?;
    let mut tctx = tera::Context::new();
    tctx.insert("header", &ctx.header("#"));
    tctx.insert("m", &plan);
    TEMPLATES
        .iter()
        .map(|(name, _)| {
            Ok(RenderedFile { path: name.to_string(), contents: tera.render(name, &tctx)?, mode: crate::fsutil::PUBLIC })
        })
        .collect()
}

fn plan(policy: &Policy, file: &str) -> Result<Option<ModsecPlan>> {
    let Some(waf) = policy.waf.as_ref() else { return Ok(None) };
    let dp = policy.deploy_paths();
    let (inbound, outbound) = waf.thresholds();
    let methods = waf.allowed_methods_or_default();
    // Methods, media types, the audit log path, exclusion arguments and custom rules are
    // typed values judged by `check` (waf-value-invalid, path-invalid, waf-rule-invalid).
    let types = waf.allowed_content_types_or_default();
    // Each method and media type is one token inside `setvar:'...'`: no quote may end it
    // (`check` judged their grammar; this is the second depth).
    for v in methods.iter().chain(&types) {
        super::escape::modsec(v, "a WAF method or media type")?;
    }
    let audit_log = waf.audit_log().to_string();
    let mut route_exclusions = Vec::new();
    let mut next_id = EXCLUSION_ID_BASE;
    for route in &policy.routes {
        for ex in &route.waf_exclusions {
            let ctls = runtime_ctls(ex, file)?;
            if ctls.is_empty() {
                continue;
            }
            let path = route.path.value.clone();
            route_exclusions.push(RouteExclusion {
                id: next_id,
                comment: one_line(&format!("{path}: {}", ex.reason.as_deref().unwrap_or("route exclusion"))),
                operator: if path.ends_with('/') { "@beginsWith" } else { "@streq" },
                path,
                ctls,
            });
            next_id += 1;
        }
    }
    let mut global_exclusions = Vec::new();
    for ex in &waf.exclusions {
        global_exclusions.push(GlobalExclusion { comment: one_line(ex.reason.as_deref().unwrap_or("global exclusion")), lines: config_lines(ex, file)? });
    }
    let mut custom_rules = Vec::new();
    for r in &waf.custom_rules {
        // Id range, id action and one-line grammar: waf-rule-id-range, waf-rule-id-mismatch, waf-rule-invalid.
        let id = r.id.value;
        let text = r.rule.value.trim();
        // A rule is one directive on one line: a line break (or a trailing `\` continuation)
        // would let the policy add `SecRuleEngine Off` after it. `check` refuses it; second depth.
        if text.chars().any(|c| c.is_control() || super::escape::is_bidi(c) || matches!(c, '\u{2028}' | '\u{2029}')) || text.ends_with('\\') {
            return Err(super::escape::unsafe_value("ModSecurity", &format!("waf.custom_rules[{id}].rule"), text));
        }
        custom_rules.push(Custom { id, description: r.description.as_deref().map(one_line), rule: text.to_string() });
    }
    Ok(Some(ModsecPlan {
        dir: format!("{}/modsecurity", dp.config_dir.trim_end_matches('/')),
        state_dir: dp.state_dir.trim_end_matches('/').to_string(),
        crs_rules_dir: CRS_RULES_DIR,
        crs_files: CRS_FILES,
        engine: match waf.mode.value {
            WafMode::Blocking => "On",
            WafMode::DetectionOnly => "DetectionOnly",
        },
        paranoia: waf.paranoia_level().clamp(1, 4),
        inbound,
        outbound,
        methods: methods.join(" "),
        content_types: types.iter().map(|t| format!("|{t}|")).collect::<Vec<_>>().join(" "),
        audit_log,
        route_exclusions,
        custom_rules,
        global_exclusions,
    }))
}

/// `ctl:` actions for a route exclusion (run time, before CRS).
fn runtime_ctls(ex: &WafExclusion, file: &str) -> Result<Vec<String>> {
    let args = targets(ex, file)?;
    let mut out = Vec::new();
    match (ex.rule_ids.is_empty(), args.is_empty()) {
        (true, true) => {}
        (false, true) => out.extend(ex.rule_ids.iter().map(|id| format!("ctl:ruleRemoveById={}", id.value))),
        (true, false) => out.extend(args.iter().map(|a| format!("ctl:ruleRemoveTargetByTag=OWASP_CRS;{a}"))),
        (false, false) => {
            for id in &ex.rule_ids {
                for a in &args {
                    out.push(format!("ctl:ruleRemoveTargetById={};{a}", id.value));
                }
            }
        }
    }
    Ok(out)
}

/// Configure-time directives for a global exclusion (after CRS).
fn config_lines(ex: &WafExclusion, file: &str) -> Result<Vec<String>> {
    let args = targets(ex, file)?;
    Ok(match (ex.rule_ids.is_empty(), args.is_empty()) {
        (true, true) => Vec::new(),
        (false, true) => ex.rule_ids.iter().map(|id| format!("SecRuleRemoveById {}", id.value)).collect(),
        (true, false) => args.iter().map(|a| format!("SecRuleUpdateTargetByTag \"OWASP_CRS\" \"!{a}\"")).collect(),
        (false, false) => ex
            .rule_ids
            .iter()
            .flat_map(|id| args.iter().map(move |a| format!("SecRuleUpdateTargetById {} \"!{a}\"", id.value)))
            .collect(),
    })
}

/// `ARGS:<name>` targets; names are restricted so they cannot break out of an action list.
fn targets(ex: &WafExclusion, file: &str) -> Result<Vec<String>> {
    ex.args
        .iter()
        .map(|a| {
            // A `WafArg`, judged by `check`.
            let _ = file;
            Ok(format!("ARGS:{}", a.value))
        })
        .collect()
}

/// Policy text placed in a `#` comment: one line, whatever the input.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
