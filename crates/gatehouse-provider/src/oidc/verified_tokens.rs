//! Access tokens whose signature and claims have been checked, by a SHA-256 of the
//! token. A resource server introspects (or calls userinfo with) the same token on
//! every request it serves, and the signature check is most of such a call's work.
//! Only that check is remembered: revocation is read from the database every time,
//! and a remembered token is refused once its `exp` has passed.

use aws_lc_rs::digest;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use super::access::AccessClaims;

/// Enough for the tokens in use at once; beyond, expired ones go, and if none have,
/// all (a bound on memory, at the price of checking signatures again).
const MAX_ENTRIES: usize = 4096;

type Key = [u8; 32];

#[derive(Clone, Debug, Default)]
pub struct VerifiedTokens(Arc<RwLock<HashMap<Key, AccessClaims>>>);

fn key(token: &str) -> Key {
    let mut key = [0u8; 32];
    key.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    key
}

impl VerifiedTokens {
    /// The claims of `token` if it was verified before and has not expired at `now`
    /// (Unix seconds).
    pub fn get(&self, token: &str, now: i64) -> Option<AccessClaims> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.get(&key(token)).filter(|c| c.exp > now).cloned()
    }

    /// Remembers a token that has just passed every check.
    pub fn put(&self, token: &str, claims: &AccessClaims, now: i64) {
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, c| c.exp > now);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(key(token), claims.clone());
    }
}
