//! A login in progress: the validated authorization request, bound to the browser
//! that made it, and what the user has proven so far.

use chrono::{DateTime, TimeDelta, Utc};

use crate::account::AccountId;
use crate::authorization::AuthorizationRequest;

/// Password attempts per account per fixed window (an identifier that names no
/// account is counted alike, so a refusal tells nothing): each is counted before the
/// password is checked, a right one starts the count again, and the attempt after
/// the last is refused unchecked until the window ends.
pub const MAX_PASSWORD_ATTEMPTS: u32 = 10;
pub const PASSWORD_WINDOW: TimeDelta = TimeDelta::minutes(15);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginRequest {
    /// The `login_challenge` the UI carries: random, unguessable.
    pub id: String,
    pub request: AuthorizationRequest,
    /// Keyed hash of the browser-binding cookie: only that browser may continue.
    pub browser_hash: String,
    /// Set once the password step succeeded.
    pub account_id: Option<AccountId>,
    /// RFC 8176 methods proven so far (`pwd`, `otp`, …).
    pub amr: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl LoginRequest {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}
