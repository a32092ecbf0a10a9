//! The key ring: per algorithm one active key that signs, one next key published
//! ahead of its use, and retired keys published until their tokens expire. Keys live
//! in the database (sealed), so every instance signs with the same keys; each
//! instance reloads them periodically to notice a rotation made elsewhere.

use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::SigningAlg;
use gatehouse_core::ports::{RepositoryError, SigningKeyRepository};
use gatehouse_core::signing_key::{KeyStatus, SigningKeyRecord, plan_keys};
use gatehouse_store::{Store, Tx};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::{CryptoError, Sealer, SigningKey};
use crate::jwks::{Jwk, JwkSet};

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("signing keys: {0}")]
    Repository(#[from] RepositoryError),
    #[error("signing keys: {0}")]
    Crypto(#[from] CryptoError),
    #[error("no active {0} signing key")]
    NoActiveKey(SigningAlg),
}

#[derive(Default)]
struct Loaded {
    active: BTreeMap<SigningAlg, Arc<SigningKey>>,
    jwks: Arc<str>,
    /// Every published key, by kid, to verify tokens this server signed.
    verifiers: BTreeMap<String, (jsonwebtoken::DecodingKey, jsonwebtoken::Algorithm)>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

fn verifier_alg(alg: SigningAlg) -> jsonwebtoken::Algorithm {
    match alg {
        SigningAlg::Rs256 => jsonwebtoken::Algorithm::RS256,
        SigningAlg::Es256 => jsonwebtoken::Algorithm::ES256,
        SigningAlg::EdDsa => jsonwebtoken::Algorithm::EdDSA,
    }
}

#[derive(Clone, Debug)]
pub struct KeyRing {
    store: Store,
    sealer: Sealer,
    loaded: Arc<RwLock<Loaded>>,
    /// When a token with an unknown `kid` last made this instance reload its keys.
    last_miss_reload: Arc<Mutex<Option<Instant>>>,
}

/// The associated data binding a sealed private key to its row.
fn seal_context(kid: &str) -> String {
    format!("signing-key:{kid}")
}

impl KeyRing {
    /// Brings the stored keys into shape (generating what is missing) and loads them.
    pub fn open(
        store: Store,
        sealer: Sealer,
        now: DateTime<Utc>,
        retire_after: TimeDelta,
    ) -> Result<Self, KeyRingError> {
        maintain(&store, &sealer, now, retire_after, false)?;
        let ring = Self {
            store,
            sealer,
            loaded: Arc::default(),
            last_miss_reload: Arc::default(),
        };
        ring.reload()?;
        Ok(ring)
    }

    /// Re-reads the keys from the database (another instance may have rotated them).
    pub fn reload(&self) -> Result<(), KeyRingError> {
        let records = self.store.signing_keys()?;
        let mut active = BTreeMap::new();
        for record in records.iter().filter(|r| r.status == KeyStatus::Active) {
            // Newest active wins; maintenance retires any other.
            let pkcs8 = self
                .sealer
                .open(&record.sealed_private_key, &seal_context(&record.kid))?;
            active.insert(
                record.alg,
                Arc::new(SigningKey::from_pkcs8(record.alg, &pkcs8)?),
            );
        }
        let mut keys = Vec::with_capacity(records.len());
        let mut verifiers = BTreeMap::new();
        for record in &records {
            let unusable = |e: &dyn std::fmt::Display| {
                CryptoError::Key(format!("published JWK {}: {e}", record.kid))
            };
            keys.push(serde_json::from_str::<Jwk>(&record.public_jwk).map_err(|e| unusable(&e))?);
            let jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_str(&record.public_jwk).map_err(|e| unusable(&e))?;
            let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| unusable(&e))?;
            verifiers.insert(record.kid.clone(), (key, verifier_alg(record.alg)));
        }
        let jwks = serde_json::to_string(&JwkSet { keys })
            .map_err(|e| CryptoError::Key(format!("JWKS: {e}")))?;
        let mut loaded = self.loaded.write().unwrap_or_else(PoisonError::into_inner);
        *loaded = Loaded {
            active,
            jwks: jwks.into(),
            verifiers,
        };
        Ok(())
    }

    /// The key that signs for `alg` now.
    pub fn active(&self, alg: SigningAlg) -> Result<Arc<SigningKey>, KeyRingError> {
        let loaded = self.loaded.read().unwrap_or_else(PoisonError::into_inner);
        loaded
            .active
            .get(&alg)
            .cloned()
            .ok_or(KeyRingError::NoActiveKey(alg))
    }

    /// The public key and algorithm of a published key.
    pub fn verifier(
        &self,
        kid: &str,
    ) -> Option<(jsonwebtoken::DecodingKey, jsonwebtoken::Algorithm)> {
        let loaded = self.loaded.read().unwrap_or_else(PoisonError::into_inner);
        loaded.verifiers.get(kid).cloned()
    }

    /// How often at most a token signed by an unknown key makes this instance reload
    /// (a forged `kid` must not turn every request into a database read).
    pub const MISS_RELOAD_EVERY: Duration = Duration::from_secs(5);

    /// Whether a token with an unknown `kid` may make this instance reload its keys
    /// now; when it may, the reload is counted as done.
    pub fn may_reload_for_unknown_key(&self) -> bool {
        let mut last = self
            .last_miss_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < Self::MISS_RELOAD_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// Whether `kid` is still a key tokens may be verified with.
    pub fn knows(&self, kid: &str) -> bool {
        let loaded = self.loaded.read().unwrap_or_else(PoisonError::into_inner);
        loaded.verifiers.contains_key(kid)
    }

    /// The JWKS document, serialised once per reload.
    pub fn jwks_json(&self) -> Arc<str> {
        self.loaded
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .jwks
            .clone()
    }
}

/// Applies the core's key plan for every algorithm; with `rotate`, promotes each
/// next key and retires the active one. Returns the kids generated.
///
/// One transaction holding the key-maintenance lock (`Tx::lock_signing_keys`): two
/// instances started together on an empty database end with one key set, the one
/// that came second using the first's.
pub fn maintain(
    store: &Store,
    sealer: &Sealer,
    now: DateTime<Utc>,
    retire_after: TimeDelta,
    rotate: bool,
) -> Result<Vec<String>, KeyRingError> {
    let generated = store.transaction(|tx| {
        tx.lock_signing_keys()?;
        let keys = tx.signing_keys()?;
        let by_kid = |kid: &str| keys.iter().find(|k| k.kid == kid).cloned();
        let mut generated = Vec::new();
        for alg in SigningAlg::ALL.iter().copied() {
            let plan = plan_keys(&keys, alg, now, retire_after, rotate);
            // Publish first, then switch: a new key is stored before any key changes status.
            if plan.generate_active {
                generated.push(insert_new(tx, sealer, alg, KeyStatus::Active, now)?);
            }
            if plan.generate_next {
                generated.push(insert_new(tx, sealer, alg, KeyStatus::Next, now)?);
            }
            for (kid, until) in &plan.retire {
                if let Some(mut key) = by_kid(kid) {
                    key.status = KeyStatus::Retired;
                    key.expires_at = Some(*until);
                    tx.update_key(&key)?;
                }
            }
            for kid in &plan.activate {
                if let Some(mut key) = by_kid(kid) {
                    key.status = KeyStatus::Active;
                    key.activated_at = Some(now);
                    tx.update_key(&key)?;
                }
            }
            for kid in &plan.delete {
                match tx.delete_key(kid) {
                    Ok(()) | Err(RepositoryError::NotFound) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(generated)
    })?;
    Ok(generated)
}

fn insert_new(
    tx: &Tx<'_>,
    sealer: &Sealer,
    alg: SigningAlg,
    status: KeyStatus,
    now: DateTime<Utc>,
) -> Result<String, RepositoryError> {
    // Inside the transaction a crypto failure aborts it like any other; its reason stays.
    let crypto = |e: CryptoError| RepositoryError::Unavailable(format!("signing keys: {e}"));
    let (key, pkcs8) = SigningKey::generate(alg).map_err(crypto)?;
    let record = SigningKeyRecord {
        kid: key.kid().to_owned(),
        alg,
        status,
        sealed_private_key: sealer
            .seal(&pkcs8, &seal_context(key.kid()))
            .map_err(crypto)?,
        public_jwk: key.public_jwk().to_string(),
        created_at: now,
        activated_at: (status == KeyStatus::Active).then_some(now),
        expires_at: None,
    };
    tx.insert_key(&record)?;
    Ok(record.kid)
}
