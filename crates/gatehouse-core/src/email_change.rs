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

impl EmailChange {
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.closed_at.is_none() && now < self.expires_at && self.attempts < MAX_TRIES
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
