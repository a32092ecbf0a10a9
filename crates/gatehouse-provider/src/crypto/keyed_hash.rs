//! Keyed hashes (HMAC-SHA256) of random secrets: client secrets, later tokens and
//! codes. Random secrets need no slow hash; the key means a stolen table alone
//! cannot even confirm a guess. Verification compares in constant time.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::MasterKey;

#[derive(Clone)]
pub struct KeyedHasher(hmac::Key);

impl std::fmt::Debug for KeyedHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedHasher(HMAC-SHA256)")
    }
}

impl KeyedHasher {
    pub fn new(master: &MasterKey) -> Self {
        Self::for_purpose(master, "secret-hash/v1")
    }

    /// A hasher under a key of its own, derived from the master key for `purpose`.
    pub fn for_purpose(master: &MasterKey, purpose: &str) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, &master.derive(purpose)))
    }

    pub fn hash(&self, secret: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, secret.as_bytes()))
    }

    pub fn verify(&self, secret: &str, stored: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(stored)
            .is_ok_and(|tag| hmac::verify(&self.0, secret.as_bytes(), &tag).is_ok())
    }
}
