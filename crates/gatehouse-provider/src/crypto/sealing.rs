//! Secrets at rest (private keys, TOTP seeds): AES-256-GCM under a key derived from
//! the master key. Layout: version (1) ‖ nonce (12) ‖ ciphertext ‖ tag (16). The
//! associated data names what the blob belongs to, so a sealed value cannot be moved
//! to another row and still open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use std::sync::Arc;

use super::{CryptoError, MasterKey};

const VERSION: u8 = 1;

#[derive(Clone)]
pub struct Sealer(Arc<RandomizedNonceKey>);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(AES-256-GCM)")
    }
}

impl Sealer {
    pub fn new(master: &MasterKey) -> Result<Self, CryptoError> {
        // aws-lc's `Unspecified` says nothing more than the variant does.
        let key = RandomizedNonceKey::new(&AES_256_GCM, &master.derive("seal/v1"))
            .map_err(|_| CryptoError::Backend("aead key"))?;
        Ok(Self(Arc::new(key)))
    }

    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        let mut buffer = plaintext.to_vec();
        let nonce = self
            .0
            .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut buffer)
            // `Unspecified`: nothing more to carry.
            .map_err(|_| CryptoError::Backend("seal"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buffer.len());
        out.push(VERSION);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buffer);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        let Some((&VERSION, rest)) = sealed.split_first() else {
            return Err(CryptoError::Unseal);
        };
        if rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(CryptoError::Unseal);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        // Why a value does not open is deliberately not told (and aws-lc does not know).
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Unseal)?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self
            .0
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| CryptoError::Unseal)?;
        Ok(plaintext.to_vec())
    }
}
