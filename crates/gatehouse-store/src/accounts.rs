//! The account repository.

use diesel::prelude::*;
use gatehouse_core::ports::{AccountRepository, RepositoryError, RepositoryResult};
use gatehouse_core::{Account, AccountId, Email, LegacyUsername, Subject};

use crate::connection::MultiBackend;
use crate::error::one_row;
use crate::schema::accounts;
use crate::time::{from_millis, to_millis};
use crate::transaction::{Connected, repository};

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = accounts)]
#[diesel(treat_none_as_null = true)]
pub(crate) struct AccountRow {
    id: String,
    subject: String,
    email: Option<String>,
    email_normalized: Option<String>,
    email_verified: bool,
    legacy_username: Option<String>,
    legacy_username_normalized: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    locale: Option<String>,
    zoneinfo: Option<String>,
    status: String,
    password_hash: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<&Account> for AccountRow {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.to_string(),
            subject: a.subject.as_str().to_owned(),
            email: a.email.as_ref().map(|e| e.as_str().to_owned()),
            email_normalized: a.email.as_ref().map(|e| e.normalized().to_owned()),
            email_verified: a.email_verified,
            legacy_username: a.legacy_username.as_ref().map(|u| u.as_str().to_owned()),
            legacy_username_normalized: a
                .legacy_username
                .as_ref()
                .map(|u| u.normalized().to_owned()),
            given_name: a.given_name.clone(),
            family_name: a.family_name.clone(),
            locale: a.locale.clone(),
            zoneinfo: a.zoneinfo.clone(),
            status: a.status.as_str().to_owned(),
            password_hash: a.password_hash.clone(),
            created_at: to_millis(a.created_at),
            updated_at: to_millis(a.updated_at),
        }
    }
}

pub(crate) fn corrupt(what: &str, error: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::Corrupt(format!("{what}: {error}"))
}

pub(crate) fn parse_id(raw: &str) -> RepositoryResult<uuid::Uuid> {
    uuid::Uuid::parse_str(raw).map_err(|e| corrupt("id", e))
}

impl TryFrom<AccountRow> for Account {
    type Error = RepositoryError;
    fn try_from(row: AccountRow) -> RepositoryResult<Self> {
        Ok(Self {
            id: AccountId(parse_id(&row.id)?),
            subject: Subject::parse(&row.subject).map_err(|e| corrupt("subject", e))?,
            email: row
                .email
                .as_deref()
                .map(Email::parse)
                .transpose()
                .map_err(|e| corrupt("email", e))?,
            email_verified: row.email_verified,
            legacy_username: row
                .legacy_username
                .as_deref()
                .map(LegacyUsername::parse)
                .transpose()
                .map_err(|e| corrupt("legacy_username", e))?,
            given_name: row.given_name,
            family_name: row.family_name,
            locale: row.locale,
            zoneinfo: row.zoneinfo,
            status: row
                .status
                .parse()
                .map_err(|e: String| corrupt("status", e))?,
            password_hash: row.password_hash,
            created_at: from_millis(row.created_at)?,
            updated_at: from_millis(row.updated_at)?,
        })
    }
}

fn find_account(
    db: &impl Connected,
    query: accounts::BoxedQuery<'_, MultiBackend>,
) -> RepositoryResult<Option<Account>> {
    db.run(|c| query.select(AccountRow::as_select()).first(c).optional())?
        .map(Account::try_from)
        .transpose()
}

repository! {
impl AccountRepository {
    fn insert_account(&self, account: &Account) -> RepositoryResult<()> {
        let row = AccountRow::from(account);
        self.run(|c| diesel::insert_into(accounts::table).values(row).execute(c))
            .map(|_| ())
    }

    fn update_account(&self, account: &Account) -> RepositoryResult<()> {
        let row = AccountRow::from(account);
        self.run(|c| diesel::update(accounts::table.find(account.id.to_string())).set(row).execute(c))
            .and_then(one_row)
    }

    fn delete_account(&self, id: AccountId) -> RepositoryResult<()> {
        self.run(|c| diesel::delete(accounts::table.find(id.to_string())).execute(c))
            .and_then(one_row)
    }

    fn account_by_id(&self, id: AccountId) -> RepositoryResult<Option<Account>> {
        find_account(self, accounts::table.filter(accounts::id.eq(id.to_string())).into_boxed())
    }

    fn account_by_subject(&self, subject: &Subject) -> RepositoryResult<Option<Account>> {
        find_account(
            self,
            accounts::table
                .filter(accounts::subject.eq(subject.as_str().to_owned()))
                .into_boxed(),
        )
    }

    fn account_by_email(&self, email: &Email) -> RepositoryResult<Option<Account>> {
        find_account(
            self,
            accounts::table
                .filter(accounts::email_normalized.eq(email.normalized().to_owned()))
                .into_boxed(),
        )
    }

    fn account_by_username(&self, username: &LegacyUsername) -> RepositoryResult<Option<Account>> {
        find_account(
            self,
            accounts::table
                .filter(accounts::legacy_username_normalized.eq(username.normalized().to_owned()))
                .into_boxed(),
        )
    }

    fn count_accounts(&self) -> RepositoryResult<u64> {
        let count: i64 = self.run(|c| accounts::table.count().get_result(c))?;
        u64::try_from(count).map_err(|e| corrupt("count", e))
    }
}
}
