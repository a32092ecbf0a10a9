//! Cryptography, on one backend (aws-lc-rs): the master key and what is derived from
//! it, sealing secrets at rest, keyed hashes of random secrets, token-signing keys.

pub mod keyed_hash;
pub mod keyring;
pub mod master_key;
pub mod random;
pub mod sealing;
pub mod signing;

pub use keyed_hash::KeyedHasher;
pub use keyring::KeyRing;
pub use master_key::MasterKey;
pub use sealing::Sealer;
pub use signing::SigningKey;

use crate::problem::{Failure, Problem};

/// Everything derived from the master key, built once at start-up.
#[derive(Clone, Debug)]
pub struct Secrets {
    pub sealer: Sealer,
    pub hasher: KeyedHasher,
    /// MACs of DPoP nonces (RFC 9449 §8): every instance with the master key makes
    /// and accepts the same nonces, with nothing stored.
    pub dpop_nonces: KeyedHasher,
}

impl Secrets {
    pub fn load(config: &crate::config::SecretsConfig) -> Result<Self, CryptoError> {
        let master = MasterKey::load(config)?;
        Ok(Self {
            sealer: Sealer::new(&master)?,
            hasher: KeyedHasher::new(&master),
            dpop_nonces: KeyedHasher::for_purpose(&master, "dpop-nonce/v1"),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("{0}")]
    Key(String),
    #[error("sealed data does not open with this server's key (wrong secrets.key?)")]
    Unseal,
    #[error("the crypto backend failed: {0}")]
    Backend(&'static str),
}

/// The crypto backend failed (no randomness, a key that does not load): logged here,
/// answered 500.
impl From<CryptoError> for Problem {
    fn from(e: CryptoError) -> Self {
        tracing::error!(error = %e, "a cryptographic operation failed");
        Self::internal()
    }
}

/// The same for work that ends as a [`Failure`].
impl From<CryptoError> for Failure {
    fn from(e: CryptoError) -> Self {
        Self::Refused(Box::new(e.into()))
    }
}
