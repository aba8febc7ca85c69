//! The private service CA: root, name-constrained intermediate, leaves, CRL and inventory.
//!
//! One file per concept: [`settings`] (policy → what to issue), [`layout`]
//! (the on-disk contract), [`keys`], [`authority`] (certificate profiles),
//! [`store`] (locking, crash recovery, derived files), [`index`] (inventory),
//! [`status`] (what each cert needs), [`issue`], [`crl`], [`verify`],
//! [`inspect`] and [`rotate`]. See docs/ca.md for the user-facing view.

use serde::{Deserialize, Serialize};

pub mod authority;
pub mod certinfo;
pub mod crl;
pub mod index;
pub mod inspect;
pub mod inventory;
pub mod issue;
pub mod keys;
pub mod layout;
pub mod passphrase;
pub mod rotate;
mod rsa;
pub mod settings;
pub mod status;
pub mod store;
pub mod verify;

/// Which side of mTLS a leaf certificate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// serverAuth: DNS/IP SANs.
    Server,
    /// clientAuth: SPIFFE URI SAN.
    Client,
}

impl Purpose {
    /// `server` or `client` (also the file stem).
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Server => "server",
            Purpose::Client => "client",
        }
    }
    /// The EKU name.
    pub fn eku(self) -> &'static str {
        match self {
            Purpose::Server => "serverAuth",
            Purpose::Client => "clientAuth",
        }
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
