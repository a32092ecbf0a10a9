//! Accounts and their lifecycle.
//!
//! ```text
//! pending_registration ──complete_registration──▶ active ──lock──▶ locked
//!          │                                        ▲  ◀──unlock──┘
//!          └──────────────── disable ──▶ disabled ──┘ enable (back to pending
//!                                                     if no password was ever set)
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

use crate::email::Email;
use crate::username::LegacyUsername;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccountId(pub Uuid);

impl AccountId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for AccountId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The OIDC `sub`: stable forever, kept from the old system on migration so the
/// relying parties' records stay linked to the same person.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subject(String);

/// OIDC Core §2: `sub` "MUST NOT exceed 255 ASCII characters in length".
pub const MAX_SUBJECT_LENGTH: usize = 255;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a subject must be 1 to 255 printable ASCII characters")]
pub struct InvalidSubject;

impl Subject {
    pub fn parse(raw: &str) -> Result<Self, InvalidSubject> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_SUBJECT_LENGTH
            && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidSubject)
        }
    }

    /// A fresh subject for an account created here rather than migrated.
    pub fn generate() -> Self {
        Self(Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Subject {
    type Error = InvalidSubject;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Subject> for String {
    fn from(value: Subject) -> Self {
        value.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Imported from an old system; must set a password through the registration link.
    PendingRegistration,
    Active,
    /// Locked after repeated failures; an operator (or time) unlocks it.
    Locked,
    /// Switched off by an operator.
    Disabled,
}

/// The moves between statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    CompleteRegistration,
    Lock,
    Unlock,
    Disable,
    Enable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an account that is {from} cannot {transition:?}")]
pub struct IllegalTransition {
    pub from: AccountStatus,
    pub transition: Transition,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingRegistration => "pending_registration",
            Self::Active => "active",
            Self::Locked => "locked",
            Self::Disabled => "disabled",
        }
    }

    fn refuse(self, transition: Transition) -> Result<Self, IllegalTransition> {
        Err(IllegalTransition {
            from: self,
            transition,
        })
    }

    /// The migrated user has set a password (and a second factor, or "later").
    pub fn complete_registration(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::PendingRegistration => Ok(Self::Active),
            other => other.refuse(Transition::CompleteRegistration),
        }
    }

    pub fn lock(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Active => Ok(Self::Locked),
            other => other.refuse(Transition::Lock),
        }
    }

    pub fn unlock(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Locked => Ok(Self::Active),
            other => other.refuse(Transition::Unlock),
        }
    }

    pub fn disable(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Disabled => self.refuse(Transition::Disable),
            _ => Ok(Self::Disabled),
        }
    }

    /// Re-enabling clears a lock too (the operator has looked at the account); an
    /// account that never set a password goes back to waiting for registration.
    pub fn enable(self, has_password: bool) -> Result<Self, IllegalTransition> {
        match (self, has_password) {
            (Self::Disabled, true) => Ok(Self::Active),
            (Self::Disabled, false) => Ok(Self::PendingRegistration),
            (other, _) => other.refuse(Transition::Enable),
        }
    }

    /// Only an active account may sign in.
    pub fn can_log_in(self) -> bool {
        self == Self::Active
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccountStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::PendingRegistration,
            Self::Active,
            Self::Locked,
            Self::Disabled,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
        .ok_or_else(|| format!("unknown account status {s:?}"))
    }
}

/// A person who can sign in (or will, once registered).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub subject: Subject,
    pub email: Option<Email>,
    pub email_verified: bool,
    /// Kept only while usernames are being retired.
    pub legacy_username: Option<LegacyUsername>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// BCP 47 language tag, e.g. `ja`.
    pub locale: Option<String>,
    /// IANA time zone, e.g. `Etc/UTC`.
    pub zoneinfo: Option<String>,
    pub status: AccountStatus,
    /// argon2id PHC string; `None` until the user sets a password.
    pub password_hash: Option<String>,
    /// The user agreed to product analytics (scenario B's settings toggle).
    pub analytics_consent: bool,
    /// Set when an operator erased the account: the row stays as a tombstone (its id
    /// and `sub` are never reused, its audit trail keeps its shape), personal data goes.
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Account {
    /// Given and family name, as one would write them ("" when neither is known).
    pub fn full_name(&self) -> String {
        [self.given_name.as_deref(), self.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A new account with nothing but its identity; the caller fills in the rest.
    pub fn new(
        subject: Subject,
        email: Option<Email>,
        status: AccountStatus,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: AccountId::new(),
            subject,
            email,
            email_verified: false,
            legacy_username: None,
            given_name: None,
            family_name: None,
            locale: None,
            zoneinfo: None,
            status,
            password_hash: None,
            analytics_consent: false,
            deleted_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Applies a lifecycle move, stamping the change time.
    pub fn apply(
        &mut self,
        now: DateTime<Utc>,
        transition: impl FnOnce(AccountStatus) -> Result<AccountStatus, IllegalTransition>,
    ) -> Result<(), IllegalTransition> {
        self.status = transition(self.status)?;
        self.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::AccountStatus::*;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn registration_activates_a_pending_account_only() {
        assert_eq!(PendingRegistration.complete_registration(), Ok(Active));
        for from in [Active, Locked, Disabled] {
            assert_eq!(
                from.complete_registration(),
                Err(IllegalTransition {
                    from,
                    transition: Transition::CompleteRegistration
                })
            );
        }
    }

    #[test]
    fn lock_and_unlock() {
        assert_eq!(Active.lock(), Ok(Locked));
        assert_eq!(Locked.unlock(), Ok(Active));
        assert!(PendingRegistration.lock().is_err());
        assert!(Disabled.lock().is_err());
        assert!(Locked.lock().is_err());
        assert!(Active.unlock().is_err());
        assert!(Disabled.unlock().is_err());
    }

    #[test]
    fn disable_and_enable() {
        for from in [PendingRegistration, Active, Locked] {
            assert_eq!(from.disable(), Ok(Disabled));
        }
        assert!(Disabled.disable().is_err());
        assert_eq!(Disabled.enable(true), Ok(Active));
        assert_eq!(Disabled.enable(false), Ok(PendingRegistration));
        assert!(Active.enable(true).is_err());
    }

    #[test]
    fn only_active_accounts_log_in() {
        let allowed: Vec<_> = [PendingRegistration, Active, Locked, Disabled]
            .into_iter()
            .filter(|s| s.can_log_in())
            .collect();
        assert_eq!(allowed, vec![Active]);
    }

    #[test]
    fn apply_stamps_the_time_and_leaves_a_refused_account_unchanged() {
        let t0 = DateTime::UNIX_EPOCH;
        let t1 = t0 + chrono::TimeDelta::seconds(5);
        let mut account = Account::new(Subject::generate(), None, PendingRegistration, t0);
        assert!(account.apply(t1, AccountStatus::lock).is_err());
        assert_eq!(
            (account.status, account.updated_at),
            (PendingRegistration, t0)
        );
        assert_eq!(
            account.apply(t1, AccountStatus::complete_registration),
            Ok(())
        );
        assert_eq!((account.status, account.updated_at), (Active, t1));
    }

    #[test]
    fn subjects_are_printable_ascii_up_to_255() {
        assert!(Subject::parse("legacy|12345").is_ok());
        assert!(Subject::parse(&"a".repeat(255)).is_ok());
        assert_eq!(Subject::parse(&"a".repeat(256)), Err(InvalidSubject));
        assert_eq!(Subject::parse(""), Err(InvalidSubject));
        assert_eq!(Subject::parse("has space"), Err(InvalidSubject));
        assert_eq!(Subject::parse("名前"), Err(InvalidSubject));
    }

    fn any_status() -> impl Strategy<Value = AccountStatus> {
        prop_oneof![
            Just(PendingRegistration),
            Just(Active),
            Just(Locked),
            Just(Disabled)
        ]
    }

    fn any_transition() -> impl Strategy<Value = Transition> {
        prop_oneof![
            Just(Transition::CompleteRegistration),
            Just(Transition::Lock),
            Just(Transition::Unlock),
            Just(Transition::Disable),
            Just(Transition::Enable),
        ]
    }

    fn step(
        status: AccountStatus,
        t: Transition,
        has_password: bool,
    ) -> Result<AccountStatus, IllegalTransition> {
        match t {
            Transition::CompleteRegistration => status.complete_registration(),
            Transition::Lock => status.lock(),
            Transition::Unlock => status.unlock(),
            Transition::Disable => status.disable(),
            Transition::Enable => status.enable(has_password),
        }
    }

    proptest! {
        /// Whatever the sequence of other moves, an account that never completes its
        /// registration never becomes active or locked, and every refusal names the
        /// state it came from.
        #[test]
        fn no_path_skips_registration(moves in proptest::collection::vec(any_transition(), 0..20)) {
            let mut status = PendingRegistration;
            for t in moves.into_iter().filter(|t| *t != Transition::CompleteRegistration) {
                match step(status, t, false) {
                    Ok(next) => status = next,
                    Err(e) => prop_assert_eq!(e.from, status),
                }
                prop_assert!(matches!(status, PendingRegistration | Disabled));
            }
        }

        #[test]
        fn status_names_round_trip(status in any_status()) {
            prop_assert_eq!(status.as_str().parse::<AccountStatus>(), Ok(status));
        }
    }
}
