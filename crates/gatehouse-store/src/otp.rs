//! The one-time-code repository.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use gatehouse_core::AccountId;
use gatehouse_core::otp::OtpChallenge;
use gatehouse_core::ports::{OtpRepository, RepositoryError, RepositoryResult};

use crate::accounts::parse_id;
use crate::at_most_one::AtMostOne;
use crate::connection::Db;
use crate::connection::natively;
use crate::error::one_row;
use crate::schema::otp_challenges;
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = otp_challenges)]
#[diesel(treat_none_as_default_value = false)]
struct OtpRow {
    id: String,
    login_request_id: String,
    account_id: String,
    code_hash: String,
    attempts: i64,
    created_at: i64,
    expires_at: i64,
    closed_at: Option<i64>,
}

impl From<&OtpChallenge> for OtpRow {
    fn from(c: &OtpChallenge) -> Self {
        Self {
            id: c.id.clone(),
            login_request_id: c.login_request_id.clone(),
            account_id: c.account_id.to_string(),
            code_hash: c.code_hash.clone(),
            attempts: i64::from(c.attempts),
            created_at: to_millis(c.created_at),
            expires_at: to_millis(c.expires_at),
            closed_at: c.closed_at.map(to_millis),
        }
    }
}

impl TryFrom<OtpRow> for OtpChallenge {
    type Error = RepositoryError;
    fn try_from(row: OtpRow) -> RepositoryResult<Self> {
        Ok(Self {
            id: row.id,
            login_request_id: row.login_request_id,
            account_id: AccountId(parse_id(&row.account_id)?),
            code_hash: row.code_hash,
            attempts: u32::try_from(row.attempts)
                .map_err(|e| RepositoryError::Corrupt(format!("otp attempts: {e}")))?,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            closed_at: row.closed_at.map(from_millis).transpose()?,
        })
    }
}

impl<C> OtpRepository for Db<C>
where
    Self: Connected,
{
    fn insert_otp(&self, challenge: &OtpChallenge) -> RepositoryResult<()> {
        let row = OtpRow::from(challenge);
        self.run(|c| {
            natively!(c, |c| diesel::insert_into(otp_challenges::table)
                .values(row)
                .execute(c))
        })
        .map(|_| ())
    }

    fn update_otp(&self, challenge: &OtpChallenge) -> RepositoryResult<()> {
        self.run(|c| {
            natively!(c, |c| diesel::update(
                otp_challenges::table.find(challenge.id.clone())
            )
            .set((
                otp_challenges::attempts.eq(i64::from(challenge.attempts)),
                otp_challenges::closed_at.eq(challenge.closed_at.map(to_millis)),
            ))
            .execute(c))
        })
        .and_then(one_row)
    }

    fn latest_otp(&self, login_request_id: &str) -> RepositoryResult<Option<OtpChallenge>> {
        self.run(|c| {
            natively!(c, |c| otp_challenges::table
                .filter(otp_challenges::login_request_id.eq(login_request_id.to_owned()))
                .order((otp_challenges::created_at.desc(), otp_challenges::id.desc()))
                .select(OtpRow::as_select())
                .at_most_one(c))
        })?
        .map(OtpChallenge::try_from)
        .transpose()
    }

    fn otp_sends_since(
        &self,
        account: AccountId,
        since: DateTime<Utc>,
    ) -> RepositoryResult<Vec<DateTime<Utc>>> {
        self.run(|c| {
            natively!(c, |c| otp_challenges::table
                .filter(otp_challenges::account_id.eq(account.to_string()))
                .filter(otp_challenges::created_at.gt(to_millis(since)))
                .select(otp_challenges::created_at)
                .load::<i64>(c))
        })?
        .into_iter()
        .map(from_millis)
        .collect()
    }
}
