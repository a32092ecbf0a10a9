//! Re-registration of migrated accounts: the single-use link each one is mailed, and
//! the migration state an operator follows (imported → invited → registered, or
//! expired when the last link ran out unused).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::account::AccountId;

/// Scenario A: two weeks to follow the link.
pub const DEFAULT_LINK_TTL: TimeDelta = TimeDelta::days(14);

/// A registration link as stored: only the keyed hash of its 256-bit token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationToken {
    pub token_hash: String,
    pub account_id: AccountId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    /// Set when a newer link replaced this one.
    pub voided_at: Option<DateTime<Utc>>,
}

/// What the registration UI is told about a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    Valid,
    /// Out of time, or replaced by a newer link: the UI offers a resend.
    Expired,
    /// Registration was completed with it.
    Used,
}

impl RegistrationToken {
    pub fn issue(
        token_hash: String,
        account_id: AccountId,
        now: DateTime<Utc>,
        ttl: TimeDelta,
    ) -> Self {
        Self {
            token_hash,
            account_id,
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
            voided_at: None,
        }
    }

    pub fn status(&self, now: DateTime<Utc>) -> LinkStatus {
        if self.used_at.is_some() {
            LinkStatus::Used
        } else if self.voided_at.is_some() || now >= self.expires_at {
            LinkStatus::Expired
        } else {
            LinkStatus::Valid
        }
    }
}

/// Where a migrated account stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    /// In the database, never mailed.
    Imported,
    /// Mailed a link that is still valid.
    Invited,
    /// Registration completed.
    Registered,
    /// Mailed, but the last link ran out unused: remind them.
    Expired,
}

impl MigrationState {
    pub const ALL: [Self; 4] = [
        Self::Imported,
        Self::Invited,
        Self::Registered,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Imported => "imported",
            Self::Invited => "invited",
            Self::Registered => "registered",
            Self::Expired => "expired",
        }
    }
}

impl std::str::FromStr for MigrationState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown migration state {s:?}"))
    }
}

/// The migration record of one imported account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountMigration {
    pub account_id: AccountId,
    /// Stored state; `Expired` is derived from `link_expires_at`, see [`Self::state`].
    pub stored_state: MigrationState,
    /// Digest of the imported row: an unchanged row is recognised on a second run.
    pub fingerprint: String,
    pub imported_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_invited_at: Option<DateTime<Utc>>,
    pub last_invited_at: Option<DateTime<Utc>>,
    pub invitations_sent: u32,
    pub link_expires_at: Option<DateTime<Utc>>,
    pub registered_at: Option<DateTime<Utc>>,
}

impl AccountMigration {
    pub fn imported(account_id: AccountId, fingerprint: String, now: DateTime<Utc>) -> Self {
        Self {
            account_id,
            stored_state: MigrationState::Imported,
            fingerprint,
            imported_at: now,
            updated_at: now,
            first_invited_at: None,
            last_invited_at: None,
            invitations_sent: 0,
            link_expires_at: None,
            registered_at: None,
        }
    }

    pub fn state(&self, now: DateTime<Utc>) -> MigrationState {
        match (self.stored_state, self.link_expires_at) {
            (MigrationState::Invited, Some(expiry)) if now >= expiry => MigrationState::Expired,
            (state, _) => state,
        }
    }

    /// A link was mailed (a first invitation, a reminder or a resend).
    pub fn invited(&mut self, now: DateTime<Utc>, link_expires_at: DateTime<Utc>) {
        self.stored_state = MigrationState::Invited;
        self.first_invited_at.get_or_insert(now);
        self.last_invited_at = Some(now);
        self.invitations_sent = self.invitations_sent.saturating_add(1);
        self.link_expires_at = Some(link_expires_at);
        self.updated_at = now;
    }

    pub fn registered(&mut self, now: DateTime<Utc>) {
        self.stored_state = MigrationState::Registered;
        self.registered_at = Some(now);
        self.updated_at = now;
    }
}

/// Age buckets of the status report, by the time since the state's last change.
pub const AGE_BUCKETS: [(&str, TimeDelta); 4] = [
    ("under_1d", TimeDelta::days(1)),
    ("1d_to_7d", TimeDelta::days(7)),
    ("7d_to_30d", TimeDelta::days(30)),
    ("over_30d", TimeDelta::MAX),
];

/// The bucket label for something that changed `age` ago.
pub fn age_bucket(age: TimeDelta) -> &'static str {
    AGE_BUCKETS
        .iter()
        .find(|(_, limit)| age < *limit)
        .map_or("over_30d", |(label, _)| label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn a_link_is_valid_until_it_expires_is_used_or_is_replaced() {
        let mut token =
            RegistrationToken::issue("h".into(), AccountId::new(), at(0), TimeDelta::seconds(10));
        assert_eq!(token.status(at(9)), LinkStatus::Valid);
        assert_eq!(token.status(at(10)), LinkStatus::Expired);
        token.voided_at = Some(at(1));
        assert_eq!(token.status(at(2)), LinkStatus::Expired);
        token.used_at = Some(at(1));
        assert_eq!(token.status(at(20)), LinkStatus::Used);
    }

    #[test]
    fn an_invitation_expires_with_its_link_and_counts_every_send() {
        let mut m = AccountMigration::imported(AccountId::new(), "f".into(), at(0));
        assert_eq!(m.state(at(0)), MigrationState::Imported);
        m.invited(at(1), at(100));
        m.invited(at(50), at(150));
        assert_eq!(m.invitations_sent, 2);
        assert_eq!(m.first_invited_at, Some(at(1)));
        assert_eq!(m.last_invited_at, Some(at(50)));
        assert_eq!(m.state(at(149)), MigrationState::Invited);
        assert_eq!(m.state(at(150)), MigrationState::Expired);
        m.registered(at(151));
        assert_eq!(m.state(at(1_000)), MigrationState::Registered);
    }

    #[test]
    fn ages_fall_into_buckets() {
        assert_eq!(age_bucket(TimeDelta::hours(23)), "under_1d");
        assert_eq!(age_bucket(TimeDelta::days(1)), "1d_to_7d");
        assert_eq!(age_bucket(TimeDelta::days(29)), "7d_to_30d");
        assert_eq!(age_bucket(TimeDelta::days(400)), "over_30d");
    }
}
