//! A login in progress: the validated authorization request, bound to the browser
//! that made it, and what the user has proven so far.

use chrono::{DateTime, Utc};

use crate::account::AccountId;
use crate::authorization::AuthorizationRequest;

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
    /// Set once the user is signed in and only consent is missing: the session the
    /// code will be issued for.
    pub session_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl LoginRequest {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}
