//! `secctl certs inspect|revoke|verify|rotate-ca`.

use std::path::Path;

use anyhow::{bail, Result};
use time::OffsetDateTime;

use crate::ca::index::{fmt_time, Revocation};
use crate::ca::settings::Settings;
use crate::ca::store::Store;
use crate::ca::{self, Purpose};
use crate::exit::{Fail, Outcome};
use crate::report::{Format, Reporter};

/// `secctl certs inspect FILE`.
pub fn inspect(file: &Path, reporter: &Reporter) -> Result<Outcome> {
    let d = ca::inspect::dump(file).map_err(Fail::invalid)?;
    match reporter.format {
        Format::Json => reporter.json(&d),
        Format::Human => reporter.raw(ca::inspect::render(&d)),
    }
    Ok(Outcome::Ok)
}

/// `secctl certs revoke SERVICE --reason R`.
pub fn revoke(s: &Settings, service: &str, reason: &str, purpose: Option<&str>, reporter: &Reporter) -> Result<Outcome> {
    let run = || -> Result<Vec<String>> {
        ca::crl::reason(reason)?;
        let now = OffsetDateTime::now_utc();
        let mut store = Store::open(&s.pki_dir, false)?;
        let want = |p: Purpose| purpose.is_none_or(|x| x == p.as_str());
        let mut revoked = Vec::new();
        for c in store.index.certs.iter_mut().filter(|c| c.current && c.service == service && want(c.purpose) && c.revoked.is_none()) {
            c.revoked = Some(Revocation { at: fmt_time(now), reason: reason.to_string() });
            revoked.push(format!("{}/{} serial {}", c.service, c.purpose, c.serial));
        }
        if revoked.is_empty() {
            bail!("`{service}` has no current, unrevoked certificate in {} (see `secctl certs list`)", store.layout.index().display());
        }
        store.save()?;
        let mut root_key = ca::issue::root_key_loader(s);
        store.refresh_crls(now, &mut root_key)?;
        store.write_derived()?;
        Ok(revoked)
    };
    let revoked = run().map_err(Fail::invalid)?;
    for r in &revoked {
        reporter.line(format!("revoked {r} ({reason})"));
    }
    reporter.status(format!(
        "published {}; reload nginx/Redis so they read it, and run `secctl certs issue` to give {service} new certificates",
        s.pki_dir.join("ca/crl.pem").display()
    ));
    Ok(Outcome::Ok)
}

/// `secctl certs verify`.
pub fn verify(s: &Settings, reporter: &Reporter) -> Result<Outcome> {
    let r = ca::verify::run(s).map_err(Fail::invalid)?;
    if reporter.format == Format::Json {
        reporter.json(&r);
    } else {
        for f in &r.findings {
            reporter.line(format!("{}: {}\n  help: {}", f.file.display(), f.problem, f.hint));
        }
        reporter.status(format!("{} file(s) parsed, {} chain(s) validated, {} problem(s)", r.files_checked, r.chains_validated, r.findings.len()));
    }
    Ok(if r.findings.is_empty() { Outcome::Ok } else { Outcome::Findings })
}

/// `secctl certs rotate-ca`.
pub fn rotate(s: &Settings, step: &str, root: bool, reporter: &Reporter) -> Result<Outcome> {
    let msgs = ca::rotate::run(s, step, root).map_err(Fail::invalid)?;
    for m in msgs {
        reporter.line(m);
    }
    Ok(Outcome::Ok)
}
