//! One-time codes sent by e-mail: 6 digits, stored hashed; by default 10 minutes, 5
//! tries per code, 5 sends per account per 15 minutes ([`OtpLimits`], configurable).
//! Randomness and hashing come from the caller; the rules live here.

use chrono::{DateTime, TimeDelta, Utc};

use crate::account::AccountId;

pub const CODE_DIGITS: usize = 6;

/// How long a code lives, how often it may be tried, and how many may be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OtpLimits {
    pub code_ttl: TimeDelta,
    /// Wrong codes before a code is dead.
    pub max_tries: u32,
    /// Codes sent to one account within `send_window`.
    pub max_sends: usize,
    pub send_window: TimeDelta,
}

impl Default for OtpLimits {
    fn default() -> Self {
        Self {
            code_ttl: TimeDelta::minutes(10),
            max_tries: 5,
            max_sends: 5,
            send_window: TimeDelta::minutes(15),
        }
    }
}

/// A code that was sent, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtpChallenge {
    pub id: String,
    pub login_request_id: String,
    pub account_id: AccountId,
    /// Keyed hash of the code, bound to this challenge.
    pub code_hash: String,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set when the code was accepted, or when a newer code replaced it.
    pub closed_at: Option<DateTime<Utc>>,
}

/// Why a code cannot be checked or was not accepted. Codes are the REST API's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OtpRefusal {
    #[error("no code was sent for this login; request one")]
    NotSent,
    #[error("the code has expired; request a new one")]
    Expired,
    #[error("too many wrong codes; request a new one")]
    Exhausted,
    #[error("the code is wrong")]
    Wrong { attempts_left: u32 },
    #[error("too many codes were sent; wait before asking again")]
    SendLimit { retry_after_seconds: i64 },
}

/// A code of `CODE_DIGITS` uniformly random digits. `next_u32` is a CSPRNG.
pub fn generate_code(mut next_u32: impl FnMut() -> u32) -> String {
    // Rejection sampling: 4_294_000_000 is the largest multiple of 10^6 below 2^32.
    const LIMIT: u32 = 4_294_000_000;
    let value = loop {
        let candidate = next_u32();
        if candidate < LIMIT {
            break candidate % 1_000_000;
        }
    };
    format!("{value:0width$}", width = CODE_DIGITS)
}

/// May another code be sent, given the account's sends so far? When not, the refusal
/// says when the oldest send in the window leaves it.
pub fn check_send_allowed(
    recent_sends: &[DateTime<Utc>],
    now: DateTime<Utc>,
    limits: &OtpLimits,
) -> Result<(), OtpRefusal> {
    let mut in_window: Vec<DateTime<Utc>> = recent_sends
        .iter()
        .copied()
        .filter(|at| *at > now - limits.send_window)
        .collect();
    if in_window.len() < limits.max_sends {
        return Ok(());
    }
    // The send that must leave the window before another fits.
    in_window.sort_unstable_by(|a, b| b.cmp(a));
    let freeing = in_window
        .get(limits.max_sends.saturating_sub(1))
        .copied()
        .unwrap_or(now);
    Err(OtpRefusal::SendLimit {
        retry_after_seconds: (freeing + limits.send_window - now).num_seconds().max(1),
    })
}

/// Whether `challenge` can still accept a code now (before comparing).
pub fn check_open(
    challenge: Option<&OtpChallenge>,
    now: DateTime<Utc>,
    limits: &OtpLimits,
) -> Result<(), OtpRefusal> {
    let challenge = challenge.ok_or(OtpRefusal::NotSent)?;
    if challenge.closed_at.is_some() {
        return Err(OtpRefusal::NotSent);
    }
    if challenge.attempts >= limits.max_tries {
        return Err(OtpRefusal::Exhausted);
    }
    if now >= challenge.expires_at {
        return Err(OtpRefusal::Expired);
    }
    Ok(())
}

/// Records a wrong code; the refusal says how many tries remain (none: the code is dead).
pub fn record_wrong(challenge: &mut OtpChallenge, limits: &OtpLimits) -> OtpRefusal {
    challenge.attempts += 1;
    match limits.max_tries.saturating_sub(challenge.attempts) {
        0 => OtpRefusal::Exhausted,
        attempts_left => OtpRefusal::Wrong { attempts_left },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn challenge(now: DateTime<Utc>) -> OtpChallenge {
        OtpChallenge {
            id: "c".to_owned(),
            login_request_id: "l".to_owned(),
            account_id: AccountId::new(),
            code_hash: "h".to_owned(),
            attempts: 0,
            created_at: now,
            expires_at: now + OtpLimits::default().code_ttl,
            closed_at: None,
        }
    }

    const LIMITS: OtpLimits = OtpLimits {
        code_ttl: TimeDelta::minutes(10),
        max_tries: 5,
        max_sends: 5,
        send_window: TimeDelta::minutes(15),
    };

    #[test]
    fn five_wrong_codes_kill_the_code() {
        let now = DateTime::UNIX_EPOCH;
        let mut c = challenge(now);
        assert_eq!(LIMITS, OtpLimits::default());
        for left in (1..LIMITS.max_tries).rev() {
            assert_eq!(check_open(Some(&c), now, &LIMITS), Ok(()));
            assert_eq!(
                record_wrong(&mut c, &LIMITS),
                OtpRefusal::Wrong {
                    attempts_left: left
                }
            );
        }
        assert_eq!(record_wrong(&mut c, &LIMITS), OtpRefusal::Exhausted);
        assert_eq!(
            check_open(Some(&c), now, &LIMITS),
            Err(OtpRefusal::Exhausted)
        );
    }

    #[test]
    fn codes_expire_after_ten_minutes() {
        let now = DateTime::UNIX_EPOCH;
        let c = challenge(now);
        assert_eq!(
            check_open(Some(&c), now + TimeDelta::seconds(599), &LIMITS),
            Ok(())
        );
        assert_eq!(
            check_open(Some(&c), now + TimeDelta::seconds(600), &LIMITS),
            Err(OtpRefusal::Expired)
        );
        assert_eq!(check_open(None, now, &LIMITS), Err(OtpRefusal::NotSent));
        let closed = OtpChallenge {
            closed_at: Some(now),
            ..c
        };
        assert_eq!(
            check_open(Some(&closed), now, &LIMITS),
            Err(OtpRefusal::NotSent)
        );
    }

    #[test]
    fn at_most_five_sends_per_fifteen_minutes() {
        let now = DateTime::UNIX_EPOCH + TimeDelta::hours(1);
        let sends: Vec<_> = (0..5).map(|i| now - TimeDelta::minutes(i * 3)).collect();
        assert_eq!(check_send_allowed(&sends[..4], now, &LIMITS), Ok(()));
        // The oldest send (12 minutes ago) leaves the window in 3 minutes.
        assert_eq!(
            check_send_allowed(&sends, now, &LIMITS),
            Err(OtpRefusal::SendLimit {
                retry_after_seconds: 180
            })
        );
        assert_eq!(
            check_send_allowed(&sends, now + TimeDelta::minutes(4), &LIMITS),
            Ok(()),
            "the oldest left the window"
        );
        let fewer = OtpLimits {
            max_sends: 2,
            ..LIMITS
        };
        // Two sends fit: the second newest (3 minutes ago) must leave first.
        assert_eq!(
            check_send_allowed(&sends, now, &fewer),
            Err(OtpRefusal::SendLimit {
                retry_after_seconds: 720
            })
        );
    }

    #[test]
    fn codes_are_six_digits_with_leading_zeros() {
        assert_eq!(generate_code(|| 42), "000042");
        let mut values = [u32::MAX, 4_294_000_000, 1_999_999].into_iter();
        assert_eq!(
            generate_code(|| values.next().unwrap_or(0)),
            "999999",
            "out-of-range draws are rejected"
        );
    }

    proptest! {
        #[test]
        fn every_code_is_six_ascii_digits(seed in any::<u32>()) {
            let code = generate_code(|| seed % 4_294_000_000);
            prop_assert_eq!(code.len(), 6);
            prop_assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
