//! A login in progress: the validated authorization request, bound to the browser
//! that made it, and what the user has proven so far.

use chrono::{DateTime, TimeDelta, Utc};

use crate::account::{Account, AccountId, AccountStatus};
use crate::authorization::AuthorizationRequest;
use crate::grant::{Session, amr_with_mfa};
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

    /// The login passed its last factor with `methods`, at `acr`: the session it
    /// signs the browser in with. Its `amr` is every method proven, once each, with
    /// `mfa` when there were two or more; the login keeps the same list.
    pub fn sign_in(
        &mut self,
        account: AccountId,
        methods: &[&str],
        acr: &str,
        browser: Browser,
        now: DateTime<Utc>,
    ) -> Session {
        let mut proven = std::mem::take(&mut self.amr);
        proven.extend(methods.iter().map(|m| (*m).to_owned()));
        self.amr = amr_with_mfa(&proven);
        Session {
            id: browser.session_id,
            account_id: account,
            token_hash: browser.token_hash,
            amr: self.amr.clone(),
            acr: acr.to_owned(),
            auth_time: now,
            created_at: now,
            last_seen_at: now,
            expires_at: now + browser.session_lifetime,
            revoked_at: None,
            user_agent: browser.user_agent,
            ip: browser.ip,
        }
    }

    /// The code is issued now: the login is over.
    pub fn complete(&mut self, now: DateTime<Utc>) {
        self.completed_at = Some(now);
    }

    /// The user must consent first: the login waits, holding the session the code
    /// will be issued for.
    pub fn await_consent(&mut self, session: &Session) {
        self.session_id = Some(session.id.clone());
    }
}

/// The browser a login signs in: its new session's id and cookie hash, where it
/// came from, and how long the session lasts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Browser {
    pub session_id: String,
    pub token_hash: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub session_lifetime: TimeDelta,
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

    fn login(amr: &[&str]) -> LoginRequest {
        let at = chrono::DateTime::UNIX_EPOCH;
        LoginRequest {
            id: "login".to_owned(),
            request: AuthorizationRequest {
                client_id: "app".to_owned(),
                redirect_uri: "https://app.example/cb".to_owned(),
                scopes: vec!["openid".to_owned()],
                state: None,
                nonce: None,
                code_challenge: "x".repeat(43),
                prompt: crate::authorization::Prompt::default(),
                max_age: None,
                acr_values: Vec::new(),
                login_hint: None,
                ui_locales: None,
                claims: None,
            },
            browser_hash: "browser".to_owned(),
            account_id: None,
            amr: amr.iter().map(|m| (*m).to_owned()).collect(),
            session_id: None,
            created_at: at,
            expires_at: at + TimeDelta::minutes(10),
            completed_at: None,
        }
    }

    fn browser() -> Browser {
        Browser {
            session_id: "session".to_owned(),
            token_hash: "cookie-hash".to_owned(),
            user_agent: Some("Firefox".to_owned()),
            ip: Some("192.0.2.1".to_owned()),
            session_lifetime: TimeDelta::hours(8),
        }
    }

    #[test]
    fn signing_in_records_each_method_once_and_mfa_after_two() {
        let now = chrono::DateTime::UNIX_EPOCH + TimeDelta::seconds(100);
        let id = account(AccountStatus::Active).id;
        let mut after_password = login(&["pwd"]);
        let session = after_password.sign_in(id, &["otp"], "mfa-acr", browser(), now);
        assert_eq!(session.amr, ["pwd", "otp", "mfa"]);
        assert_eq!(after_password.amr, session.amr);
        assert_eq!(session.account_id, id);
        assert_eq!((session.auth_time, session.created_at), (now, now));
        assert_eq!(session.expires_at, now + TimeDelta::hours(8));
        assert_eq!(session.acr, "mfa-acr");
        assert_eq!(session.ip.as_deref(), Some("192.0.2.1"));

        // A method proven twice counts once; one proof alone is not `mfa`.
        let mut again = login(&["pwd", "otp"]);
        let session = again.sign_in(id, &["otp"], "acr", browser(), now);
        assert_eq!(session.amr, ["pwd", "otp", "mfa"]);
        let mut single = login(&[]);
        assert_eq!(
            single.sign_in(id, &["hwk"], "acr", browser(), now).amr,
            ["hwk"]
        );
    }

    #[test]
    fn a_login_ends_with_its_code_or_waits_for_consent_with_its_session() {
        let now = chrono::DateTime::UNIX_EPOCH;
        let mut waiting = login(&["pwd"]);
        let session = waiting.sign_in(
            account(AccountStatus::Active).id,
            &["otp"],
            "a",
            browser(),
            now,
        );
        waiting.await_consent(&session);
        assert_eq!(waiting.session_id.as_deref(), Some("session"));
        assert_eq!(waiting.completed_at, None);
        waiting.complete(now);
        assert_eq!(waiting.completed_at, Some(now));
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
