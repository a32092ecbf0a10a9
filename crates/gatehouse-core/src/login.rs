//! A login in progress: the validated authorization request, bound to the browser
//! that made it, and what the user has proven so far.

use chrono::{DateTime, Utc};

use crate::account::{Account, AccountId, AccountStatus};
use crate::authorization::AuthorizationRequest;
use crate::password::Verification;

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

/// What the password step decides once the password was checked (against a dummy
/// hash when the identifier names no account, so both cost the same).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordOutcome {
    /// The right password of an active account: on to the second factor.
    Accepted {
        account: Box<Account>,
        needs_rehash: bool,
    },
    /// A wrong password for an account: it counts against the account (and may
    /// alert its owner).
    Wrong(Box<Account>),
    /// No account by this identifier: answered as a wrong password.
    Unknown,
    /// The right password of a locked or disabled account: refused as such, and the
    /// owner's security events show it (only now, so the status tells a guesser
    /// nothing).
    Blocked(Box<Account>),
    /// The account has not re-registered: answered as a wrong password.
    NotRegistered,
}

impl PasswordOutcome {
    pub fn of(account: Option<Account>, verification: Verification) -> Self {
        match (account, verification) {
            (None, _) => Self::Unknown,
            (Some(account), Verification::Mismatch) => Self::Wrong(Box::new(account)),
            (Some(account), Verification::Match { needs_rehash }) => match account.status {
                AccountStatus::Active => Self::Accepted {
                    account: Box::new(account),
                    needs_rehash,
                },
                AccountStatus::Locked | AccountStatus::Disabled => Self::Blocked(Box::new(account)),
                AccountStatus::PendingRegistration => Self::NotRegistered,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Subject;

    fn account(status: AccountStatus) -> Account {
        Account::new(
            Subject::parse("legacy-1").expect("subject"),
            None,
            status,
            chrono::DateTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn only_an_active_account_with_the_right_password_goes_on() {
        let right = Verification::Match { needs_rehash: true };
        let active = account(AccountStatus::Active);
        assert_eq!(
            PasswordOutcome::of(Some(active.clone()), right),
            PasswordOutcome::Accepted {
                account: Box::new(active),
                needs_rehash: true
            }
        );
        for status in [AccountStatus::Locked, AccountStatus::Disabled] {
            let blocked = account(status);
            assert_eq!(
                PasswordOutcome::of(Some(blocked.clone()), right),
                PasswordOutcome::Blocked(Box::new(blocked))
            );
        }
        assert_eq!(
            PasswordOutcome::of(Some(account(AccountStatus::PendingRegistration)), right),
            PasswordOutcome::NotRegistered
        );
    }

    #[test]
    fn a_wrong_password_says_nothing_of_the_accounts_status() {
        for status in [
            AccountStatus::Active,
            AccountStatus::Locked,
            AccountStatus::Disabled,
            AccountStatus::PendingRegistration,
        ] {
            let named = account(status);
            assert_eq!(
                PasswordOutcome::of(Some(named.clone()), Verification::Mismatch),
                PasswordOutcome::Wrong(Box::new(named))
            );
        }
        for verification in [
            Verification::Mismatch,
            Verification::Match {
                needs_rehash: false,
            },
        ] {
            assert_eq!(
                PasswordOutcome::of(None, verification),
                PasswordOutcome::Unknown
            );
        }
    }
}
