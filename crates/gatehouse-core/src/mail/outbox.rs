//! The outbox: every mail is a row, written in the same transaction as the change
//! that needs it, and delivered later by a worker that leases it.
//!
//! ```text
//! queued ──lease──▶ leased ──sent──▶ sent (body erased; metadata kept, then purged)
//!   ▲                  │  └─permanent refusal──▶ failed (body erased)
//!   └──retry later─────┘  (attempts + 1, next_attempt_at = now + backoff)
//! ```
//! A lease that expires (its worker died mid-send) makes the mail due again.

use chrono::{DateTime, TimeDelta, Utc};
use std::fmt;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailId(pub Uuid);

impl MailId {
    /// Time-ordered (v7), so ids sort by creation.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for MailId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for MailId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One outbox row. The body is opaque here: the provider seals it before it is
/// stored and opens it to send; the store never sees it in the clear.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: MailId,
    pub recipient: String,
    pub subject: String,
    /// The sealed body; `None` once the mail is sent or given up.
    pub sealed_body: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    /// Delivery attempts made so far, the successful one included.
    pub attempts: u32,
    /// Not tried before this instant.
    pub next_attempt_at: DateTime<Utc>,
    /// The worker holding the mail, until `lease_until`.
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Given up on: the mail server refused the mail for good.
    pub failed_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    /// Past this instant the mail is not sent (what it carries has expired): it is
    /// marked failed, `expired`, instead.
    pub expires_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for OutboxMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxMail")
            .field("id", &self.id)
            .field("recipient", &self.recipient)
            .field("subject", &self.subject)
            .field("sealed_body", &self.sealed_body.as_ref().map(Vec::len))
            .field("created_at", &self.created_at)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("lease_owner", &self.lease_owner)
            .field("lease_until", &self.lease_until)
            .field("sent_at", &self.sent_at)
            .field("failed_at", &self.failed_at)
            .field("last_error", &self.last_error)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl OutboxMail {
    /// A mail due at `due` (not before `now`), never tried: invitations sent at a
    /// chosen rate are spread out this way.
    pub fn queued_for(
        id: MailId,
        recipient: String,
        subject: String,
        sealed_body: Vec<u8>,
        now: DateTime<Utc>,
        due: DateTime<Utc>,
    ) -> Self {
        let mut mail = Self::queued(id, recipient, subject, sealed_body, now);
        mail.next_attempt_at = due.max(now);
        mail
    }

    /// A mail due at once, never tried.
    pub fn queued(
        id: MailId,
        recipient: String,
        subject: String,
        sealed_body: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            recipient,
            subject,
            sealed_body: Some(sealed_body),
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
            lease_owner: None,
            lease_until: None,
            sent_at: None,
            failed_at: None,
            last_error: None,
            expires_at: None,
        }
    }

    /// Whether what the mail carries has expired at `now`: it must not be sent.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Neither sent nor given up.
    pub fn is_pending(&self) -> bool {
        self.sent_at.is_none() && self.failed_at.is_none()
    }

    /// The part of the recipient after `@`: what logs may show of it.
    pub fn recipient_domain(&self) -> &str {
        self.recipient
            .rsplit_once('@')
            .map_or("", |(_, domain)| domain)
    }
}

/// Exponential backoff with a cap: the n-th failed attempt waits `base · 2^(n-1)`, at
/// most `cap`, shortened by up to a quarter at random so that mails failing together
/// do not come back together. The jitter comes in as a parameter: this stays pure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: TimeDelta,
    pub cap: TimeDelta,
}

impl Backoff {
    /// The wait after `failed_attempts` (1 for the first failure) failures, with
    /// `jitter` in `[0, 1]` (out-of-range values are clamped). Always positive, never
    /// above the cap, and until the cap strictly longer than the wait before it,
    /// whatever the jitter.
    pub fn delay(&self, failed_attempts: u32, jitter: f64) -> TimeDelta {
        let base = self.base.num_milliseconds().max(1);
        let cap = self.cap.num_milliseconds().max(base);
        let doublings = failed_attempts.saturating_sub(1).min(40);
        let nominal = base.saturating_mul(1_i64 << doublings).min(cap);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // At most a quarter off: 0.75·2d > d, so growth survives the jitter.
        let shortened = (nominal as f64 * (1.0 - 0.25 * jitter)).round() as i64;
        TimeDelta::milliseconds(shortened.clamp(1, cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn backoff() -> Backoff {
        Backoff {
            base: TimeDelta::seconds(30),
            cap: TimeDelta::hours(1),
        }
    }

    #[test]
    fn backoff_doubles_until_the_cap() {
        let b = backoff();
        let waits: Vec<i64> = (1..=9).map(|n| b.delay(n, 0.0).num_seconds()).collect();
        assert_eq!(waits, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(b.delay(0, 0.0), TimeDelta::seconds(30));
        assert_eq!(b.delay(u32::MAX, 0.0), TimeDelta::hours(1));
        assert_eq!(b.delay(1, 1.0), TimeDelta::milliseconds(22_500));
        assert_eq!(b.delay(1, f64::NAN), TimeDelta::seconds(30));
        assert_eq!(b.delay(1, 7.0), TimeDelta::milliseconds(22_500));
    }

    #[test]
    fn the_recipient_domain_is_what_follows_the_last_at() {
        let mut mail = OutboxMail::queued(
            MailId::new(),
            "\"a@b\"@example.com".to_owned(),
            "s".to_owned(),
            vec![1],
            DateTime::UNIX_EPOCH,
        );
        assert_eq!(mail.recipient_domain(), "example.com");
        assert!(mail.is_pending());
        mail.recipient = "nobody".to_owned();
        assert_eq!(mail.recipient_domain(), "");
        mail.sent_at = Some(DateTime::UNIX_EPOCH);
        assert!(!mail.is_pending());
        assert!(
            !format!("{mail:?}").contains("[1]"),
            "no body bytes in Debug"
        );
    }

    proptest! {
        #[test]
        fn backoff_grows_until_the_cap_whatever_the_jitter(
            n in 1u32..40,
            j1 in 0.0f64..=1.0,
            j2 in 0.0f64..=1.0,
        ) {
            let b = backoff();
            let this = b.delay(n, j1);
            let next = b.delay(n + 1, j2);
            prop_assert!(this > TimeDelta::zero());
            prop_assert!(this <= b.cap && next <= b.cap);
            if b.delay(n + 1, 0.0) < b.cap {
                prop_assert!(next > this, "{n}: {this} then {next}");
            }
        }
    }
}
