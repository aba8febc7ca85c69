//! `secctl certs list`: one row per certificate the policy asks for, with
//! its state, for people and for scheduled CI jobs (exit 1 on trouble).

use anyhow::Result;
use serde::Serialize;
use time::OffsetDateTime;

use super::index::fmt_time;
use super::issue::trusted_intermediates;
use super::settings::Settings;
use super::status::{self, Status};
use super::store::Store;
use super::{authority, certinfo, Purpose};

/// One row of the inventory.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Service.
    pub service: String,
    /// Server or client.
    pub purpose: Purpose,
    /// Serial, when a cert exists.
    pub serial: Option<String>,
    /// notAfter (RFC 3339), when a cert exists.
    pub not_after: Option<String>,
    /// Whole days left (negative when expired).
    pub days_left: Option<i64>,
    /// ok, missing, expiring, expired, revoked, policy-mismatch, issuer-changed, damaged.
    pub status: &'static str,
    /// Details for the non-ok states.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Row {
    /// Whether this row should make `list` exit 1.
    pub fn is_problem(&self) -> bool {
        self.status != "ok"
    }
}

/// Builds the inventory rows.
pub fn rows(s: &Settings) -> Result<Vec<Row>> {
    let now = OffsetDateTime::now_utc();
    let store = Store::open(&s.pki_dir, false)?;
    let auth = authority::load(&store.layout.ca_dir(), now)?;
    let trusted = trusted_intermediates(&store)?;
    let mut out = Vec::new();
    for spec in &s.leaves {
        let a = status::assess(&store.layout, &store.index, s, spec, &auth.int, &trusted, now);
        let detail = match &a.status {
            Status::PolicyMismatch { detail } | Status::Damaged { detail } => Some(detail.clone()),
            _ => None,
        };
        out.push(Row {
            service: spec.service.clone(),
            purpose: spec.purpose,
            serial: a.cert.as_ref().map(|c| c.serial.clone()),
            not_after: a.cert.as_ref().map(|c| fmt_time(c.not_after)),
            days_left: a.cert.as_ref().map(|c| certinfo::days_left(c.not_after, now)),
            status: a.status.name(),
            detail,
        });
    }
    Ok(out)
}
