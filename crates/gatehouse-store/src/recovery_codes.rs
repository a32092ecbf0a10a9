//! Recovery codes, stored as keyed hashes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use gatehouse_core::FactorId;
use gatehouse_core::ports::{RecoveryCodeRepository, RepositoryError, RepositoryResult};
use gatehouse_core::recovery_code::RecoveryCode;

use crate::accounts::parse_id;
use crate::connection::Db;
use crate::connection::natively;
use crate::schema::recovery_codes;
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = recovery_codes)]
#[diesel(treat_none_as_default_value = false)]
struct RecoveryCodeRow {
    id: String,
    factor_id: String,
    code_hash: String,
    used_at: Option<i64>,
}

impl TryFrom<RecoveryCodeRow> for RecoveryCode {
    type Error = RepositoryError;
    fn try_from(row: RecoveryCodeRow) -> RepositoryResult<Self> {
        Ok(Self {
            id: row.id,
            factor_id: FactorId(parse_id(&row.factor_id)?),
            code_hash: row.code_hash,
            used_at: row.used_at.map(from_millis).transpose()?,
        })
    }
}

impl<C> RecoveryCodeRepository for Db<C>
where
    Self: Connected,
{
    fn insert_recovery_code(&self, code: &RecoveryCode) -> RepositoryResult<()> {
        let row = RecoveryCodeRow {
            id: code.id.clone(),
            factor_id: code.factor_id.to_string(),
            code_hash: code.code_hash.clone(),
            used_at: code.used_at.map(to_millis),
        };
        self.run(|c| {
            natively!(c, |c| {
                diesel::insert_into(recovery_codes::table)
                    .values(row)
                    .execute(c)
            })
        })
        .map(|_| ())
    }

    fn unused_recovery_codes(&self, factor: FactorId) -> RepositoryResult<Vec<RecoveryCode>> {
        self.run(|c| {
            natively!(c, |c| {
                recovery_codes::table
                    .filter(recovery_codes::factor_id.eq(factor.to_string()))
                    .filter(recovery_codes::used_at.is_null())
                    .order(recovery_codes::id.asc())
                    .select(RecoveryCodeRow::as_select())
                    .load(c)
            })
        })?
        .into_iter()
        .map(RecoveryCode::try_from)
        .collect()
    }

    fn use_recovery_code(&self, id: &str, at: DateTime<Utc>) -> RepositoryResult<bool> {
        let changed = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    recovery_codes::table
                        .find(id.to_owned())
                        .filter(recovery_codes::used_at.is_null()),
                )
                .set(recovery_codes::used_at.eq(Some(to_millis(at))))
                .execute(c)
            })
        })?;
        Ok(changed == 1)
    }
}
