//! Brute-force protection of login passwords, as the README's "Brute-force protection"
//! tells it. Three counts, each in a fixed window of its own (`[brute_force]`):
//! - per account (or, for an identifier that names none, per identifier) and client
//!   address: past its limit only that pair is refused, so a stranger's guesses never
//!   lock the owner out;
//! - per client address, whatever the accounts: password spraying from one address;
//! - per account from anywhere: never refuses, but the owner is mailed once per window.
//!
//! The first two count every attempt before its hash, atomically (attempts sent at
//! once cannot slip past a limit), and take the attempt back when the password was
//! right: what stays counted are failures.

use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::AccountId;
use gatehouse_core::factor_guard::window_start;
use gatehouse_core::ports::{RateLimits, RepositoryError};
use gatehouse_store::Tx;

use super::account::{PASSWORD_ALERT, PASSWORD_LOGIN, throttle_key};
use crate::state::AppState;

/// The count of wrong passwords from one client address.
const PASSWORD_ADDRESS: &str = "password_address";

/// Why an attempt was refused before its password was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Too many wrong passwords for this account from this address.
    AccountAddress { retry_after: i64 },
    /// Too many wrong passwords from this address (spraying).
    Address { retry_after: i64 },
}

impl Refusal {
    pub fn retry_after(self) -> i64 {
        match self {
            Self::AccountAddress { retry_after } | Self::Address { retry_after } => retry_after,
        }
    }

    /// The audit event's `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::AccountAddress { .. } => "password_attempts",
            Self::Address { .. } => "address_attempts",
        }
    }
}

/// The counts one login password meets, named for one subject and client address.
#[derive(Clone, Debug)]
pub struct PasswordGuard {
    pair: String,
    address: String,
    /// The account-wide alert's count; none for an identifier that names no account.
    alert: Option<String>,
    /// When the attempt was counted: a right password takes back its hit in that window.
    admitted_at: DateTime<Utc>,
}

fn window(seconds: u32) -> TimeDelta {
    TimeDelta::seconds(seconds.into())
}

impl PasswordGuard {
    /// `subject` names the account as `throttle_keys` does (or the identifier);
    /// `client` is the client address's throttle bucket (`origin::throttle_bucket`).
    pub fn new(
        state: &AppState,
        subject: &str,
        account: Option<AccountId>,
        client: &str,
        now: DateTime<Utc>,
    ) -> Self {
        let address = throttle_key(state, PASSWORD_ADDRESS, client);
        // Under the account's own key, so an operator's unlock clears every address.
        let pair = format!("{}/{address}", throttle_key(state, PASSWORD_LOGIN, subject));
        Self {
            pair,
            address,
            alert: account.map(|id| throttle_key(state, PASSWORD_ALERT, id)),
            admitted_at: now,
        }
    }

    /// Counts the attempt; a refusal when the pair or the address is over its limit.
    pub fn admit(&self, tx: &Tx<'_>, state: &AppState) -> Result<Option<Refusal>, RepositoryError> {
        let limits = &state.config.brute_force;
        let now = self.admitted_at;
        let over = |key: &str, limit: u32, seconds: u32| -> Result<Option<i64>, RepositoryError> {
            let length = window(seconds);
            let start = window_start(now, length);
            let hits = tx.hit(key, start)?;
            Ok((hits > limit).then(|| (start + length - now).num_seconds().max(1)))
        };
        if let Some(retry_after) = over(
            &self.pair,
            limits.account_address_failures,
            limits.account_address_window_seconds,
        )? {
            return Ok(Some(Refusal::AccountAddress { retry_after }));
        }
        if let Some(retry_after) = over(
            &self.address,
            limits.address_failures,
            limits.address_window_seconds,
        )? {
            return Ok(Some(Refusal::Address { retry_after }));
        }
        Ok(None)
    }

    /// The password was right: the pair starts again, the address's hit is taken back.
    pub fn succeeded(&self, tx: &Tx<'_>, state: &AppState) -> Result<(), RepositoryError> {
        tx.clear_hits(&self.pair)?;
        let length = window(state.config.brute_force.address_window_seconds);
        tx.forgive_hit(&self.address, window_start(self.admitted_at, length))
    }

    /// The password was wrong: counts it account-wide; `true` the one time per window
    /// the count reaches the alert threshold (mail the owner, audit it).
    pub fn failed(
        &self,
        tx: &Tx<'_>,
        state: &AppState,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let Some(alert) = &self.alert else {
            return Ok(false);
        };
        let limits = &state.config.brute_force;
        let start = window_start(now, window(limits.account_alert_window_seconds));
        Ok(tx.hit(alert, start)? == limits.account_alert_failures)
    }
}
