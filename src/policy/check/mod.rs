//! Semantic validation of a parsed policy: `secctl check`.
//!
//! The loader has already proved the file is structurally a policy. These
//! checks judge meaning (references between sections, production rules,
//! addresses, limits) and collect every finding, each with a stable code from
//! [`crate::diag::codes`], a severity and the span of the value it blames.
//! One file per concern:
//! - [`refs`]: names that must exist (services, roles, tenants) and unique names;
//! - [`edge`]: CORS, HSTS, routes and rate limits;
//! - [`network`]: listen conflicts, addresses and the CA's name constraints;
//! - [`identity`]: secrets, fixtures, redirect URIs;
//! - [`data`]: Redis users and queues, WAF rules, audit sinks;
//! - [`redis`]: Redis patterns, command rules and error-queue privacy;
//! - [`values`]: every value that reaches an output parses as its type in [`crate::policy::types`].

use crate::diag::Diagnostic;

use super::model::Policy;
use super::node::Node;
use super::span::Span;
use super::{LoadedPolicy, Rejected, ValidPolicy};

mod addr;
mod data;
mod edge;
mod identity;
mod network;
mod redis;
mod refs;
mod values;
pub mod rate;

/// Runs every semantic check and returns all findings, errors and warnings, in file order.
pub fn check(loaded: &LoadedPolicy) -> Vec<Diagnostic> {
    run(&loaded.source.name, &loaded.policy, Some(&loaded.source.text))
}

/// Judges a loaded policy: the only way to obtain a [`ValidPolicy`]. Refused when any finding
/// is an error; the warnings travel with the valid policy.
pub fn validate(loaded: LoadedPolicy) -> Result<ValidPolicy, Rejected> {
    let findings = check(&loaded);
    ValidPolicy::new(loaded, findings)
}

/// Runs every check on a policy that did not come from a file (positions are unknown).
pub fn check_policy(file: &str, policy: &Policy) -> Vec<Diagnostic> {
    run(file, policy, None)
}

fn run(file: &str, policy: &Policy, text: Option<&str>) -> Vec<Diagnostic> {
    let mut cx = Cx { file, policy, text, tree: std::cell::OnceCell::new(), out: Vec::new() };
    refs::check(&mut cx);
    edge::check(&mut cx);
    network::check(&mut cx);
    identity::check(&mut cx);
    data::check(&mut cx);
    redis::check(&mut cx);
    values::check(&mut cx);
    let mut out = cx.out;
    out.sort_by(|a, b| (a.line, a.column, &a.code).cmp(&(b.line, b.column, &b.code)));
    out.dedup();
    out
}

/// What every check gets: the policy and the findings collected so far.
pub(crate) struct Cx<'a> {
    file: &'a str,
    policy: &'a Policy,
    text: Option<&'a str>,
    /// Map keys (service names, Redis users) have no spans in the model; the YAML tree has
    /// them. Parsed only when a finding needs one, so a clean policy is parsed once.
    tree: std::cell::OnceCell<Option<Node>>,
    out: Vec<Diagnostic>,
}

impl Cx<'_> {
    /// Records an error and returns it for `.with_hint()`-style chaining.
    fn error(&mut self, code: &str, span: Span, path: impl Into<String>, msg: impl Into<String>) -> &mut Diagnostic {
        self.out.push(Diagnostic::error(code, self.file, span, path, msg));
        self.out.last_mut().expect("just pushed")
    }

    /// Records a warning.
    fn warning(&mut self, code: &str, span: Span, path: impl Into<String>, msg: impl Into<String>) -> &mut Diagnostic {
        self.out.push(Diagnostic::warning(code, self.file, span, path, msg));
        self.out.last_mut().expect("just pushed")
    }

    /// The span of the key at `path` (e.g. `["services", "api"]`), from the YAML tree.
    fn key_span(&self, path: &[&str]) -> Span {
        self.span_at(&path.join("."))
    }

    /// The span of the value named by a YAML path such as `identity.clients[1].secret`:
    /// the key for a mapping entry, the item for a list index; unknown when absent.
    fn span_at(&self, path: &str) -> Span {
        let tree = self.tree.get_or_init(|| self.text.and_then(|t| super::node::parse(t).ok()));
        let Some(mut node) = tree.as_ref() else { return Span::UNKNOWN };
        let mut span = Span::UNKNOWN;
        for part in path.split('.') {
            let (key, indexes) = part.split_once('[').map(|(k, rest)| (k, Some(rest))).unwrap_or((part, None));
            if !key.is_empty() {
                let Some((k, v)) = node.as_map().and_then(|m| m.iter().find(|(k, _)| k.value.key_text() == key)) else { return span };
                span = k.span;
                node = v;
            }
            for ix in indexes.into_iter().flat_map(|r| r.split('[')) {
                let Ok(i) = ix.trim_end_matches(']').parse::<usize>() else { return span };
                let super::node::Value::Seq(items) = &node.value else { return span };
                let Some(item) = items.get(i) else { return span };
                span = item.span;
                node = item;
            }
        }
        span
    }

    fn is_production(&self) -> bool {
        self.policy.project.environment.value == super::model::Environment::Production
    }

    fn has_service(&self, name: &str) -> bool {
        self.policy.services.contains_key(name)
    }

    fn has_flow(&self, from: &str, to: &str) -> bool {
        self.policy.flows.iter().any(|f| f.from.value == from && f.to.value == to)
    }

    /// The gateway's service name: `edge.gateway`, else the only gateway-kind service.
    fn gateway(&self) -> Option<&str> {
        if let Some(e) = &self.policy.edge {
            return Some(e.gateway.value.as_str());
        }
        let mut gws = self.policy.services.iter().filter(|(_, s)| s.kind.value == super::model::ServiceKind::Gateway);
        match (gws.next(), gws.next()) {
            (Some((name, _)), None) => Some(name.as_str()),
            _ => None,
        }
    }
}

/// Chaining helpers on a recorded diagnostic.
trait Finish {
    fn hint(&mut self, h: impl Into<String>) -> &mut Self;
    fn label(&mut self, l: impl Into<String>) -> &mut Self;
}

impl Finish for Diagnostic {
    fn hint(&mut self, h: impl Into<String>) -> &mut Self {
        self.hint = Some(h.into());
        self
    }
    fn label(&mut self, l: impl Into<String>) -> &mut Self {
        self.label = Some(l.into());
        self
    }
}

/// "did you mean `x`?" over a set of names, or a list of what `section` has.
fn suggest<'a>(word: &str, names: impl IntoIterator<Item = &'a str> + Clone, what: &str) -> String {
    match super::suggest::closest(word, names.clone()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => {
            let all: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
            if all.is_empty() { format!("{what} is empty; define it there first") } else { format!("{what} has: {}", all.join(", ")) }
        }
    }
}
