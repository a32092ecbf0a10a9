//! OpenID Connect Back-Channel Logout 1.0: the notices that tell a client one of its
//! users' sessions has ended. A notice is queued in the transaction that ends the
//! session; a worker turns it into a logout token when it sends it.

use chrono::{DateTime, TimeDelta, Utc};

/// The `events` member of a logout token (Back-Channel Logout 1.0 §2.4).
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A session's end, to be told to one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutNotice {
    pub id: String,
    pub client_id: String,
    /// The account's `sub`, kept here: an erased account's sessions are gone.
    pub subject: String,
    /// The `sid` of the ID tokens issued under the session.
    pub session_id: String,
    pub created_at: DateTime<Utc>,
    /// Delivery attempts so far.
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
}

/// When to stop trying: a notice is given up once this old (the RP may have been
/// away a long time; its session for the user has likely ended by itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryPolicy {
    pub give_up_after: TimeDelta,
}

impl LogoutNotice {
    /// Whether an attempt at `at` is still within the policy's bound.
    pub fn retry_allowed(&self, policy: DeliveryPolicy, at: DateTime<Utc>) -> bool {
        at < self.created_at + policy.give_up_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_stop_once_the_notice_is_too_old() {
        let notice = LogoutNotice {
            id: "n".to_owned(),
            client_id: "c".to_owned(),
            subject: "s".to_owned(),
            session_id: "sid".to_owned(),
            created_at: DateTime::UNIX_EPOCH,
            attempts: 3,
            next_attempt_at: DateTime::UNIX_EPOCH,
        };
        let policy = DeliveryPolicy {
            give_up_after: TimeDelta::hours(1),
        };
        assert!(notice.retry_allowed(policy, DateTime::UNIX_EPOCH + TimeDelta::minutes(59)));
        assert!(!notice.retry_allowed(policy, DateTime::UNIX_EPOCH + TimeDelta::hours(1)));
    }
}
