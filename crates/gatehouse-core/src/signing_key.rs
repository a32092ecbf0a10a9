//! The lifecycle of token-signing keys, per algorithm:
//!
//! ```text
//! next ──rotate──▶ active ──rotate──▶ retired ──(its last token expired)──▶ deleted
//! ```
//!
//! The `next` key is published in the JWKS before it signs anything, so relying
//! parties that cache the JWKS already know it when it becomes `active`; a `retired`
//! key stays published until every token it signed has expired.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::client::SigningAlg;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Next,
    Active,
    Retired,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Next, Self::Active, Self::Retired]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown key status {s:?}"))
    }
}

/// A stored signing key. The private half is sealed (encrypted) by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub alg: SigningAlg,
    pub status: KeyStatus,
    pub sealed_private_key: Vec<u8>,
    /// The public JWK as JSON, exactly as published.
    pub public_jwk: String,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    /// For a retired key: when the last token it may have signed expires.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What has to change for one algorithm's keys to be in a good state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPlan {
    /// Keys to mark active (the former `next`).
    pub activate: Vec<String>,
    /// Keys to retire, each with the instant its last token expires.
    pub retire: Vec<(String, DateTime<Utc>)>,
    /// Expired retired keys to delete.
    pub delete: Vec<String>,
    /// How many fresh keys to generate: the new `next`, and an active one where none exists.
    pub generate_active: bool,
    pub generate_next: bool,
}

impl KeyPlan {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Makes sure one algorithm has exactly one active and one next key, and drops
/// retired keys whose tokens are all expired. With `rotate`, the next key becomes
/// active and the active one retires (kept for `max_token_lifetime`).
pub fn plan_keys(
    keys: &[SigningKeyRecord],
    alg: SigningAlg,
    now: DateTime<Utc>,
    max_token_lifetime: TimeDelta,
    rotate: bool,
) -> KeyPlan {
    let mut plan = KeyPlan::default();
    let of_alg = || keys.iter().filter(|k| k.alg == alg);
    let newest = |status| {
        of_alg()
            .filter(|k| k.status == status)
            .max_by_key(|k| (k.created_at, k.kid.clone()))
    };
    let active = newest(KeyStatus::Active);
    let next = newest(KeyStatus::Next);
    let retire_until = now + max_token_lifetime;

    // Extra active or next keys (from a race between instances) retire at once.
    for extra in of_alg().filter(|k| {
        (k.status == KeyStatus::Active && Some(k.kid.as_str()) != active.map(|a| a.kid.as_str()))
            || (k.status == KeyStatus::Next && Some(k.kid.as_str()) != next.map(|n| n.kid.as_str()))
    }) {
        plan.retire.push((extra.kid.clone(), retire_until));
    }
    match (active, next, rotate) {
        (Some(active), Some(next), true) => {
            plan.retire.push((active.kid.clone(), retire_until));
            plan.activate.push(next.kid.clone());
            plan.generate_next = true;
        }
        (None, Some(next), _) => {
            plan.activate.push(next.kid.clone());
            plan.generate_next = true;
        }
        (Some(active), None, true) => {
            plan.retire.push((active.kid.clone(), retire_until));
            plan.generate_active = true;
            plan.generate_next = true;
        }
        (Some(_), None, false) => plan.generate_next = true,
        (None, None, _) => {
            plan.generate_active = true;
            plan.generate_next = true;
        }
        (Some(_), Some(_), false) => {}
    }
    for retired in of_alg().filter(|k| k.status == KeyStatus::Retired) {
        if retired.expires_at.is_none_or(|until| until <= now) {
            plan.delete.push(retired.kid.clone());
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn key(kid: &str, status: KeyStatus, created: i64) -> SigningKeyRecord {
        SigningKeyRecord {
            kid: kid.to_owned(),
            alg: SigningAlg::Rs256,
            status,
            sealed_private_key: vec![],
            public_jwk: "{}".to_owned(),
            created_at: at(created),
            activated_at: None,
            expires_at: None,
        }
    }

    const HOUR: TimeDelta = TimeDelta::hours(1);

    #[test]
    fn first_start_generates_an_active_and_a_next_key() {
        let plan = plan_keys(&[], SigningAlg::Rs256, at(0), HOUR, false);
        assert!(plan.generate_active && plan.generate_next);
        assert!(plan.activate.is_empty() && plan.retire.is_empty());
    }

    #[test]
    fn a_healthy_set_needs_nothing() {
        let keys = [key("a", KeyStatus::Active, 0), key("n", KeyStatus::Next, 1)];
        assert!(plan_keys(&keys, SigningAlg::Rs256, at(10), HOUR, false).is_empty());
        // Keys of other algorithms are not this algorithm's business.
        assert!(!plan_keys(&keys, SigningAlg::Es256, at(10), HOUR, false).is_empty());
    }

    #[test]
    fn rotation_promotes_next_and_keeps_the_old_key_until_its_tokens_expire() {
        let keys = [key("a", KeyStatus::Active, 0), key("n", KeyStatus::Next, 1)];
        let plan = plan_keys(&keys, SigningAlg::Rs256, at(100), HOUR, true);
        assert_eq!(plan.activate, vec!["n".to_owned()]);
        assert_eq!(plan.retire, vec![("a".to_owned(), at(100) + HOUR)]);
        assert!(plan.generate_next && !plan.generate_active);
        assert!(plan.delete.is_empty());
    }

    #[test]
    fn retired_keys_are_deleted_only_after_their_tokens_expire() {
        let mut retired = key("old", KeyStatus::Retired, 0);
        retired.expires_at = Some(at(3600));
        let keys = [
            key("a", KeyStatus::Active, 1),
            key("n", KeyStatus::Next, 2),
            retired,
        ];
        assert!(
            plan_keys(&keys, SigningAlg::Rs256, at(3599), HOUR, false)
                .delete
                .is_empty()
        );
        assert_eq!(
            plan_keys(&keys, SigningAlg::Rs256, at(3600), HOUR, false).delete,
            vec!["old".to_owned()]
        );
    }

    #[test]
    fn a_missing_active_key_is_filled_from_next() {
        let keys = [key("n", KeyStatus::Next, 1)];
        let plan = plan_keys(&keys, SigningAlg::Rs256, at(5), HOUR, false);
        assert_eq!(plan.activate, vec!["n".to_owned()]);
        assert!(plan.generate_next && !plan.generate_active);
    }

    #[test]
    fn duplicates_from_racing_instances_retire_and_the_newest_wins() {
        let keys = [
            key("a1", KeyStatus::Active, 0),
            key("a2", KeyStatus::Active, 5),
            key("n", KeyStatus::Next, 6),
        ];
        let plan = plan_keys(&keys, SigningAlg::Rs256, at(10), HOUR, false);
        assert_eq!(plan.retire, vec![("a1".to_owned(), at(10) + HOUR)]);
        assert!(plan.activate.is_empty());
    }
}
