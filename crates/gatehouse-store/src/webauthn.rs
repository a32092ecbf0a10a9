//! WebAuthn credentials and ceremony state.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use gatehouse_core::ports::{RepositoryError, RepositoryResult, WebauthnRepository};
use gatehouse_core::webauthn::{Ceremony, WebauthnCredential};
use gatehouse_core::{AccountId, FactorId};

use crate::accounts::parse_id;
use crate::at_most_one::AtMostOne;
use crate::connection::Db;
use crate::connection::natively;
use crate::error::one_row;
use crate::schema::{webauthn_ceremonies, webauthn_credentials};
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webauthn_credentials)]
#[diesel(treat_none_as_null = true)]
#[diesel(treat_none_as_default_value = false)]
struct CredentialRow {
    factor_id: String,
    account_id: String,
    credential_id: String,
    credential: String,
    aaguid: Option<String>,
    transports: String,
    backup_eligible: bool,
    backup_state: bool,
    counter: i64,
    discoverable: bool,
    created_at: i64,
}

impl From<&WebauthnCredential> for CredentialRow {
    fn from(c: &WebauthnCredential) -> Self {
        Self {
            factor_id: c.factor_id.to_string(),
            account_id: c.account_id.to_string(),
            credential_id: c.credential_id.clone(),
            credential: c.credential.clone(),
            aaguid: c.aaguid.clone(),
            transports: serde_json::to_string(&c.transports).unwrap_or_else(|_| "[]".to_owned()),
            backup_eligible: c.backup_eligible,
            backup_state: c.backup_state,
            counter: i64::from(c.counter),
            discoverable: c.discoverable,
            created_at: to_millis(c.created_at),
        }
    }
}

impl TryFrom<CredentialRow> for WebauthnCredential {
    type Error = RepositoryError;
    fn try_from(row: CredentialRow) -> RepositoryResult<Self> {
        Ok(Self {
            factor_id: FactorId(parse_id(&row.factor_id)?),
            account_id: AccountId(parse_id(&row.account_id)?),
            credential_id: row.credential_id,
            credential: row.credential,
            aaguid: row.aaguid,
            transports: serde_json::from_str(&row.transports)
                .map_err(|e| RepositoryError::Corrupt(format!("webauthn transports: {e}")))?,
            backup_eligible: row.backup_eligible,
            backup_state: row.backup_state,
            counter: u32::try_from(row.counter)
                .map_err(|e| RepositoryError::Corrupt(format!("webauthn counter: {e}")))?,
            discoverable: row.discoverable,
            created_at: from_millis(row.created_at)?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = webauthn_ceremonies)]
#[diesel(treat_none_as_default_value = false)]
struct CeremonyRow {
    id: String,
    binding: String,
    account_id: Option<String>,
    state: String,
    created_at: i64,
    expires_at: i64,
}

impl TryFrom<CeremonyRow> for Ceremony {
    type Error = RepositoryError;
    fn try_from(row: CeremonyRow) -> RepositoryResult<Self> {
        Ok(Self {
            id: row.id,
            binding: row.binding,
            account_id: row
                .account_id
                .as_deref()
                .map(parse_id)
                .transpose()?
                .map(AccountId),
            state: row.state,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
        })
    }
}

impl<C> WebauthnRepository for Db<C>
where
    Self: Connected,
{
    fn insert_webauthn_credential(&self, credential: &WebauthnCredential) -> RepositoryResult<()> {
        let row = CredentialRow::from(credential);
        self.run(|c| {
            natively!(c, |c| {
                diesel::insert_into(webauthn_credentials::table)
                    .values(row)
                    .execute(c)
            })
        })
        .map(|_| ())
    }

    fn update_webauthn_credential(&self, credential: &WebauthnCredential) -> RepositoryResult<()> {
        let row = CredentialRow::from(credential);
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(webauthn_credentials::table.find(credential.factor_id.to_string()))
                    .set(row)
                    .execute(c)
            })
        })
        .and_then(one_row)
    }

    fn webauthn_credentials_of(
        &self,
        account: AccountId,
    ) -> RepositoryResult<Vec<WebauthnCredential>> {
        self.run(|c| {
            natively!(c, |c| {
                webauthn_credentials::table
                    .filter(webauthn_credentials::account_id.eq(account.to_string()))
                    .order(webauthn_credentials::created_at.asc())
                    .select(CredentialRow::as_select())
                    .load(c)
            })
        })?
        .into_iter()
        .map(WebauthnCredential::try_from)
        .collect()
    }

    fn webauthn_credential_of_factor(
        &self,
        factor: FactorId,
    ) -> RepositoryResult<Option<WebauthnCredential>> {
        self.run(|c| {
            natively!(c, |c| {
                webauthn_credentials::table
                    .find(factor.to_string())
                    .select(CredentialRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(WebauthnCredential::try_from)
        .transpose()
    }

    fn webauthn_credential_by_credential_id(
        &self,
        credential_id: &str,
    ) -> RepositoryResult<Option<WebauthnCredential>> {
        self.run(|c| {
            natively!(c, |c| {
                webauthn_credentials::table
                    .filter(webauthn_credentials::credential_id.eq(credential_id))
                    .select(CredentialRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(WebauthnCredential::try_from)
        .transpose()
    }

    fn put_ceremony(&self, ceremony: &Ceremony) -> RepositoryResult<()> {
        let row = CeremonyRow {
            id: ceremony.id.clone(),
            binding: ceremony.binding.clone(),
            account_id: ceremony.account_id.map(|a| a.to_string()),
            state: ceremony.state.clone(),
            created_at: to_millis(ceremony.created_at),
            expires_at: to_millis(ceremony.expires_at),
        };
        let now_ms = row.created_at;
        self.run(|c| {
            natively!(c, |c| {
                // Expired ceremonies are swept when new ones start, off the proof's path.
                diesel::delete(
                    webauthn_ceremonies::table.filter(webauthn_ceremonies::expires_at.le(now_ms)),
                )
                .execute(c)?;
                diesel::delete(
                    webauthn_ceremonies::table
                        .filter(webauthn_ceremonies::binding.eq(row.binding.clone())),
                )
                .execute(c)?;
                diesel::insert_into(webauthn_ceremonies::table)
                    .values(row)
                    .execute(c)
            })
        })
        .map(|_| ())
    }

    fn take_ceremony(
        &self,
        binding: &str,
        now: DateTime<Utc>,
    ) -> RepositoryResult<Option<Ceremony>> {
        let now_ms = to_millis(now);
        let found = self.run(|c| {
            natively!(c, |c| {
                let row = webauthn_ceremonies::table
                    .filter(webauthn_ceremonies::binding.eq(binding))
                    .filter(webauthn_ceremonies::expires_at.gt(now_ms))
                    .select(CeremonyRow::as_select())
                    .at_most_one(c)?;
                let Some(row) = row else {
                    return Ok(None);
                };
                // Whoever deletes the row owns the ceremony: a racing taker deletes nothing.
                let taken =
                    diesel::delete(webauthn_ceremonies::table.find(row.id.clone())).execute(c)?;
                Ok((taken == 1).then_some(row))
            })
        })?;
        found.map(Ceremony::try_from).transpose()
    }
}
