//! Integration tests: render (gateway half): nginx + ModSecurity/CRS, proven on real
//! nginx 1.22 with the ModSecurity module and CRS, curl, modsec-rules-check and sslyze.

mod files;
mod invariant;
mod prop;
mod live;
pub mod support;
mod validate;
