//! argon2id password hashing in PHC strings, with parameters from configuration.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::{self, CustomizedPasswordHasher};
use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHasher as _, PasswordVerifier as _, Version,
};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

thread_local! {
    /// argon2's working memory (`m` KiB), kept by each thread that hashes. A fresh
    /// allocation per hash costs page faults and zeroing, and the allocator keeps
    /// freed copies around; reused, the server holds one per hashing thread.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// argon2 (any variant, as a stored hash names it) computed in the calling thread's
/// reusable memory; hashing, verification and salts come from the `password-hash`
/// traits, so the constant-time comparison is the crate's own.
#[derive(Clone, Debug)]
struct Argon2InPlace {
    params: Params,
}

impl CustomizedPasswordHasher<PasswordHash> for Argon2InPlace {
    type Params = Params;

    fn hash_password_customized(
        &self,
        password: &[u8],
        salt: &[u8],
        algorithm: Option<&str>,
        version: Option<u32>,
        params: Params,
    ) -> password_hash::Result<PasswordHash> {
        let algorithm = algorithm
            .map(Algorithm::try_from)
            .transpose()?
            .unwrap_or(Algorithm::Argon2id);
        let version = version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or(Version::V0x13);
        let salt = Salt::new(salt)?;
        let mut buffer = [0u8; Output::MAX_LENGTH];
        let out = buffer
            .get_mut(..params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN))
            .ok_or(password_hash::Error::OutputSize)?;
        let argon = Argon2::new(algorithm, version, params.clone());
        let blocks = params.block_count();
        if blocks > self.params.block_count() {
            // Costlier than configured (an imported hash): not worth keeping.
            let mut memory = vec![Block::default(); blocks];
            argon.hash_password_into_with_memory(password, &salt, out, &mut memory[..])?;
        } else {
            MEMORY.with(|memory| {
                let mut memory = memory.borrow_mut();
                if memory.len() < blocks {
                    memory.resize(self.params.block_count(), Block::default());
                }
                argon.hash_password_into_with_memory(password, &salt, out, &mut memory[..blocks])
            })?;
        }
        Ok(PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(Output::new(out)?),
        })
    }
}

impl argon2::PasswordHasher<PasswordHash> for Argon2InPlace {
    fn hash_password_with_salt(
        &self,
        password: &[u8],
        salt: &[u8],
    ) -> password_hash::Result<PasswordHash> {
        self.hash_password_customized(password, salt, None, None, self.params.clone())
    }
}

/// argon2id cost parameters. The defaults are OWASP's (m = 19 MiB, t = 2, p = 1);
/// tests configure cheap ones, never production code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HashingParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashingParams {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl HashingParams {
    fn argon2_params(&self) -> Result<Params, HashingError> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| HashingError::Params(e.to_string()))
    }

    /// Checks the parameters without hashing anything (cheap, for config validation).
    pub fn validate(&self) -> Result<(), HashingError> {
        self.argon2_params().map(|_| ())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HashingError {
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// The result of checking a password against a stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The password is right. `needs_rehash`: store a fresh hash with today's parameters.
    Match {
        needs_rehash: bool,
    },
    Mismatch,
}

/// Hashes and verifies passwords; holds a dummy hash so unknown accounts cost as much.
#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2InPlace,
    params: Params,
    dummy: String,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish()
    }
}

impl PasswordHasher {
    pub fn new(config: &HashingParams) -> Result<Self, HashingError> {
        let params = config.argon2_params()?;
        let argon = Argon2InPlace {
            params: params.clone(),
        };
        // A real hash of a password nobody knows: verifying against it takes the same
        // time as verifying a real account's password. Computed in memory of its own,
        // freed at once: the calling thread (the server's main thread) never hashes
        // again, so it must not keep `m` KiB of working memory.
        let dummy = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password(uuid::Uuid::new_v4().to_string().as_bytes())
            .map_err(|e| HashingError::Hash(e.to_string()))?
            .to_string();
        Ok(Self {
            argon,
            params,
            dummy,
        })
    }

    /// A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, HashingError> {
        let normalized = super::normalize(password);
        self.argon
            .hash_password(normalized.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| HashingError::Hash(e.to_string()))
    }

    /// Checks `password` against a stored PHC string. A stored value that does not
    /// parse never matches (and is logged by the caller, not here).
    pub fn verify(&self, password: &str, stored: &str) -> Verification {
        if !stored.starts_with("$argon2id$")
            && let Ok(legacy) = super::legacy::LegacyHash::parse(stored)
        {
            // Never faster than an argon2id check, so a kept hash is no timing oracle
            // for "this account exists" beyond its own (older) algorithm's cost.
            self.verify_dummy(password);
            return if legacy.verify(password) {
                Verification::Match { needs_rehash: true }
            } else {
                Verification::Mismatch
            };
        }
        let normalized = super::normalize(password);
        let Ok(parsed) = PasswordHash::new(stored) else {
            // Still spend the time, so a corrupt row is not a timing oracle.
            self.verify_dummy(password);
            return Verification::Mismatch;
        };
        // Verification uses the parameters inside the PHC string, so old hashes keep working.
        match self.argon.verify_password(normalized.as_bytes(), &parsed) {
            Ok(()) => Verification::Match {
                needs_rehash: self.needs_rehash(stored),
            },
            Err(_) => Verification::Mismatch,
        }
    }

    /// Spends the time of one verification for an account that does not exist.
    /// Always a mismatch.
    pub fn verify_dummy(&self, password: &str) -> Verification {
        let normalized = super::normalize(password);
        if let Ok(parsed) = PasswordHash::new(&self.dummy) {
            let _ = self.argon.verify_password(normalized.as_bytes(), &parsed);
        }
        Verification::Mismatch
    }

    /// True when `stored` is not argon2id v1.3 with exactly the configured parameters.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        if parsed.algorithm.as_str() != "argon2id" || parsed.version != Some(Version::V0x13.into())
        {
            return true;
        }
        match Params::try_from(&parsed) {
            Ok(p) => {
                p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            }
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> HashingParams {
        HashingParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn hasher(params: &HashingParams) -> PasswordHasher {
        PasswordHasher::new(params).unwrap()
    }

    fn kept_blocks() -> usize {
        MEMORY.with(|memory| memory.borrow().len())
    }

    #[test]
    fn only_threads_that_hash_keep_working_memory() {
        // Each test runs on a thread of its own, so this one starts with none.
        let h = hasher(&cheap());
        assert_eq!(kept_blocks(), 0, "making the dummy hash kept memory");
        let stored = h.hash("Correct-Horse#42").unwrap();
        assert_eq!(kept_blocks(), 64, "m = 64 KiB is 64 blocks of 1 KiB");
        h.verify("Correct-Horse#42", &stored);
        assert_eq!(kept_blocks(), 64, "reused, not grown");
    }

    #[test]
    fn hashes_to_argon2id_phc_and_verifies() {
        let h = hasher(&cheap());
        let stored = h.hash("Correct-Horse#42").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{stored}"
        );
        assert_eq!(
            h.verify("Correct-Horse#42", &stored),
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            h.verify("Correct-Horse#43", &stored),
            Verification::Mismatch
        );
    }

    #[test]
    fn the_in_place_computation_agrees_with_the_argon2_crate_either_way() {
        let ours = hasher(&cheap());
        let params = Params::new(64, 1, 1, None).unwrap();
        let stock = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let by_stock = stock
            .hash_password(b"Correct-Horse#42")
            .unwrap()
            .to_string();
        assert!(matches!(
            ours.verify("Correct-Horse#42", &by_stock),
            Verification::Match { .. }
        ));
        let by_us = ours.hash("Correct-Horse#42").unwrap();
        let parsed = PasswordHash::new(&by_us).unwrap();
        assert!(stock.verify_password(b"Correct-Horse#42", &parsed).is_ok());
        assert!(stock.verify_password(b"Correct-Horse#43", &parsed).is_err());
    }

    #[test]
    fn the_kept_memory_serves_smaller_and_larger_costs_in_one_thread() {
        let small = hasher(&cheap());
        let large = hasher(&HashingParams {
            memory_kib: 256,
            ..cheap()
        });
        let small_hash = small.hash("pw-small").unwrap();
        let large_hash = large.hash("pw-large").unwrap();
        // Each hasher verifies the other's hash in this same thread, both orders.
        for _ in 0..2 {
            assert!(matches!(
                small.verify("pw-large", &large_hash),
                Verification::Match { .. }
            ));
            assert!(matches!(
                large.verify("pw-small", &small_hash),
                Verification::Match { .. }
            ));
            assert_eq!(
                large.verify("pw-large", &small_hash),
                Verification::Mismatch
            );
        }
    }

    #[test]
    fn salts_differ_between_hashes_of_one_password() {
        let h = hasher(&cheap());
        assert_ne!(h.hash("same").unwrap(), h.hash("same").unwrap());
    }

    #[test]
    fn full_width_typing_verifies_against_the_ascii_hash() {
        let h = hasher(&cheap());
        let stored = h.hash("Correct-Horse#42").unwrap();
        assert!(matches!(
            h.verify("Ｃｏｒｒｅｃｔ－Ｈｏｒｓｅ＃４２", &stored),
            Verification::Match { .. }
        ));
    }

    #[test]
    fn old_parameters_verify_and_ask_for_a_rehash() {
        let old = hasher(&cheap());
        let stored = old.hash("Correct-Horse#42").unwrap();
        let new = hasher(&HashingParams {
            memory_kib: 128,
            ..cheap()
        });
        assert!(new.needs_rehash(&stored));
        assert_eq!(
            new.verify("Correct-Horse#42", &stored),
            Verification::Match { needs_rehash: true }
        );
        assert!(!new.needs_rehash(&new.hash("x").unwrap()));
    }

    #[test]
    fn other_algorithms_and_garbage_need_a_rehash_and_never_match() {
        let h = hasher(&cheap());
        let argon2i =
            "$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A";
        assert!(h.needs_rehash(argon2i));
        assert!(h.needs_rehash("not a hash"));
        assert_eq!(h.verify("x", "not a hash"), Verification::Mismatch);
        assert_eq!(h.verify("", ""), Verification::Mismatch);
    }

    #[test]
    fn dummy_verification_never_matches() {
        let h = hasher(&cheap());
        assert_eq!(h.verify_dummy(""), Verification::Mismatch);
        assert_eq!(h.verify_dummy("Correct-Horse#42"), Verification::Mismatch);
    }

    #[test]
    fn production_defaults_are_owasp() {
        assert_eq!(
            HashingParams::default(),
            HashingParams {
                memory_kib: 19456,
                iterations: 2,
                parallelism: 1
            }
        );
    }

    #[test]
    fn refuses_impossible_parameters() {
        let bad = HashingParams {
            memory_kib: 1,
            ..cheap()
        };
        assert!(matches!(
            PasswordHasher::new(&bad),
            Err(HashingError::Params(_))
        ));
    }
}
