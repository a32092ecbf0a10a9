//! Push devices and their login challenges.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use gatehouse_core::ports::{PushRepository, RepositoryError, RepositoryResult};
use gatehouse_core::push::{PushChallenge, PushDevice, PushStatus};
use gatehouse_core::{AccountId, FactorId};

use crate::accounts::parse_id;
use crate::at_most_one::AtMostOne;
use crate::connection::Db;
use crate::connection::natively;
use crate::schema::{push_challenges, push_devices};
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = push_devices)]
#[diesel(treat_none_as_null = true)]
#[diesel(treat_none_as_default_value = false)]
struct DeviceRow {
    factor_id: String,
    account_id: String,
    ticket_hash: String,
    ticket_expires_at: i64,
    public_jwk: Option<String>,
    push_token: Option<String>,
    name: Option<String>,
    registered_at: Option<i64>,
}

impl From<&PushDevice> for DeviceRow {
    fn from(d: &PushDevice) -> Self {
        Self {
            factor_id: d.factor_id.to_string(),
            account_id: d.account_id.0.to_string(),
            ticket_hash: d.ticket_hash.clone(),
            ticket_expires_at: to_millis(d.ticket_expires_at),
            public_jwk: d.public_jwk.clone(),
            push_token: d.push_token.clone(),
            name: d.name.clone(),
            registered_at: d.registered_at.map(to_millis),
        }
    }
}

impl TryFrom<DeviceRow> for PushDevice {
    type Error = RepositoryError;
    fn try_from(row: DeviceRow) -> RepositoryResult<Self> {
        Ok(Self {
            factor_id: FactorId(parse_id(&row.factor_id)?),
            account_id: AccountId(parse_id(&row.account_id)?),
            ticket_hash: row.ticket_hash,
            ticket_expires_at: from_millis(row.ticket_expires_at)?,
            public_jwk: row.public_jwk,
            push_token: row.push_token,
            name: row.name,
            registered_at: row.registered_at.map(from_millis).transpose()?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = push_challenges)]
#[diesel(treat_none_as_default_value = false)]
struct ChallengeRow {
    id: String,
    factor_id: String,
    account_id: String,
    login_request_id: String,
    client_id: String,
    number: i64,
    candidates: String,
    status: String,
    created_at: i64,
    expires_at: i64,
    answered_at: Option<i64>,
}

fn corrupt(what: &str) -> RepositoryError {
    RepositoryError::Corrupt(format!("push challenge: {what}"))
}

impl From<&PushChallenge> for ChallengeRow {
    fn from(c: &PushChallenge) -> Self {
        Self {
            id: c.id.clone(),
            factor_id: c.factor_id.to_string(),
            account_id: c.account_id.0.to_string(),
            login_request_id: c.login_request_id.clone(),
            client_id: c.client_id.clone(),
            number: i64::from(c.number),
            candidates: c
                .candidates
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(","),
            status: c.status.as_str().to_owned(),
            created_at: to_millis(c.created_at),
            expires_at: to_millis(c.expires_at),
            answered_at: c.answered_at.map(to_millis),
        }
    }
}

impl TryFrom<ChallengeRow> for PushChallenge {
    type Error = RepositoryError;
    fn try_from(row: ChallengeRow) -> RepositoryResult<Self> {
        let candidates = row
            .candidates
            .split(',')
            .map(|n| n.parse::<u8>().map_err(|_| corrupt("candidates")))
            .collect::<RepositoryResult<Vec<_>>>()?;
        Ok(Self {
            id: row.id,
            factor_id: FactorId(parse_id(&row.factor_id)?),
            account_id: AccountId(parse_id(&row.account_id)?),
            login_request_id: row.login_request_id,
            client_id: row.client_id,
            number: u8::try_from(row.number).map_err(|_| corrupt("number"))?,
            candidates,
            status: PushStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            answered_at: row.answered_at.map(from_millis).transpose()?,
        })
    }
}

impl<C> PushRepository for Db<C>
where
    Self: Connected,
{
    fn insert_push_device(&self, device: &PushDevice) -> RepositoryResult<()> {
        let row = DeviceRow::from(device);
        self.run(|c| {
            natively!(c, |c| {
                diesel::insert_into(push_devices::table)
                    .values(row)
                    .execute(c)
            })
        })
        .map(|_| ())
    }

    fn update_push_device(&self, device: &PushDevice) -> RepositoryResult<()> {
        let row = DeviceRow::from(device);
        let changed = self.run(|c| {
            natively!(c, |c| {
                diesel::update(push_devices::table.find(row.factor_id.clone()))
                    .set(&row)
                    .execute(c)
            })
        })?;
        if changed == 1 {
            Ok(())
        } else {
            Err(RepositoryError::NotFound)
        }
    }

    fn push_device(&self, factor: FactorId) -> RepositoryResult<Option<PushDevice>> {
        self.run(|c| {
            natively!(c, |c| {
                push_devices::table
                    .find(factor.to_string())
                    .select(DeviceRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(PushDevice::try_from)
        .transpose()
    }

    fn push_device_by_ticket(&self, ticket_hash: &str) -> RepositoryResult<Option<PushDevice>> {
        self.run(|c| {
            natively!(c, |c| {
                push_devices::table
                    .filter(push_devices::ticket_hash.eq(ticket_hash))
                    .select(DeviceRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(PushDevice::try_from)
        .transpose()
    }

    fn insert_push_challenge(&self, challenge: &PushChallenge) -> RepositoryResult<()> {
        let row = ChallengeRow::from(challenge);
        self.run(|c| {
            natively!(c, |c| {
                diesel::insert_into(push_challenges::table)
                    .values(row)
                    .execute(c)
            })
        })
        .map(|_| ())
    }

    fn push_challenge(&self, id: &str) -> RepositoryResult<Option<PushChallenge>> {
        self.run(|c| {
            natively!(c, |c| {
                push_challenges::table
                    .find(id.to_owned())
                    .select(ChallengeRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(PushChallenge::try_from)
        .transpose()
    }

    fn latest_push_challenge(
        &self,
        login_request_id: &str,
        factor: FactorId,
    ) -> RepositoryResult<Option<PushChallenge>> {
        self.run(|c| {
            natively!(c, |c| {
                push_challenges::table
                    .filter(push_challenges::login_request_id.eq(login_request_id))
                    .filter(push_challenges::factor_id.eq(factor.to_string()))
                    .order((
                        push_challenges::created_at.desc(),
                        push_challenges::id.desc(),
                    ))
                    .select(ChallengeRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(PushChallenge::try_from)
        .transpose()
    }

    fn pending_push_challenges(
        &self,
        factor: FactorId,
        now: DateTime<Utc>,
    ) -> RepositoryResult<Vec<PushChallenge>> {
        self.run(|c| {
            natively!(c, |c| {
                push_challenges::table
                    .filter(push_challenges::factor_id.eq(factor.to_string()))
                    .filter(push_challenges::status.eq(PushStatus::Pending.as_str()))
                    .filter(push_challenges::expires_at.gt(to_millis(now)))
                    .order((push_challenges::created_at.asc(), push_challenges::id.asc()))
                    .select(ChallengeRow::as_select())
                    .load(c)
            })
        })?
        .into_iter()
        .map(PushChallenge::try_from)
        .collect()
    }

    fn settle_push_challenge(
        &self,
        id: &str,
        from: PushStatus,
        to: PushStatus,
        at: DateTime<Utc>,
    ) -> RepositoryResult<bool> {
        // One conditional UPDATE: of two racing answers, exactly one wins.
        let changed = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    push_challenges::table
                        .find(id.to_owned())
                        .filter(push_challenges::status.eq(from.as_str())),
                )
                .set((
                    push_challenges::status.eq(to.as_str()),
                    push_challenges::answered_at.eq(Some(to_millis(at))),
                ))
                .execute(c)
            })
        })?;
        Ok(changed == 1)
    }
}
