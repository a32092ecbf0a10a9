//! Changing the account's e-mail address: a code goes to the new address, the switch
//! happens only when it comes back, and the old address gets a single-use link that
//! undoes the change for 72 hours. Codes and links are stored as keyed hashes.

use chrono::{DateTime, TimeDelta, Utc};

use crate::account::AccountId;

/// How long the confirmation code mailed to the new address works.
pub const CODE_TTL: TimeDelta = TimeDelta::minutes(30);
/// Wrong codes allowed per change before it must be asked again.
pub const MAX_TRIES: u32 = 5;
/// How long the old address may undo the change.
pub const UNDO_TTL: TimeDelta = TimeDelta::hours(72);

/// A change waiting for the code sent to the new address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailChange {
    pub id: String,
    pub account_id: AccountId,
    /// The address asked for, as typed.
    pub new_email: String,
    /// Keyed hash of the code. When the address belongs to another account no code
    /// is mailed and this hash matches nothing: the change can never complete.
    pub code_hash: String,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Confirmed, replaced by a newer request, or given up.
    pub closed_at: Option<DateTime<Utc>>,
}

/// Why a change takes no more codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Confirmed, replaced or given up.
    Closed,
    Expired,
    /// `MAX_TRIES` wrong codes.
    Exhausted,
}

impl EmailChange {
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.takes_code(now).is_ok()
    }

    /// Whether a code may still be checked against this change at `now`.
    pub fn takes_code(&self, now: DateTime<Utc>) -> Result<(), CodeRefusal> {
        if self.closed_at.is_some() {
            Err(CodeRefusal::Closed)
        } else if now >= self.expires_at {
            Err(CodeRefusal::Expired)
        } else if self.attempts >= MAX_TRIES {
            Err(CodeRefusal::Exhausted)
        } else {
            Ok(())
        }
    }

    /// Counts a wrong code; the tries left.
    pub fn wrong_code(&mut self) -> u32 {
        self.attempts += 1;
        MAX_TRIES.saturating_sub(self.attempts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(at: DateTime<Utc>) -> EmailChange {
        EmailChange {
            id: "c".to_owned(),
            account_id: AccountId::new(),
            new_email: "new@example.com".to_owned(),
            code_hash: "h".to_owned(),
            attempts: 0,
            created_at: at,
            expires_at: at + CODE_TTL,
            closed_at: None,
        }
    }

    #[test]
    fn a_change_takes_codes_until_it_expires_closes_or_runs_out_of_tries() {
        let at = DateTime::UNIX_EPOCH;
        let mut open = change(at);
        assert_eq!(
            open.takes_code(at + CODE_TTL - TimeDelta::seconds(1)),
            Ok(())
        );
        assert_eq!(open.takes_code(at + CODE_TTL), Err(CodeRefusal::Expired));
        let left: Vec<u32> = (0..MAX_TRIES).map(|_| open.wrong_code()).collect();
        assert_eq!(left, [4, 3, 2, 1, 0]);
        assert_eq!(open.takes_code(at), Err(CodeRefusal::Exhausted));
        let mut closed = change(at);
        closed.closed_at = Some(at);
        assert_eq!(closed.takes_code(at), Err(CodeRefusal::Closed));
        assert!(!closed.is_open(at));
    }
}

/// The link mailed to the old address after a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailUndo {
    pub token_hash: String,
    pub account_id: AccountId,
    pub old_email: String,
    pub old_email_verified: bool,
    pub new_email: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}
