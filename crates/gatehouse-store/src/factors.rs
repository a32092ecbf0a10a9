//! The factor repository.

use diesel::prelude::*;
use gatehouse_core::ports::{FactorRepository, RepositoryError, RepositoryResult};
use gatehouse_core::{AccountId, Factor, FactorId};

use crate::accounts::parse_id;
use crate::at_most_one::AtMostOne;
use crate::connection::Db;
use crate::connection::natively;
use crate::error::one_row;
use crate::schema::factors;
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = factors)]
#[diesel(treat_none_as_null = true)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct FactorRow {
    id: String,
    account_id: String,
    kind: String,
    status: String,
    label: Option<String>,
    public_data: Option<String>,
    secret: Option<Vec<u8>>,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl From<&Factor> for FactorRow {
    fn from(f: &Factor) -> Self {
        Self {
            id: f.id.to_string(),
            account_id: f.account_id.to_string(),
            kind: f.kind.as_str().to_owned(),
            status: f.status.as_str().to_owned(),
            label: f.label.clone(),
            public_data: f.public_data.clone(),
            secret: f.secret.clone(),
            created_at: to_millis(f.created_at),
            last_used_at: f.last_used_at.map(to_millis),
        }
    }
}

impl TryFrom<FactorRow> for Factor {
    type Error = RepositoryError;
    fn try_from(row: FactorRow) -> RepositoryResult<Self> {
        Ok(Self {
            id: FactorId(parse_id(&row.id)?),
            account_id: AccountId(parse_id(&row.account_id)?),
            kind: row
                .kind
                .parse()
                .map_err(|e| RepositoryError::Corrupt(format!("factor kind: {e}")))?,
            status: row.status.parse().map_err(RepositoryError::Corrupt)?,
            label: row.label,
            public_data: row.public_data,
            secret: row.secret,
            created_at: from_millis(row.created_at)?,
            last_used_at: row.last_used_at.map(from_millis).transpose()?,
        })
    }
}

impl<C> FactorRepository for Db<C>
where
    Self: Connected,
{
    fn insert_factor(&self, factor: &Factor) -> RepositoryResult<()> {
        let row = FactorRow::from(factor);
        self.run(|c| {
            natively!(c, |c| diesel::insert_into(factors::table)
                .values(row)
                .execute(c))
        })
        .map(|_| ())
    }

    fn update_factor(&self, factor: &Factor) -> RepositoryResult<()> {
        let row = FactorRow::from(factor);
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(factors::table.find(factor.id.to_string()))
                    .set(row)
                    .execute(c)
            })
        })
        .and_then(one_row)
    }

    fn delete_factor(&self, id: FactorId) -> RepositoryResult<()> {
        self.run(|c| {
            natively!(c, |c| diesel::delete(factors::table.find(id.to_string()))
                .execute(c))
        })
        .and_then(one_row)
    }

    fn factor_by_id(&self, id: FactorId) -> RepositoryResult<Option<Factor>> {
        self.run(|c| {
            natively!(c, |c| {
                factors::table
                    .find(id.to_string())
                    .select(FactorRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(Factor::try_from)
        .transpose()
    }

    fn factors_of(&self, account: AccountId) -> RepositoryResult<Vec<Factor>> {
        self.run(|c| {
            natively!(c, |c| factors::table
                .filter(factors::account_id.eq(account.to_string()))
                // v7 ids sort by creation time; the id breaks ties within one millisecond.
                .order((factors::created_at.asc(), factors::id.asc()))
                .select(FactorRow::as_select())
                .load(c))
        })?
        .into_iter()
        .map(Factor::try_from)
        .collect()
    }
}
