//! Controls that reuse other secctl commands: `certs verify` (plus CRL freshness) and
//! `keycloak plan` (any pending change is drift).

use super::env::Env;
use super::probe::{Cx, Outcome, Probe};
use crate::keycloak::read::Reader as _;

/// The PKI and Keycloak probes.
pub fn probes(env: &Env) -> Vec<Probe> {
    let mut v = Vec::new();
    if let Some(ca) = env.policy.ca.as_ref() {
        let at = env.at(ca.trust_domain.span, "ca");
        v.push(Probe::new("certs.chain", None, at.clone(), chain));
        let crl_at = ca.renew_before_days.as_ref().map(|r| env.at(r.span, "ca.renew_before_days")).unwrap_or(at);
        v.push(Probe::new("certs.crl", None, crl_at, crl));
    }
    if let Some(id) = env.policy.identity.as_ref() {
        v.push(Probe::new("keycloak.drift", None, env.at(id.realm.span, "identity.realm"), drift));
    }
    v
}

fn chain(cx: &mut Cx<'_>) -> Outcome {
    let env = cx.env;
    let settings = crate::ca::settings::from_policy(&env.valid, Some(&env.pki_dir)).ok_or("the policy has no `ca` section")?;
    let report = crate::ca::verify::run(&settings).map_err(|e| format!("`certs verify` could not run: {e:#}"))?;
    for f in &report.findings {
        cx.fail(format!("secctl certs verify --pki-dir {}", env.pki_dir.display()), format!("{}: {}", f.file.display(), f.problem), f.hint.clone());
    }
    Ok(format!("{} files parsed, {} chains validated", report.files_checked, report.chains_validated))
}

fn crl(cx: &mut Cx<'_>) -> Outcome {
    let env = cx.env;
    let path = env.pki_dir.join("ca/crl.pem");
    let text = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let now = time::OffsetDateTime::now_utc();
    let mut n = 0;
    use rustls::pki_types::pem::PemObject;
    for der in rustls::pki_types::CertificateRevocationListDer::pem_slice_iter(&text) {
        let der = der.map_err(|e| format!("damaged PEM in {}: {e}", path.display()))?;
        n += 1;
        let sent = format!("read CRL #{n} in {}", path.display());
        match crate::ca::crl::parse_der(der.as_ref()) {
            Ok(info) => {
                let next = info.next_update.map(|t| t.to_string()).unwrap_or_else(|| "none".into());
                cx.expect(info.this_update <= now, || sent.clone(), || format!("thisUpdate {} is in the future", info.this_update), "a CRL already in force");
                cx.expect(
                    !crate::ca::crl::due(&info, now, 1.0 / 3.0),
                    || sent.clone(),
                    || format!("issuer {}, thisUpdate {}, nextUpdate {next}", info.issuer, info.this_update),
                    "nextUpdate in the future with more than a third of the CRL's life left (run `secctl certs issue`)",
                );
            }
            Err(e) => cx.fail(sent, format!("{e:#}"), "a parsable CRL"),
        }
    }
    if n == 0 {
        cx.fail(format!("read {}", path.display()), "no CRL in the file", "one CRL per CA level");
    }
    Ok(format!("{n} CRL(s) fresh"))
}

fn drift(cx: &mut Cx<'_>) -> Outcome {
    let env = cx.env;
    let id = env.policy.identity.as_ref().ok_or("no identity section")?;
    let want = crate::keycloak::desired::build(&env.valid).map_err(|e| format!("{e:#}"))?;
    let admin = crate::keycloak::connect(&env.valid).ok_or("no identity section")?.map_err(|e| format!("cannot log in to Keycloak at {}: {e:#}", id.url.value))?;
    let actual = crate::keycloak::read::LiveReader(&admin).read(&want).map_err(|e| format!("cannot read realm `{}`: {e:#}", id.realm.value))?;
    let plan = crate::keycloak::plan::plan(&want, &actual, false);
    let calls = admin.counts();
    cx.n.add((calls.reads + calls.writes + calls.tokens) as u32);
    for c in &plan.changes {
        let fields: Vec<String> = c.fields.iter().map(|f| serde_json::to_string(f).unwrap_or_default()).take(5).collect();
        cx.fail(format!("secctl keycloak plan (realm {})", plan.realm), format!("pending {:?} {} {}: {}", c.action, c.kind, c.name, fields.join(", ")), "no pending change");
    }
    Ok(format!("realm `{}` matches the policy", plan.realm))
}
