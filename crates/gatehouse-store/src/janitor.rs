//! Deleting rows that expired and can never be used again, so the short-lived tables
//! do not grow with every login for ever: login requests (their e-mail codes go with
//! them), authorization codes, push challenges, access-token revocations and spent
//! client assertions (both are only needed until the token they name expires), and
//! pushed authorization requests once expired.
//! Back-channel logout notices go once delivered or given up.
//! Sessions, refresh tokens and audit events stay: the account API lists them, and
//! a used refresh token is how a replay is recognised. WebAuthn ceremonies are swept
//! whenever one is stored.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use gatehouse_core::ports::{LogoutNoticeQueue, RepositoryResult};
use serde::Serialize;

use crate::connection::Store;
use crate::connection::natively;
use crate::schema::{
    authorization_codes, login_requests, push_challenges, pushed_authorization_requests,
    revoked_access_tokens, used_client_assertions,
};
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

/// How many rows of each kind one purge deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub login_requests: usize,
    pub authorization_codes: usize,
    pub push_challenges: usize,
    pub access_token_revocations: usize,
    pub client_assertions: usize,
    pub pushed_requests: usize,
    pub logout_notices: usize,
}

impl Purged {
    pub fn total(&self) -> usize {
        self.login_requests
            + self.authorization_codes
            + self.push_challenges
            + self.access_token_revocations
            + self.client_assertions
            + self.pushed_requests
            + self.logout_notices
    }
}

impl Store {
    /// Deletes what expired before `before`, and the spent client assertions that
    /// expired before `now` (past its `exp` an assertion is refused before the ledger
    /// is read). Each table is one short statement of its own, so a purge never holds
    /// SQLite's writer for long.
    pub fn purge_expired(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> RepositoryResult<Purged> {
        let (before, now) = (to_millis(before), to_millis(now));
        Ok(Purged {
            login_requests: self.run(|c| {
                natively!(c, |c| {
                    diesel::delete(
                        login_requests::table.filter(login_requests::expires_at.lt(before)),
                    )
                    .execute(c)
                })
            })?,
            authorization_codes: self.run(|c| {
                natively!(c, |c| {
                    diesel::delete(
                        authorization_codes::table
                            .filter(authorization_codes::expires_at.lt(before)),
                    )
                    .execute(c)
                })
            })?,
            push_challenges: self.run(|c| {
                natively!(c, |c| {
                    diesel::delete(
                        push_challenges::table.filter(push_challenges::expires_at.lt(before)),
                    )
                    .execute(c)
                })
            })?,
            access_token_revocations: self.run(|c| {
                natively!(c, |c| {
                    diesel::delete(
                        revoked_access_tokens::table
                            .filter(revoked_access_tokens::expires_at.lt(before)),
                    )
                    .execute(c)
                })
            })?,
            client_assertions: self.run(|c| {
                natively!(c, |c| {
                    diesel::delete(
                        used_client_assertions::table
                            .filter(used_client_assertions::expires_at.lt(now)),
                    )
                    .execute(c)
                })
            })?,
            // Past its expiry a pushed request is refused before it is looked up.
            pushed_requests: self.run(|c| {
                natively!(c, |c| {
                    diesel::delete(
                        pushed_authorization_requests::table
                            .filter(pushed_authorization_requests::expires_at.lt(now)),
                    )
                    .execute(c)
                })
            })?,
            logout_notices: usize::try_from(self.purge_logout_notices(from_millis(before)?)?)
                .unwrap_or(usize::MAX),
        })
    }
}
