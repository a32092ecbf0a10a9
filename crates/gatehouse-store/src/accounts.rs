//! The account repository.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use gatehouse_core::ports::{AccountRepository, RepositoryError, RepositoryResult};
use gatehouse_core::{Account, AccountId, Email, LegacyUsername, Subject};

use crate::at_most_one::AtMostOne;
use crate::connection::natively;
use crate::connection::{Db, DbConnection};
use crate::error::one_row;
use crate::schema::accounts;
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = accounts)]
#[diesel(treat_none_as_null = true)]
#[diesel(treat_none_as_default_value = false)]
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
    analytics_consent: bool,
    deleted_at: Option<i64>,
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
            analytics_consent: a.analytics_consent,
            deleted_at: a.deleted_at.map(to_millis),
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
            analytics_consent: row.analytics_consent,
            deleted_at: row.deleted_at.map(from_millis).transpose()?,
            created_at: from_millis(row.created_at)?,
            updated_at: from_millis(row.updated_at)?,
        })
    }
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>);

/// `%`, `_` and the escape character itself, escaped for a LIKE pattern.
fn escape_like(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// See [`AccountRepository::erase_account`]. Runs on whatever connection it is given:
/// callers wrap it in a transaction.
fn erase(db: &impl Connected, id: AccountId, at: DateTime<Utc>) -> RepositoryResult<()> {
    use crate::schema::{
        account_migrations, audit_events, email_changes, email_undo_tokens, factors,
        login_requests, mail_outbox, otp_challenges, registration_tokens, sessions,
    };
    let key = id.to_string();
    let emails: Vec<String> = db
        .run(|c| {
            natively!(c, |c| {
                accounts::table
                    .find(key.clone())
                    .select((accounts::email, accounts::email_normalized))
                    .at_most_one::<(Option<String>, Option<String>)>(c)
            })
        })?
        .map(|(a, b)| a.into_iter().chain(b).collect())
        .unwrap_or_default();
    // Addresses it asked to move to, or moved away from: mails to them go too,
    // unless another account holds the address (its own mail stays).
    let mut others: Vec<String> = db.run(|c| {
        natively!(c, |c| {
            email_changes::table
                .filter(email_changes::account_id.eq(key.clone()))
                .select(email_changes::new_email)
                .load(c)
        })
    })?;
    let undos: Vec<(String, String)> = db.run(|c| {
        natively!(c, |c| {
            email_undo_tokens::table
                .filter(email_undo_tokens::account_id.eq(key.clone()))
                .select((email_undo_tokens::old_email, email_undo_tokens::new_email))
                .load(c)
        })
    })?;
    others.extend(undos.into_iter().flat_map(|(a, b)| [a, b]));
    let mut emails = emails;
    for address in others {
        let Ok(parsed) = Email::parse(&address) else {
            continue;
        };
        let held: i64 = db.run(|c| {
            natively!(c, |c| {
                accounts::table
                    .filter(accounts::email_normalized.eq(parsed.normalized().to_owned()))
                    .filter(accounts::id.ne(key.clone()))
                    .count()
                    .get_result(c)
            })
        })?;
        if held == 0 && !emails.contains(&address) {
            emails.push(address);
        }
    }
    // Its live sessions end here: their clients hear of it before the rows go.
    crate::logout_notices::end_account_sessions(db, &key, "", at)?;
    db.run(|c| {
        natively!(c, |c| {
            // Factors take their guards and recovery codes with them; sessions their
            // codes and refresh tokens.
            diesel::delete(factors::table.filter(factors::account_id.eq(key.clone())))
                .execute(c)?;
            diesel::delete(
                otp_challenges::table.filter(otp_challenges::account_id.eq(key.clone())),
            )
            .execute(c)?;
            diesel::delete(
                login_requests::table.filter(login_requests::account_id.eq(key.clone())),
            )
            .execute(c)?;
            diesel::delete(sessions::table.filter(sessions::account_id.eq(key.clone())))
                .execute(c)?;
            diesel::delete(email_changes::table.filter(email_changes::account_id.eq(key.clone())))
                .execute(c)?;
            diesel::delete(
                email_undo_tokens::table.filter(email_undo_tokens::account_id.eq(key.clone())),
            )
            .execute(c)?;
            diesel::delete(
                registration_tokens::table.filter(registration_tokens::account_id.eq(key.clone())),
            )
            .execute(c)?;
            diesel::delete(
                account_migrations::table.filter(account_migrations::account_id.eq(key.clone())),
            )
            .execute(c)?;
            if !emails.is_empty() {
                diesel::delete(mail_outbox::table.filter(mail_outbox::recipient.eq_any(emails)))
                    .execute(c)?;
            }
            diesel::update(audit_events::table.filter(audit_events::account_id.eq(key.clone())))
                .set((
                    audit_events::ip.eq(None::<String>),
                    audit_events::user_agent.eq(None::<String>),
                ))
                .execute(c)?;
            diesel::update(accounts::table.find(key.clone()))
                .set((
                    accounts::email.eq(None::<String>),
                    accounts::email_normalized.eq(None::<String>),
                    accounts::email_verified.eq(false),
                    accounts::legacy_username.eq(None::<String>),
                    accounts::legacy_username_normalized.eq(None::<String>),
                    accounts::given_name.eq(None::<String>),
                    accounts::family_name.eq(None::<String>),
                    accounts::locale.eq(None::<String>),
                    accounts::zoneinfo.eq(None::<String>),
                    accounts::password_hash.eq(None::<String>),
                    accounts::analytics_consent.eq(false),
                    accounts::status.eq(gatehouse_core::AccountStatus::Disabled.as_str()),
                    accounts::deleted_at.eq(Some(to_millis(at))),
                    accounts::updated_at.eq(to_millis(at)),
                ))
                .execute(c)
        })
    })
    .and_then(one_row)
}

impl<C> AccountRepository for Db<C>
where
    Self: Connected,
{
    fn insert_account(&self, account: &Account) -> RepositoryResult<()> {
        let row = AccountRow::from(account);
        self.run(|c| {
            natively!(c, |c| diesel::insert_into(accounts::table)
                .values(row)
                .execute(c))
        })
        .map(|_| ())
    }

    fn update_account(&self, account: &Account) -> RepositoryResult<()> {
        let row = AccountRow::from(account);
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(accounts::table.find(account.id.to_string()))
                    .set(row)
                    .execute(c)
            })
        })
        .and_then(one_row)
    }

    fn delete_account(&self, id: AccountId) -> RepositoryResult<()> {
        self.run(|c| {
            natively!(c, |c| diesel::delete(accounts::table.find(id.to_string()))
                .execute(c))
        })
        .and_then(one_row)
    }

    fn account_by_id(&self, id: AccountId) -> RepositoryResult<Option<Account>> {
        self.run(|c| {
            natively!(c, |c| accounts::table
                .find(id.to_string())
                .select(AccountRow::as_select())
                .at_most_one(c))
        })?
        .map(Account::try_from)
        .transpose()
    }

    fn account_row_for_update(&self, id: AccountId) -> RepositoryResult<()> {
        self.run(|c| match c {
            // The row lock lasts until the transaction ends.
            DbConnection::Postgresql(pg) => accounts::table
                .find(id.to_string())
                .select(accounts::id)
                .for_update()
                .load::<String>(pg)
                .map(drop),
            // Store::transaction gives SQLite's writers one turn at a time already.
            DbConnection::Sqlite(_) => Ok(()),
        })
    }

    fn account_by_subject(&self, subject: &Subject) -> RepositoryResult<Option<Account>> {
        self.run(|c| {
            natively!(c, |c| accounts::table
                .filter(accounts::subject.eq(subject.as_str().to_owned()))
                .select(AccountRow::as_select())
                .at_most_one(c))
        })?
        .map(Account::try_from)
        .transpose()
    }

    fn account_by_email(&self, email: &Email) -> RepositoryResult<Option<Account>> {
        self.run(|c| {
            natively!(c, |c| accounts::table
                .filter(accounts::email_normalized.eq(email.normalized().to_owned()))
                .select(AccountRow::as_select())
                .at_most_one(c))
        })?
        .map(Account::try_from)
        .transpose()
    }

    fn account_by_username(&self, username: &LegacyUsername) -> RepositoryResult<Option<Account>> {
        self.run(|c| {
            natively!(c, |c| accounts::table
                .filter(accounts::legacy_username_normalized.eq(username.normalized().to_owned()))
                .select(AccountRow::as_select())
                .at_most_one(c))
        })?
        .map(Account::try_from)
        .transpose()
    }

    fn count_accounts(&self) -> RepositoryResult<u64> {
        let count: i64 = self.run(|c| natively!(c, |c| accounts::table.count().get_result(c)))?;
        u64::try_from(count).map_err(|e| corrupt("count", e))
    }

    fn search_accounts(
        &self,
        prefix: &str,
        after: Option<AccountId>,
        limit: u32,
    ) -> RepositoryResult<Vec<Account>> {
        self.run(|c| {
            natively!(c, |c| {
                let mut query = accounts::table
                    .filter(accounts::deleted_at.is_null())
                    .order(accounts::id.asc())
                    .limit(i64::from(limit))
                    .select(AccountRow::as_select())
                    .into_boxed();
                let prefix = prefix.trim().to_lowercase();
                if !prefix.is_empty() {
                    let pattern = format!("{}%", escape_like(&prefix));
                    query = query.filter(
                        accounts::email_normalized
                            .like(pattern.clone())
                            .escape('\\')
                            .or(lower(accounts::given_name)
                                .like(pattern.clone())
                                .escape('\\'))
                            .or(lower(accounts::family_name).like(pattern).escape('\\')),
                    );
                }
                if let Some(after) = after {
                    query = query.filter(accounts::id.gt(after.to_string()));
                }
                query.load(c)
            })
        })?
        .into_iter()
        .map(Account::try_from)
        .collect()
    }

    fn erase_account(&self, id: AccountId, at: DateTime<Utc>) -> RepositoryResult<()> {
        erase(self, id, at)
    }
}
