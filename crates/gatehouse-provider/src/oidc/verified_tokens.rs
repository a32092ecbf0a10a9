//! Access tokens whose signature and claims have been checked, by a SHA-256 of the
//! token. A resource server introspects (or calls userinfo with) the same token on
//! every request it serves, and the signature check is most of such a call's work.
//! Only that check is remembered: revocation is read from the database every time, a
//! remembered token is refused once its `exp` has passed, and so is one whose signing
//! key has left the key ring (a key removed after a compromise takes its tokens along).

use aws_lc_rs::digest;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use super::access_claims::AccessClaims;

/// Enough for the tokens in use at once; beyond, expired ones go, and if none have,
/// all (a bound on memory, at the price of checking signatures again).
const MAX_ENTRIES: usize = 4096;

type Key = [u8; 32];

#[derive(Clone, Debug, Default)]
pub struct VerifiedTokens(Arc<RwLock<HashMap<Key, Verified>>>);

/// A token's claims and the key id its signature was checked with.
#[derive(Clone, Debug)]
struct Verified {
    kid: String,
    claims: AccessClaims,
}

fn key(token: &str) -> Key {
    let mut key = [0u8; 32];
    key.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    key
}

impl VerifiedTokens {
    /// The claims of `token` if it was verified before, has not expired at `now` (Unix
    /// seconds), and its key is still one `key_known` accepts.
    pub fn get(
        &self,
        token: &str,
        now: i64,
        key_known: impl FnOnce(&str) -> bool,
    ) -> Option<AccessClaims> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.get(&key(token))
            .filter(|v| v.claims.exp > now && key_known(&v.kid))
            .map(|v| v.claims.clone())
    }

    /// Remembers a token that has just passed every check with the key `kid`.
    pub fn put(&self, token: &str, kid: &str, claims: &AccessClaims, now: i64) {
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, v| v.claims.exp > now);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        let verified = Verified {
            kid: kid.to_owned(),
            claims: claims.clone(),
        };
        map.insert(key(token), verified);
    }
}
