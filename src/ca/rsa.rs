//! RSA-3072 key generation. ring (the crypto backend shared with rustls) can
//! sign with RSA keys but cannot generate them, so the RustCrypto `rsa` crate
//! generates the primes and hands the key to ring as PKCS#8; every signature is
//! then made by ring.

use anyhow::{anyhow, Result};
use pkcs8::rand_core::{CryptoRng, Error as RandError, RngCore};
use rcgen::KeyPair;
use ring::rand::{SecureRandom, SystemRandom};
use rsa::pkcs8::EncodePrivateKey;
use zeroize::Zeroizing;

/// The OS random generator (through ring) as a rand_core RNG.
struct OsRng(SystemRandom);

impl RngCore for OsRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // A failing OS RNG leaves no safe way to continue making keys.
        self.0.fill(dest).expect("the system random generator failed");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RandError> {
        self.0.fill(dest).map_err(|_| RandError::from(std::num::NonZeroU32::new(RandError::CUSTOM_START).expect("non-zero")))
    }
}
impl CryptoRng for OsRng {}

/// Generates an RSA-3072 key.
pub fn generate_3072() -> Result<KeyPair> {
    let key = rsa::RsaPrivateKey::new(&mut OsRng(SystemRandom::new()), 3072).map_err(|e| anyhow!("cannot generate an RSA-3072 key: {e}"))?;
    let der = Zeroizing::new(key.to_pkcs8_der().map_err(|e| anyhow!("cannot encode the RSA key: {e}"))?.as_bytes().to_vec());
    KeyPair::from_pkcs8_der_and_sign_algo(&rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_slice()), &rcgen::PKCS_RSA_SHA256)
        .map_err(|e| anyhow!("ring rejects the generated RSA key: {e}"))
}
