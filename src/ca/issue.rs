//! `secctl certs issue` / `renew` / `init`: create the CA if needed, then
//! issue every certificate whose state calls for it, saying why.

use std::path::Path;

use anyhow::{bail, Context, Result};
use rcgen::KeyPair;
use serde::Serialize;
use time::OffsetDateTime;

use super::authority::{self, Authority};
use super::certinfo::{self, CertInfo};
use super::index::{fmt_time, CaState, Level};
use super::settings::{Constraints, Settings};
use super::status::{self, Status};
use super::store::{self, Store};
use super::{keys, passphrase, Purpose};

/// What to (re-)issue beyond what the states require.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Re-issue everything, including damaged files.
    pub force: bool,
    /// Re-issue these services' certs even when they are fine (`renew`).
    pub renew: Vec<String>,
    /// Re-issue every cert even when fine (`renew --all`).
    pub renew_all: bool,
}

/// What happened to one certificate.
#[derive(Clone, Debug, Serialize)]
pub struct CertResult {
    /// Service.
    pub service: String,
    /// Server or client.
    pub purpose: Purpose,
    /// `issued` or `kept`.
    pub action: &'static str,
    /// Why (for issued) or the state (for kept).
    pub reason: String,
    /// Serial of the cert now on disk.
    pub serial: String,
    /// Its notAfter.
    pub not_after: String,
    /// Days until then.
    pub days_left: i64,
}

/// The result of a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Whether the CA was created by this run.
    pub ca_created: bool,
    /// One entry per certificate the policy asks for.
    pub certs: Vec<CertResult>,
    /// CRLs re-signed, with why.
    pub crls: Vec<String>,
    /// What crash recovery did.
    pub recovered: Vec<String>,
}

/// Loads the root key, asking for the passphrase only when the file is encrypted.
pub fn root_key_loader(s: &Settings) -> impl FnMut(&Path) -> Result<KeyPair> + '_ {
    move |path: &Path| {
        keys::load(path, || match &s.root_passphrase {
            Some(src) => passphrase::read(src, &s.base_dir, false),
            None => bail!("{} is encrypted but the policy has no `ca.root_passphrase` to read the passphrase from: add it (env or file)", path.display()),
        })
    }
}

/// What a run needs that can refuse it, gathered before the first write: the root passphrase
/// (read only when the CA must be created) and a root validity that fits in a certificate.
pub struct Prepared {
    /// The passphrase for a new root key (`None`: no CA to create, or the root key stays unencrypted).
    pub root_pass: Option<store::Pass>,
}

/// Checks everything a run can refuse on before it touches the PKI directory, so a refused run
/// writes nothing (no directory, no lock, no key).
pub fn prepare(s: &Settings, now: OffsetDateTime) -> Result<Prepared> {
    authority::window(now, s.root_days, None, "root")?;
    let pki = &s.pki_dir;
    let norm = |p: &Path| p.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect::<std::path::PathBuf>();
    if norm(pki).as_os_str().is_empty() || norm(pki) == norm(&s.base_dir) {
        bail!(
            "the PKI directory resolves to the policy's own directory ({}): set `ca.pki_dir` to a directory of its own, such as `pki` (or pass --pki-dir)",
            if pki.as_os_str().is_empty() { Path::new(".") } else { pki }.display()
        );
    }
    if pki.exists() && !pki.is_dir() {
        bail!("the PKI path {} exists and is not a directory: move it away or set `ca.pki_dir` (or --pki-dir)", pki.display());
    }
    let needs_ca = !super::layout::Layout::new(pki).ca_dir().exists();
    let root_pass = match &s.root_passphrase {
        Some(src) if needs_ca => Some(passphrase::read(src, &s.base_dir, true)?),
        _ => None,
    };
    Ok(Prepared { root_pass })
}

/// Creates the CA when the directory has none. Returns whether it did. `prep` comes from
/// [`prepare`], called before the store was opened.
pub fn ensure_ca(store: &mut Store, s: &Settings, prep: &Prepared, now: OffsetDateTime) -> Result<bool> {
    if store.has_ca() {
        return Ok(false);
    }
    if !store.index.certs.is_empty() || !store.index.cas.is_empty() {
        bail!(
            "the CA directory {} is missing but {} records issued certificates: restore `ca/` from your backup \
             (creating a new CA would silently invalidate every issued certificate). Only if it is lost for good, move {} away and run the command again",
            store.layout.ca_dir().display(),
            store.layout.index().display(),
            store.layout.root.display()
        );
    }
    // Another run may have removed the CA between `prepare` and the lock: read the passphrase now.
    let late;
    let pass = match (&prep.root_pass, &s.root_passphrase) {
        (Some(p), _) => Some(p),
        (None, Some(src)) => {
            late = passphrase::read(src, &s.base_dir, true)?;
            Some(&late)
        }
        (None, None) => None,
    };
    store.init_ca(s, pass.map(|p| p.as_slice()), now)?;
    Ok(true)
}

/// Refuses names that the issuing intermediate's own constraints do not permit (the policy may have
/// changed since the intermediate was made); such a cert would fail validation everywhere.
fn check_intermediate_constraints(s: &Settings, int: &CertInfo, int_path: &Path) -> Result<()> {
    if int.nc_dns.is_empty() && int.nc_ips.is_empty() {
        return Ok(());
    }
    let c = Constraints {
        dns: int.nc_dns.clone(),
        ips: int.nc_ips.iter().filter_map(|x| super::settings::Cidr::parse(x).ok()).collect(),
    };
    let mut bad = Vec::new();
    for l in &s.leaves {
        bad.extend(l.dns.iter().filter(|d| !c.permits_dns(d)).map(|d| format!("{}: {d}", l.service)));
        bad.extend(l.ips.iter().filter(|i| !c.permits_ip(**i)).map(|i| format!("{}: {i}", l.service)));
    }
    if !bad.is_empty() {
        bail!(
            "the issuing CA {} is constrained to {} and cannot sign {}: run `secctl certs rotate-ca --intermediate` to make an intermediate with the policy's constraints",
            int_path.display(),
            int.nc_dns.iter().chain(&int.nc_ips).cloned().collect::<Vec<_>>().join(", "),
            bad.join(", ")
        );
    }
    Ok(())
}

/// The trusted intermediates (active, staged, retiring), parsed.
pub fn trusted_intermediates(store: &Store) -> Result<Vec<CertInfo>> {
    let mut out = Vec::new();
    for rec in store.index.cas.iter().filter(|c| c.level == Level::Intermediate && matches!(c.state, CaState::Active | CaState::Staged | CaState::Retiring)) {
        let p = store.ca_path(rec).join("intermediate.crt");
        out.push(certinfo::read_cert(&p)?);
    }
    Ok(out)
}

/// Issues what the policy needs. `progress` is ticked once per certificate.
pub fn run(s: &Settings, opts: &Options, progress: &indicatif::ProgressBar) -> Result<Report> {
    let now = OffsetDateTime::now_utc();
    let prep = prepare(s, now)?;
    let mut store = Store::open(&s.pki_dir, true)?;
    let mut report = Report { recovered: std::mem::take(&mut store.notes), ..Default::default() };
    report.ca_created = ensure_ca(&mut store, s, &prep, now)?;
    let auth = authority::load(&store.layout.ca_dir(), now)?;
    check_intermediate_constraints(s, &auth.int, &store.layout.int_crt())?;
    let trusted = trusted_intermediates(&store)?;
    for r in &opts.renew {
        if !s.leaves.iter().any(|l| &l.service == r) {
            bail!("`{r}` is not a service with mTLS certificates in {}", s.policy_file);
        }
    }

    // Decide everything first, so that damaged files stop the run before anything is written.
    let mut todo = Vec::new();
    let mut damaged = Vec::new();
    for spec in &s.leaves {
        let a = status::assess(&store.layout, &store.index, s, spec, &auth.int, &trusted, now);
        let reason = match &a.status {
            Status::Ok if opts.force => Some("forced (--force)".to_string()),
            Status::Ok if opts.renew_all || opts.renew.contains(&spec.service) => Some("renewal requested".to_string()),
            Status::Ok => None,
            Status::Damaged { detail } if !opts.force => {
                damaged.push(format!("{}/{}: {detail}", spec.service, spec.purpose));
                None
            }
            Status::Damaged { detail } => Some(format!("replacing damaged files (--force): {detail}")),
            other => Some(other.to_string()),
        };
        todo.push((spec, a, reason));
    }
    if !damaged.is_empty() {
        bail!("nothing was written because some files cannot be trusted:\n  {}", damaged.join("\n  "));
    }

    let int_serial = auth.int.serial.clone();
    progress.set_length(todo.len() as u64);
    for (spec, a, reason) in todo {
        progress.inc(1);
        let (cert, action, why) = match reason {
            None => match a.cert {
                Some(cert) => (cert, "kept", "ok".to_string()),
                // `assess` reads the cert for every Ok state; reaching this is a secctl bug, not bad input.
                None => bail!("{}/{}: assessed as valid but its certificate was not read (a secctl bug; run with --force)", spec.service, spec.purpose),
            },
            Some(why) => (issue_one(&store, s, &auth, spec, now)?, "issued", why),
        };
        if action == "issued" {
            store.index.record_leaf(store::leaf_record(&spec.service, spec.purpose, &cert, int_serial.clone(), &why));
        }
        report.certs.push(CertResult {
            service: spec.service.clone(),
            purpose: spec.purpose,
            action,
            reason: why,
            serial: cert.serial.clone(),
            not_after: fmt_time(cert.not_after),
            days_left: certinfo::days_left(cert.not_after, now),
        });
    }
    progress.finish_and_clear();
    store.sync()?;
    store.save()?;
    let mut root_key = root_key_loader(s);
    report.crls = store.refresh_crls(now, &mut root_key)?;
    store.write_derived()?;
    store.keep();
    Ok(report)
}

/// Makes one leaf and installs it.
fn issue_one(store: &Store, s: &Settings, auth: &Authority, spec: &super::settings::LeafSpec, now: OffsetDateTime) -> Result<CertInfo> {
    let key = keys::generate(s.algorithm)?;
    let params = authority::leaf_params(s, spec, now, auth.int.not_after)?;
    let cert = params.signed_by(&key, &auth.issuer).with_context(|| format!("cannot sign the {} certificate of {}", spec.purpose, spec.service))?;
    let pem = cert.pem();
    let mut full = pem.clone();
    full.push_str(&auth.int_pem);
    store.put_leaf(&spec.service, spec.purpose, &keys::to_pem(&key), &pem, &full)?;
    certinfo::info(cert.der())
}
