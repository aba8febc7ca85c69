//! Secrets named in the policy (`SecretRef`) for Keycloak: the one implementation lives in
//! [`crate::policy::secret`] (env or file, file-mode check, never argv, never in a message).

pub use crate::policy::secret::resolve;
