//! Where every file lives in the PKI directory. This layout is a contract:
//! rendered nginx/Redis/uvicorn/Keycloak configs point at these paths.
//!
//! ```text
//! <pki>/index.json
//! <pki>/ca/root.crt  root.key  intermediate.crt  intermediate.key
//! <pki>/ca/bundle.crt   every trusted root (old + new during a rotation)
//! <pki>/ca/chain.crt    intermediate(s) + root(s)
//! <pki>/ca/crl.pem      a CRL for every CA level
//! <pki>/services/<svc>/{server,client}.{crt,key}, {server,client}-fullchain.crt
//! ```

use std::path::{Path, PathBuf};

use super::Purpose;

/// Paths inside one PKI directory.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The PKI directory itself.
    pub root: PathBuf,
}

impl Layout {
    /// The layout rooted at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Layout { root: dir.into() }
    }
    /// The inventory.
    pub fn index(&self) -> PathBuf {
        self.root.join("index.json")
    }
    /// Lock file serializing writers.
    pub fn lock(&self) -> PathBuf {
        self.root.join(".lock")
    }
    /// The CA directory.
    pub fn ca_dir(&self) -> PathBuf {
        self.root.join("ca")
    }
    /// Active root certificate.
    pub fn root_crt(&self) -> PathBuf {
        self.ca_dir().join("root.crt")
    }
    /// Active root key.
    pub fn root_key(&self) -> PathBuf {
        self.ca_dir().join("root.key")
    }
    /// Active (issuing) intermediate certificate.
    pub fn int_crt(&self) -> PathBuf {
        self.ca_dir().join("intermediate.crt")
    }
    /// Active intermediate key.
    pub fn int_key(&self) -> PathBuf {
        self.ca_dir().join("intermediate.key")
    }
    /// Trust bundle.
    pub fn bundle(&self) -> PathBuf {
        self.ca_dir().join("bundle.crt")
    }
    /// Intermediates + roots.
    pub fn chain(&self) -> PathBuf {
        self.ca_dir().join("chain.crt")
    }
    /// CRLs of every level.
    pub fn crl(&self) -> PathBuf {
        self.ca_dir().join("crl.pem")
    }
    /// A staged CA generation (rotation in progress), or a retired one.
    pub fn generation_dir(&self, kind: &str) -> PathBuf {
        self.ca_dir().join(kind)
    }
    /// A service's directory.
    pub fn service_dir(&self, service: &str) -> PathBuf {
        self.root.join("services").join(service)
    }
    /// A leaf certificate.
    pub fn leaf_crt(&self, service: &str, p: Purpose) -> PathBuf {
        self.service_dir(service).join(format!("{}.crt", p.as_str()))
    }
    /// A leaf key.
    pub fn leaf_key(&self, service: &str, p: Purpose) -> PathBuf {
        self.service_dir(service).join(format!("{}.key", p.as_str()))
    }
    /// A leaf + intermediate chain.
    pub fn leaf_fullchain(&self, service: &str, p: Purpose) -> PathBuf {
        self.service_dir(service).join(format!("{}-fullchain.crt", p.as_str()))
    }
    /// The staging name of a file being replaced (see [`super::store`]).
    pub fn staged(path: &Path) -> PathBuf {
        let mut s = path.as_os_str().to_owned();
        s.push(".new");
        PathBuf::from(s)
    }
    /// `path` relative to the PKI directory, for messages.
    pub fn rel<'a>(&self, path: &'a Path) -> std::borrow::Cow<'a, str> {
        path.strip_prefix(&self.root).unwrap_or(path).to_string_lossy()
    }
}
