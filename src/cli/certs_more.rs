//! `secctl certs inspect|revoke|verify|rotate-ca`.

use std::path::Path;

use anyhow::{anyhow, Result};

use crate::ca::settings::Settings;
use crate::exit::{Fail, Outcome};
use crate::report::Reporter;

/// `secctl certs inspect FILE`.
pub fn inspect(_file: &Path, _reporter: &Reporter) -> Result<Outcome> {
    Err(Fail::unevaluated(anyhow!("`secctl certs inspect` is not implemented yet")))
}

/// `secctl certs revoke`.
pub fn revoke(_s: &Settings, _service: &str, _reason: &str, _purpose: Option<&str>, _reporter: &Reporter) -> Result<Outcome> {
    Err(Fail::unevaluated(anyhow!("`secctl certs revoke` is not implemented yet")))
}

/// `secctl certs verify`.
pub fn verify(_s: &Settings, _reporter: &Reporter) -> Result<Outcome> {
    Err(Fail::unevaluated(anyhow!("`secctl certs verify` is not implemented yet")))
}

/// `secctl certs rotate-ca`.
pub fn rotate(_s: &Settings, _step: &str, _root: bool, _reporter: &Reporter) -> Result<Outcome> {
    Err(Fail::unevaluated(anyhow!("`secctl certs rotate-ca` is not implemented yet")))
}
