//! Pending e-mail changes and the links that undo a change.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use gatehouse_core::AccountId;
use gatehouse_core::email_change::{EmailChange, EmailUndo};
use gatehouse_core::ports::{EmailChangeRepository, RepositoryError, RepositoryResult};

use crate::accounts::parse_id;
use crate::at_most_one::AtMostOne;
use crate::connection::Db;
use crate::connection::natively;
use crate::error::one_row;
use crate::schema::{email_changes, email_undo_tokens};
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = email_changes)]
#[diesel(treat_none_as_default_value = false)]
struct ChangeRow {
    id: String,
    account_id: String,
    new_email: String,
    code_hash: String,
    attempts: i64,
    created_at: i64,
    expires_at: i64,
    closed_at: Option<i64>,
}

impl From<&EmailChange> for ChangeRow {
    fn from(c: &EmailChange) -> Self {
        Self {
            id: c.id.clone(),
            account_id: c.account_id.to_string(),
            new_email: c.new_email.clone(),
            code_hash: c.code_hash.clone(),
            attempts: i64::from(c.attempts),
            created_at: to_millis(c.created_at),
            expires_at: to_millis(c.expires_at),
            closed_at: c.closed_at.map(to_millis),
        }
    }
}

impl TryFrom<ChangeRow> for EmailChange {
    type Error = RepositoryError;
    fn try_from(row: ChangeRow) -> RepositoryResult<Self> {
        Ok(Self {
            id: row.id,
            account_id: AccountId(parse_id(&row.account_id)?),
            new_email: row.new_email,
            code_hash: row.code_hash,
            attempts: u32::try_from(row.attempts)
                .map_err(|e| RepositoryError::Corrupt(format!("attempts: {e}")))?,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            closed_at: row.closed_at.map(from_millis).transpose()?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = email_undo_tokens)]
#[diesel(treat_none_as_default_value = false)]
struct UndoRow {
    token_hash: String,
    account_id: String,
    old_email: String,
    old_email_verified: bool,
    new_email: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

impl From<&EmailUndo> for UndoRow {
    fn from(u: &EmailUndo) -> Self {
        Self {
            token_hash: u.token_hash.clone(),
            account_id: u.account_id.to_string(),
            old_email: u.old_email.clone(),
            old_email_verified: u.old_email_verified,
            new_email: u.new_email.clone(),
            created_at: to_millis(u.created_at),
            expires_at: to_millis(u.expires_at),
            used_at: u.used_at.map(to_millis),
        }
    }
}

impl TryFrom<UndoRow> for EmailUndo {
    type Error = RepositoryError;
    fn try_from(row: UndoRow) -> RepositoryResult<Self> {
        Ok(Self {
            token_hash: row.token_hash,
            account_id: AccountId(parse_id(&row.account_id)?),
            old_email: row.old_email,
            old_email_verified: row.old_email_verified,
            new_email: row.new_email,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            used_at: row.used_at.map(from_millis).transpose()?,
        })
    }
}

impl<C> EmailChangeRepository for Db<C>
where
    Self: Connected,
{
    fn insert_email_change(&self, change: &EmailChange) -> RepositoryResult<()> {
        let row = ChangeRow::from(change);
        self.run(|c| {
            natively!(c, |c| {
                diesel::insert_into(email_changes::table)
                    .values(row)
                    .execute(c)
            })
        })
        .map(|_| ())
    }

    fn update_email_change(&self, change: &EmailChange) -> RepositoryResult<()> {
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(email_changes::table.find(change.id.clone()))
                    .set((
                        email_changes::attempts.eq(i64::from(change.attempts)),
                        email_changes::closed_at.eq(change.closed_at.map(to_millis)),
                    ))
                    .execute(c)
            })
        })
        .and_then(one_row)
    }

    fn latest_email_change(&self, account: AccountId) -> RepositoryResult<Option<EmailChange>> {
        self.run(|c| {
            natively!(c, |c| {
                email_changes::table
                    .filter(email_changes::account_id.eq(account.to_string()))
                    .order((email_changes::created_at.desc(), email_changes::id.desc()))
                    .select(ChangeRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(EmailChange::try_from)
        .transpose()
    }

    fn close_email_changes(&self, account: AccountId, at: DateTime<Utc>) -> RepositoryResult<u64> {
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    email_changes::table
                        .filter(email_changes::account_id.eq(account.to_string()))
                        .filter(email_changes::closed_at.is_null()),
                )
                .set(email_changes::closed_at.eq(Some(to_millis(at))))
                .execute(c)
            })
        })
        .map(|n| n as u64)
    }

    fn insert_email_undo(&self, undo: &EmailUndo) -> RepositoryResult<()> {
        let row = UndoRow::from(undo);
        self.run(|c| {
            natively!(c, |c| {
                diesel::insert_into(email_undo_tokens::table)
                    .values(row)
                    .execute(c)
            })
        })
        .map(|_| ())
    }

    fn email_undo(&self, token_hash: &str) -> RepositoryResult<Option<EmailUndo>> {
        self.run(|c| {
            natively!(c, |c| {
                email_undo_tokens::table
                    .find(token_hash.to_owned())
                    .select(UndoRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(EmailUndo::try_from)
        .transpose()
    }

    fn use_email_undo(&self, token_hash: &str, at: DateTime<Utc>) -> RepositoryResult<bool> {
        let changed = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    email_undo_tokens::table
                        .find(token_hash.to_owned())
                        .filter(email_undo_tokens::used_at.is_null()),
                )
                .set(email_undo_tokens::used_at.eq(Some(to_millis(at))))
                .execute(c)
            })
        })?;
        Ok(changed == 1)
    }
}
