//! Integration tests: `secctl verify` against the real gateway stack of `render_gw`
//! (nginx + ModSecurity/CRS + mTLS upstream stubs), clean and mutated while it runs.

mod keycloak;
mod live;
mod mutations;
mod redis;
mod reports;
pub mod support;
