//! Push approval: a phone registered with an enrolment ticket answers login
//! challenges with requests signed by its own key. Number matching guards against
//! push fatigue: the login screen shows a two-digit number and the phone must pick it
//! among three candidates, so approving blindly is no longer one tap.
//!
//! The device's id is the id of its factor row: one device per push factor.

use chrono::{DateTime, TimeDelta, Utc};

use crate::{AccountId, FactorId};

/// How long an enrolment ticket may be used, unless configured otherwise.
pub const TICKET_TTL_SECONDS: u32 = 600;
/// How long a login challenge waits for the phone, unless configured otherwise.
pub const CHALLENGE_TTL_SECONDS: u32 = 120;
/// The longest lifetime a device-signed request may claim.
pub const MAX_REQUEST_LIFETIME: TimeDelta = TimeDelta::minutes(2);
/// Numbers the phone chooses among.
pub const CANDIDATES: usize = 3;
/// Pushes one factor may receive per window: a stolen password cannot flood the phone
/// until its owner taps "approve" to make it stop.
pub const MAX_PUSHES: u32 = 10;
/// The window of the push count.
pub const ACCOUNT_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// A push device: created with its ticket when enrolment starts, registered when the
/// phone presents the ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushDevice {
    pub factor_id: FactorId,
    pub account_id: AccountId,
    /// A keyed hash of the single-use enrolment ticket.
    pub ticket_hash: String,
    pub ticket_expires_at: DateTime<Utc>,
    /// The device's ES256 public key as a JWK (JSON text); `None` until registered.
    pub public_jwk: Option<String>,
    /// What the push gateway needs to reach the phone (APNs/FCM token); optional.
    pub push_token: Option<String>,
    pub name: Option<String>,
    pub registered_at: Option<DateTime<Utc>>,
}

/// Where a challenge stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushStatus {
    /// Waiting for the phone.
    Pending,
    /// The phone approved with the right number; the login may finish.
    Approved,
    /// The phone said no.
    Denied,
    /// The phone picked a wrong number.
    Failed,
    /// An approval that finished a login: never again.
    Used,
}

impl PushStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Failed => "failed",
            Self::Used => "used",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Approved,
            Self::Denied,
            Self::Failed,
            Self::Used,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One login waiting for a phone's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushChallenge {
    /// Random, unguessable: the phone names the challenge it answers by it.
    pub id: String,
    pub factor_id: FactorId,
    pub account_id: AccountId,
    pub login_request_id: String,
    /// The client the login is for (shown on the phone).
    pub client_id: String,
    /// The number the login screen shows.
    pub number: u8,
    /// What the phone offers: `number` and two others, shuffled.
    pub candidates: Vec<u8>,
    pub status: PushStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

impl PushChallenge {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}

/// What a notifier tells the push gateway: which phone to wake, and which challenge
/// is waiting. Never the number: the phone reads the candidates through its own
/// signed request, so the gateway cannot answer for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushNotice {
    pub device_id: FactorId,
    pub push_token: Option<String>,
    pub challenge_id: String,
    pub client_id: String,
    pub expires_at: DateTime<Utc>,
}

/// The notifier port: hands a notice to whatever delivers it (a webhook to an
/// APNs/FCM relay, a log line). Must not block: delivery happens off the request.
pub trait PushNotifier: Send + Sync + std::fmt::Debug {
    fn notify(&self, notice: PushNotice);
}

/// The number to show (10–99) and the three candidates, from random bytes: distinct
/// two-digit numbers, the right one at a random place.
pub fn numbers(random: [u8; 8]) -> (u8, Vec<u8>) {
    let two_digits = |b: u8| 10 + b % 90;
    let number = two_digits(random[0]);
    let mut candidates = vec![number];
    let mut next = 1;
    let mut bump = 0u8;
    while candidates.len() < CANDIDATES {
        let byte = random.get(next).copied().unwrap_or(0).wrapping_add(bump);
        next += 1;
        if next >= random.len() {
            // Ran out of fresh bytes: walk on from the last one.
            next = 1;
            bump = bump.wrapping_add(37);
        }
        let candidate = two_digits(byte);
        if !candidates.contains(&candidate) {
            candidates.push(candidate);
        }
    }
    let place = usize::from(random[7]) % CANDIDATES;
    candidates.swap(0, place);
    (number, candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_distinct_two_digit_numbers_with_the_right_one() {
        for seed in 0u8..=255 {
            let bytes = [seed, seed, seed, seed, seed, seed, seed, seed];
            let (number, candidates) = numbers(bytes);
            assert!((10..=99).contains(&number));
            assert_eq!(candidates.len(), CANDIDATES);
            assert!(candidates.contains(&number));
            let mut sorted = candidates.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), CANDIDATES, "{candidates:?}");
            assert!(candidates.iter().all(|c| (10..=99).contains(c)));
        }
    }

    #[test]
    fn the_right_number_moves() {
        let places: std::collections::HashSet<_> = (0u8..3)
            .map(|p| {
                let (n, c) = numbers([1, 2, 3, 4, 5, 6, 7, p]);
                c.iter().position(|x| *x == n)
            })
            .collect();
        assert_eq!(places.len(), 3);
    }

    #[test]
    fn statuses_round_trip() {
        for s in ["pending", "approved", "denied", "failed", "used"] {
            assert_eq!(PushStatus::parse(s).map(PushStatus::as_str), Some(s));
        }
        assert_eq!(PushStatus::parse("nope"), None);
    }
}
