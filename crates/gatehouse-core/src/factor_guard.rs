//! Guards on proving a factor: a short code (six TOTP digits, a recovery code) is
//! guessable, so wrong proofs are throttled per factor, and a TOTP time step that was
//! accepted once is never accepted again (RFC 6238 §5.2).
//!
//! An attempt is counted *before* the proof is checked, so concurrent guesses cannot
//! slip past the limit; a correct proof clears the count.

use chrono::{DateTime, TimeDelta, Utc};

/// Proofs per factor per window; the next one is refused unchecked.
pub const MAX_ATTEMPTS: u32 = 5;
/// The window opens at the first attempt after the last one closed or was cleared.
pub const ATTEMPT_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// Wrong proofs per account per fixed window, over all its factors: guesses spread
/// over several factors (a second phone, TOTP and recovery codes) stay limited.
pub const MAX_ACCOUNT_WRONG_PROOFS: u32 = 8;
pub const ACCOUNT_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// The start of the fixed window of `length` that holds `now` (windows are aligned
/// to the Unix epoch, so every instance agrees on them).
pub fn window_start(now: DateTime<Utc>, length: TimeDelta) -> DateTime<Utc> {
    let len = length.num_milliseconds().max(1);
    let start = now.timestamp_millis() - now.timestamp_millis().rem_euclid(len);
    DateTime::from_timestamp_millis(start).unwrap_or(now)
}

/// The counted attempts of one factor, as the store reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempts {
    /// Attempts in the current window, the one just taken included.
    pub count: u32,
    pub window_started_at: DateTime<Utc>,
}

/// What to do with the attempt just counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptVerdict {
    /// Check the proof; when it is wrong, `left_if_wrong` attempts remain.
    Check { left_if_wrong: u32 },
    /// Too many: refuse without checking, for `retry_after`.
    Throttled { retry_after: TimeDelta },
}

pub fn judge(attempts: Attempts, now: DateTime<Utc>) -> AttemptVerdict {
    if attempts.count > MAX_ATTEMPTS {
        let retry_after =
            (attempts.window_started_at + ATTEMPT_WINDOW - now).max(TimeDelta::seconds(1));
        AttemptVerdict::Throttled { retry_after }
    } else {
        AttemptVerdict::Check {
            left_if_wrong: MAX_ATTEMPTS - attempts.count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_attempts_are_checked_the_sixth_is_throttled() {
        let start = DateTime::UNIX_EPOCH;
        let now = start + TimeDelta::minutes(5);
        let verdicts: Vec<_> = (1..=6)
            .map(|count| {
                judge(
                    Attempts {
                        count,
                        window_started_at: start,
                    },
                    now,
                )
            })
            .collect();
        assert_eq!(verdicts[0], AttemptVerdict::Check { left_if_wrong: 4 });
        assert_eq!(verdicts[4], AttemptVerdict::Check { left_if_wrong: 0 });
        assert_eq!(
            verdicts[5],
            AttemptVerdict::Throttled {
                retry_after: TimeDelta::minutes(10)
            }
        );
    }
}
