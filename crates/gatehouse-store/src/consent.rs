//! The consent-grant repository.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use gatehouse_core::AccountId;
use gatehouse_core::consent::ConsentGrant;
use gatehouse_core::ports::{ConsentRepository, RepositoryError, RepositoryResult};

use crate::accounts::parse_id;
use crate::at_most_one::AtMostOne;
use crate::connection::Db;
use crate::connection::natively;
use crate::json::{from_json, to_json};
use crate::schema::{consent_grants, refresh_tokens};
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = consent_grants)]
#[diesel(treat_none_as_default_value = false)]
struct GrantRow {
    account_id: String,
    client_id: String,
    scopes: String,
    granted_at: i64,
    updated_at: i64,
}

impl From<&ConsentGrant> for GrantRow {
    fn from(g: &ConsentGrant) -> Self {
        Self {
            account_id: g.account_id.to_string(),
            client_id: g.client_id.clone(),
            scopes: to_json(&g.scopes),
            granted_at: to_millis(g.granted_at),
            updated_at: to_millis(g.updated_at),
        }
    }
}

impl TryFrom<GrantRow> for ConsentGrant {
    type Error = RepositoryError;
    fn try_from(row: GrantRow) -> RepositoryResult<Self> {
        Ok(Self {
            account_id: AccountId(parse_id(&row.account_id)?),
            client_id: row.client_id,
            scopes: from_json("consent scopes", &row.scopes)?,
            granted_at: from_millis(row.granted_at)?,
            updated_at: from_millis(row.updated_at)?,
        })
    }
}

impl<C> ConsentRepository for Db<C>
where
    Self: Connected,
{
    fn consent_grant(
        &self,
        account: AccountId,
        client_id: &str,
    ) -> RepositoryResult<Option<ConsentGrant>> {
        self.run(|c| {
            natively!(c, |c| {
                consent_grants::table
                    .find((account.to_string(), client_id.to_owned()))
                    .select(GrantRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(ConsentGrant::try_from)
        .transpose()
    }

    fn put_consent_grant(&self, grant: &ConsentGrant) -> RepositoryResult<()> {
        let row = GrantRow::from(grant);
        // No ON CONFLICT through MultiConnection: update, and insert when nothing was there.
        let updated = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    consent_grants::table.find((row.account_id.clone(), row.client_id.clone())),
                )
                .set((
                    consent_grants::scopes.eq(row.scopes.clone()),
                    consent_grants::updated_at.eq(row.updated_at),
                ))
                .execute(c)
            })
        })?;
        if updated == 0 {
            self.run(|c| {
                natively!(c, |c| {
                    diesel::insert_into(consent_grants::table)
                        .values(row)
                        .execute(c)
                })
            })?;
        }
        Ok(())
    }

    fn consent_grants_of(&self, account: AccountId) -> RepositoryResult<Vec<ConsentGrant>> {
        self.run(|c| {
            natively!(c, |c| {
                consent_grants::table
                    .filter(consent_grants::account_id.eq(account.to_string()))
                    .order((
                        consent_grants::updated_at.desc(),
                        consent_grants::client_id.asc(),
                    ))
                    .select(GrantRow::as_select())
                    .load(c)
            })
        })?
        .into_iter()
        .map(ConsentGrant::try_from)
        .collect()
    }

    fn revoke_consent_grant(
        &self,
        account: AccountId,
        client_id: &str,
        at: DateTime<Utc>,
    ) -> RepositoryResult<bool> {
        let deleted = self.run(|c| {
            natively!(c, |c| {
                diesel::delete(
                    consent_grants::table.find((account.to_string(), client_id.to_owned())),
                )
                .execute(c)
            })
        })?;
        if deleted == 0 {
            return Ok(false);
        }
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::account_id.eq(account.to_string()))
                        .filter(refresh_tokens::client_id.eq(client_id.to_owned()))
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::revoked_at.eq(Some(to_millis(at))))
                .execute(c)
            })
        })?;
        Ok(true)
    }
}
