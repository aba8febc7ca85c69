//! The security policy: one YAML file that describes how the stack is secured.
//!
//! Loading happens in two phases, as in cargo-deny: [`load`] parses the file
//! into the spanned [`model::Policy`] (structural errors, exit 2), then
//! [`check`] validates meaning and collects every finding with its position
//! (exit 1 on errors). Consumers read defaults through [`defaults`].

pub mod check;
pub mod defaults;
pub mod init;
pub mod load;
pub mod model;
pub mod node;
pub mod schema;
pub mod secret;
pub mod suggest;
pub mod types;
pub mod span;
pub mod valid;
pub mod validate;

pub use load::{load, LoadError, LoadedPolicy, Source};
pub use model::Policy;
pub use span::{Span, Spanned};
pub use valid::{Rejected, ValidPolicy};
