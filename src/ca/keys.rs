//! Private keys: generation per algorithm, PEM encoding, encrypted PKCS#8 for
//! the root, and loading with errors that name the file and the fix.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use pkcs8::der::Decode;
use rcgen::{KeyPair, SignatureAlgorithm};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::policy::model::KeyAlgorithm;

/// PBKDF2-HMAC-SHA256 iterations for the encrypted root key (OWASP 2023 guidance).
/// PBKDF2 rather than scrypt so that OpenSSL, Java and Python read the file too.
const PBKDF2_ITERATIONS: u32 = 600_000;

/// The rcgen signature algorithm for a policy key algorithm.
pub fn signature_alg(alg: KeyAlgorithm) -> &'static SignatureAlgorithm {
    match alg {
        KeyAlgorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyAlgorithm::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
        KeyAlgorithm::Rsa3072 => &rcgen::PKCS_RSA_SHA256,
    }
}

/// Kebab-case name as in the policy.
pub fn alg_name(alg: KeyAlgorithm) -> &'static str {
    match alg {
        KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
        KeyAlgorithm::EcdsaP384 => "ecdsa-p384",
        KeyAlgorithm::Ed25519 => "ed25519",
        KeyAlgorithm::Rsa3072 => "rsa3072",
    }
}

/// Generates a fresh key pair.
pub fn generate(alg: KeyAlgorithm) -> Result<KeyPair> {
    match alg {
        KeyAlgorithm::Rsa3072 => super::rsa::generate_3072(),
        _ => KeyPair::generate_for(signature_alg(alg)).map_err(|e| anyhow!("cannot generate a {} key: {e}", alg_name(alg))),
    }
}

/// The algorithm of a loaded key, as the policy names it.
pub fn algorithm_of(key: &KeyPair) -> Option<KeyAlgorithm> {
    let a = key.algorithm();
    if a == &rcgen::PKCS_ECDSA_P256_SHA256 {
        Some(KeyAlgorithm::EcdsaP256)
    } else if a == &rcgen::PKCS_ECDSA_P384_SHA384 {
        Some(KeyAlgorithm::EcdsaP384)
    } else if a == &rcgen::PKCS_ED25519 {
        Some(KeyAlgorithm::Ed25519)
    } else if a == &rcgen::PKCS_RSA_SHA256 {
        Some(KeyAlgorithm::Rsa3072)
    } else {
        None
    }
}

/// Plain PKCS#8 PEM (`PRIVATE KEY`), zeroized on drop.
pub fn to_pem(key: &KeyPair) -> Zeroizing<String> {
    Zeroizing::new(key.serialize_pem())
}

/// Encrypted PKCS#8 PEM (`ENCRYPTED PRIVATE KEY`, PBES2 PBKDF2-SHA256 + AES-256-CBC).
pub fn to_encrypted_pem(key: &KeyPair, passphrase: &[u8]) -> Result<Zeroizing<String>> {
    let rng = SystemRandom::new();
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    rng.fill(&mut salt).map_err(|_| anyhow!("the system random generator failed"))?;
    rng.fill(&mut iv).map_err(|_| anyhow!("the system random generator failed"))?;
    let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv).map_err(|e| anyhow!("{e}"))?;
    let der = Zeroizing::new(key.serialize_der());
    let info = pkcs8::PrivateKeyInfo::from_der(&der).map_err(|e| anyhow!("cannot re-read the generated key: {e}"))?;
    let enc = info.encrypt_with_params(params, passphrase).map_err(|e| anyhow!("cannot encrypt the key: {e}"))?;
    let pem = enc.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF).map_err(|e| anyhow!("{e}"))?;
    Ok(Zeroizing::new(pem.to_string()))
}

/// Whether a PEM file holds an encrypted key.
pub fn is_encrypted(pem: &str) -> bool {
    pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
}

/// Loads a key file. `passphrase` is asked for only when the file is encrypted.
pub fn load(path: &Path, passphrase: impl FnOnce() -> Result<Zeroizing<Vec<u8>>>) -> Result<KeyPair> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("cannot read the private key {}: restore it from your backup", path.display()))?,
    );
    if is_encrypted(&text) {
        let (label, doc) = pkcs8::der::SecretDocument::from_pem(&text)
            .map_err(|e| anyhow!("{} is not a valid encrypted PEM key ({e}): restore it from your backup", path.display()))?;
        if label != "ENCRYPTED PRIVATE KEY" {
            bail!("{} has PEM label `{label}`, expected `ENCRYPTED PRIVATE KEY`", path.display());
        }
        let enc = pkcs8::EncryptedPrivateKeyInfo::from_der(doc.as_bytes())
            .map_err(|e| anyhow!("{} is not an encrypted PKCS#8 key ({e}): restore it from your backup", path.display()))?;
        let pass = passphrase()?;
        let plain = enc.decrypt(pass.as_slice()).map_err(|_| {
            anyhow!("wrong passphrase for {}: the key could not be decrypted. Check the passphrase source in `ca.root_passphrase` (env var or file)", path.display())
        })?;
        return KeyPair::try_from(plain.as_bytes()).map_err(|e| anyhow!("{} decrypted but is not a usable key: {e}", path.display()));
    }
    if !text.contains("-----BEGIN PRIVATE KEY-----") {
        bail!(
            "{} is not a PEM private key (expected `-----BEGIN PRIVATE KEY-----`, PKCS#8): the file is corrupt or was replaced; restore it from your backup",
            path.display()
        );
    }
    KeyPair::from_pem(&text).map_err(|e| anyhow!("{} is a corrupt PEM private key ({e}): restore it from your backup", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_round_trip_and_wrong_passphrase() {
        let d = tempfile::tempdir().unwrap();
        let k = generate(KeyAlgorithm::EcdsaP256).unwrap();
        let p = d.path().join("root.key");
        std::fs::write(&p, to_encrypted_pem(&k, b"correct horse").unwrap().as_bytes()).unwrap();
        let back = load(&p, || Ok(Zeroizing::new(b"correct horse".to_vec()))).unwrap();
        assert_eq!(back.public_key_raw(), k.public_key_raw());
        let err = load(&p, || Ok(Zeroizing::new(b"wrong".to_vec()))).unwrap_err();
        assert!(format!("{err:#}").contains("wrong passphrase"));
    }

    #[test]
    fn every_ring_algorithm_generates() {
        for a in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384, KeyAlgorithm::Ed25519] {
            let k = generate(a).unwrap();
            assert_eq!(algorithm_of(&KeyPair::from_pem(&to_pem(&k)).unwrap()), Some(a));
        }
    }
}
