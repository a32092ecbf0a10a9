//! Registration links (stored as keyed hashes) and the shared rate-limit counters.

use chrono::{DateTime, Utc};
use diesel::dsl::case_when;
use diesel::prelude::*;
use gatehouse_core::AccountId;
use gatehouse_core::ports::{
    RateLimits, RegistrationTokenRepository, RepositoryError, RepositoryResult,
};
use gatehouse_core::registration::RegistrationToken;

use crate::accounts::{corrupt, parse_id};
use crate::at_most_one::AtMostOne;
use crate::connection::Db;
use crate::connection::natively;
use crate::schema::{rate_limits as rl, registration_tokens as t};
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = t)]
#[diesel(treat_none_as_default_value = false)]
struct TokenRow {
    token_hash: String,
    account_id: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    voided_at: Option<i64>,
}

impl TryFrom<TokenRow> for RegistrationToken {
    type Error = RepositoryError;
    fn try_from(row: TokenRow) -> RepositoryResult<Self> {
        Ok(Self {
            token_hash: row.token_hash,
            account_id: AccountId(parse_id(&row.account_id)?),
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            used_at: row.used_at.map(from_millis).transpose()?,
            voided_at: row.voided_at.map(from_millis).transpose()?,
        })
    }
}

impl<C> RegistrationTokenRepository for Db<C>
where
    Self: Connected,
{
    fn insert_registration_token(&self, token: &RegistrationToken) -> RepositoryResult<()> {
        let row = TokenRow {
            token_hash: token.token_hash.clone(),
            account_id: token.account_id.to_string(),
            created_at: to_millis(token.created_at),
            expires_at: to_millis(token.expires_at),
            used_at: token.used_at.map(to_millis),
            voided_at: token.voided_at.map(to_millis),
        };
        self.run(|c| natively!(c, |c| diesel::insert_into(t::table).values(row).execute(c)))
            .map(|_| ())
    }

    fn registration_token(&self, token_hash: &str) -> RepositoryResult<Option<RegistrationToken>> {
        self.run(|c| {
            natively!(c, |c| {
                t::table
                    .find(token_hash)
                    .select(TokenRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(RegistrationToken::try_from)
        .transpose()
    }

    fn void_registration_tokens(
        &self,
        account: AccountId,
        at: DateTime<Utc>,
    ) -> RepositoryResult<u64> {
        let n = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    t::table
                        .filter(t::account_id.eq(account.to_string()))
                        .filter(t::used_at.is_null())
                        .filter(t::voided_at.is_null()),
                )
                .set(t::voided_at.eq(to_millis(at)))
                .execute(c)
            })
        })?;
        u64::try_from(n).map_err(|e| corrupt("count", e))
    }

    fn use_registration_token(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> RepositoryResult<bool> {
        let n = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    t::table
                        .filter(t::token_hash.eq(token_hash))
                        .filter(t::used_at.is_null())
                        .filter(t::voided_at.is_null()),
                )
                .set(t::used_at.eq(to_millis(at)))
                .execute(c)
            })
        })?;
        Ok(n == 1)
    }
}

impl<C> RateLimits for Db<C>
where
    Self: Connected,
{
    fn hit(&self, key: &str, window_start: DateTime<Utc>) -> RepositoryResult<u32> {
        let start = to_millis(window_start);
        // One statement, which counts from the row as it is once its lock is granted:
        // hits racing on a key, a new one included, are counted one after the other
        // (a read, then a write, lost some on PostgreSQL, and two first hits collided).
        // An older window starts again at one.
        let upsert = || {
            diesel::insert_into(rl::table)
                .values((rl::key.eq(key), rl::window_start.eq(start), rl::hits.eq(1)))
                .on_conflict(rl::key)
                .do_update()
                .set((
                    rl::hits.eq(case_when(rl::window_start.eq(start), rl::hits + 1).otherwise(1)),
                    rl::window_start.eq(start),
                ))
                .returning(rl::hits)
        };
        // Diesel's multi-backend connection has no upsert: each backend runs its own.
        let hits: i32 = self.run(|c| natively!(c, |c| upsert().get_result(c)))?;
        u32::try_from(hits).map_err(|e| corrupt("hits", e))
    }

    fn hits(&self, key: &str, window_start: DateTime<Utc>) -> RepositoryResult<u32> {
        let start = to_millis(window_start);
        let hits: Option<i32> = self.run(|c| {
            natively!(c, |c| {
                rl::table
                    .find(key)
                    .filter(rl::window_start.eq(start))
                    .select(rl::hits)
                    .at_most_one(c)
            })
        })?;
        u32::try_from(hits.unwrap_or(0)).map_err(|e| corrupt("hits", e))
    }

    fn clear_hits(&self, key: &str) -> RepositoryResult<()> {
        self.run(|c| natively!(c, |c| diesel::delete(rl::table.find(key)).execute(c)))
            .map(|_| ())
    }

    fn clear_hits_under(&self, prefix: &str) -> RepositoryResult<()> {
        // LIKE, not a range: a range's order depends on the database's collation.
        let escaped = prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("{escaped}/%");
        self.run(|c| {
            natively!(c, |c| {
                diesel::delete(rl::table.filter(rl::key.like(&pattern).escape('\\'))).execute(c)
            })
        })
        .map(|_| ())
    }

    fn forgive_hit(&self, key: &str, window_start: DateTime<Utc>) -> RepositoryResult<()> {
        let start = to_millis(window_start);
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    rl::table
                        .find(key)
                        .filter(rl::window_start.eq(start))
                        .filter(rl::hits.gt(0)),
                )
                .set(rl::hits.eq(rl::hits - 1))
                .execute(c)
            })
        })
        .map(|_| ())
    }
}
