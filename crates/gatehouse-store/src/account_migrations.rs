//! Migration records of imported accounts, and the importer's bulk operations.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use gatehouse_core::ports::{
    AccountImport, MigrationCount, MigrationRepository, RepositoryError, RepositoryResult,
};
use gatehouse_core::registration::{AGE_BUCKETS, AccountMigration, MigrationState};
use gatehouse_core::{Account, AccountId, Factor};

use crate::accounts::{AccountRow, corrupt, parse_id};
use crate::at_most_one::AtMostOne;
use crate::connection::natively;
use crate::connection::{Db, DbConnection};
use crate::error::one_row;
use crate::factors::FactorRow;
use crate::schema::{account_migrations as m, accounts, factors as f};
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = m)]
#[diesel(treat_none_as_null = true)]
#[diesel(treat_none_as_default_value = false)]
struct MigrationRow {
    account_id: String,
    state: String,
    fingerprint: String,
    imported_at: i64,
    updated_at: i64,
    first_invited_at: Option<i64>,
    last_invited_at: Option<i64>,
    invitations_sent: i32,
    link_expires_at: Option<i64>,
    registered_at: Option<i64>,
}

impl From<&AccountMigration> for MigrationRow {
    fn from(r: &AccountMigration) -> Self {
        Self {
            account_id: r.account_id.to_string(),
            state: r.stored_state.as_str().to_owned(),
            fingerprint: r.fingerprint.clone(),
            imported_at: to_millis(r.imported_at),
            updated_at: to_millis(r.updated_at),
            first_invited_at: r.first_invited_at.map(to_millis),
            last_invited_at: r.last_invited_at.map(to_millis),
            invitations_sent: i32::try_from(r.invitations_sent).unwrap_or(i32::MAX),
            link_expires_at: r.link_expires_at.map(to_millis),
            registered_at: r.registered_at.map(to_millis),
        }
    }
}

fn instant(millis: Option<i64>) -> RepositoryResult<Option<DateTime<Utc>>> {
    millis.map(from_millis).transpose()
}

impl TryFrom<MigrationRow> for AccountMigration {
    type Error = RepositoryError;
    fn try_from(row: MigrationRow) -> RepositoryResult<Self> {
        Ok(Self {
            account_id: AccountId(parse_id(&row.account_id)?),
            stored_state: row.state.parse().map_err(|e: String| corrupt("state", e))?,
            fingerprint: row.fingerprint,
            imported_at: from_millis(row.imported_at)?,
            updated_at: from_millis(row.updated_at)?,
            first_invited_at: instant(row.first_invited_at)?,
            last_invited_at: instant(row.last_invited_at)?,
            invitations_sent: u32::try_from(row.invitations_sent)
                .map_err(|e| corrupt("invitations_sent", e))?,
            link_expires_at: instant(row.link_expires_at)?,
            registered_at: instant(row.registered_at)?,
        })
    }
}

fn count(n: i64) -> RepositoryResult<u64> {
    u64::try_from(n).map_err(|e| corrupt("count", e))
}

impl<C> MigrationRepository for Db<C>
where
    Self: Connected,
{
    fn insert_migration(&self, migration: &AccountMigration) -> RepositoryResult<()> {
        let row = MigrationRow::from(migration);
        self.run(|c| natively!(c, |c| diesel::insert_into(m::table).values(row).execute(c)))
            .map(|_| ())
    }

    fn update_migration(&self, migration: &AccountMigration) -> RepositoryResult<()> {
        let row = MigrationRow::from(migration);
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(m::table.find(row.account_id.clone()))
                    .set(&row)
                    .execute(c)
            })
        })
        .and_then(one_row)
    }

    fn migration_of(&self, account: AccountId) -> RepositoryResult<Option<AccountMigration>> {
        self.run(|c| {
            natively!(c, |c| {
                m::table
                    .find(account.to_string())
                    .select(MigrationRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(AccountMigration::try_from)
        .transpose()
    }

    fn migration_counts(&self, now: DateTime<Utc>) -> RepositoryResult<Vec<MigrationCount>> {
        let now_ms = to_millis(now);
        let mut counts = Vec::new();
        for state in MigrationState::ALL {
            let mut newer_than = now_ms;
            for (age, limit) in AGE_BUCKETS {
                // Bucket by the time of the state's last change: (now - limit, newer_than].
                let older_bound = now.checked_sub_signed(limit).map_or(i64::MIN, to_millis);
                let n: i64 = self.run(|c| {
                    natively!(c, |c| {
                        let query = m::table
                            .filter(m::updated_at.le(newer_than))
                            .filter(m::updated_at.gt(older_bound))
                            .into_boxed();
                        let query = match state {
                            MigrationState::Invited => query
                                .filter(m::state.eq("invited"))
                                .filter(m::link_expires_at.gt(now_ms)),
                            MigrationState::Expired => query
                                .filter(m::state.eq("invited"))
                                .filter(m::link_expires_at.le(now_ms)),
                            other => query.filter(m::state.eq(other.as_str())),
                        };
                        query.count().get_result(c)
                    })
                })?;
                if n > 0 {
                    counts.push(MigrationCount {
                        state,
                        age,
                        count: count(n)?,
                    });
                }
                newer_than = older_bound;
            }
        }
        Ok(counts)
    }

    fn invitation_candidates(
        &self,
        remind_before: Option<DateTime<Utc>>,
        after: Option<AccountId>,
        limit: u32,
    ) -> RepositoryResult<Vec<AccountMigration>> {
        self.run(|c| {
            natively!(c, |c| {
                let mut query = m::table
                    .inner_join(accounts::table)
                    .filter(accounts::status.eq("pending_registration"))
                    .select(MigrationRow::as_select())
                    .order(m::account_id)
                    .limit(i64::from(limit))
                    .into_boxed();
                query = match remind_before {
                    None => query.filter(m::state.eq("imported")),
                    Some(before) => query.filter(
                        m::state.eq("imported").or(m::state
                            .eq("invited")
                            .and(m::last_invited_at.lt(to_millis(before)))),
                    ),
                };
                if let Some(after) = after {
                    query = query.filter(m::account_id.gt(after.to_string()));
                }
                query.load(c)
            })
        })?
        .into_iter()
        .map(AccountMigration::try_from)
        .collect()
    }
}

impl<C> AccountImport for Db<C>
where
    Self: Connected,
{
    fn accounts_by_subjects(
        &self,
        subjects: &[String],
    ) -> RepositoryResult<Vec<(Account, Option<AccountMigration>)>> {
        let rows: Vec<(AccountRow, Option<MigrationRow>)> = self.run(|c| {
            natively!(c, |c| {
                accounts::table
                    .left_join(m::table)
                    .filter(accounts::subject.eq_any(subjects))
                    .select((AccountRow::as_select(), Option::<MigrationRow>::as_select()))
                    .load(c)
            })
        })?;
        rows.into_iter()
            .map(|(account, migration)| {
                Ok((
                    Account::try_from(account)?,
                    migration.map(AccountMigration::try_from).transpose()?,
                ))
            })
            .collect()
    }

    fn subjects_by_emails(&self, normalized: &[String]) -> RepositoryResult<Vec<(String, String)>> {
        let rows: Vec<(Option<String>, String)> = self.run(|c| {
            natively!(c, |c| {
                accounts::table
                    .filter(accounts::email_normalized.eq_any(normalized))
                    .select((accounts::email_normalized, accounts::subject))
                    .load(c)
            })
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(e, s)| Some((e?, s)))
            .collect())
    }

    fn subjects_by_usernames(
        &self,
        normalized: &[String],
    ) -> RepositoryResult<Vec<(String, String)>> {
        let rows: Vec<(Option<String>, String)> = self.run(|c| {
            natively!(c, |c| {
                accounts::table
                    .filter(accounts::legacy_username_normalized.eq_any(normalized))
                    .select((accounts::legacy_username_normalized, accounts::subject))
                    .load(c)
            })
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(u, s)| Some((u?, s)))
            .collect())
    }

    fn accounts_after(
        &self,
        after: Option<AccountId>,
        limit: u32,
    ) -> RepositoryResult<Vec<Account>> {
        self.run(|c| {
            natively!(c, |c| {
                let mut query = accounts::table
                    .select(AccountRow::as_select())
                    .order(accounts::id)
                    .limit(i64::from(limit))
                    .into_boxed();
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

    fn insert_imported(
        &self,
        rows: &[(Account, AccountMigration)],
        factors: &[Factor],
    ) -> RepositoryResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let factor_rows: Vec<FactorRow> = factors.iter().map(FactorRow::from).collect();
        let accounts_rows: Vec<AccountRow> =
            rows.iter().map(|(a, _)| AccountRow::from(a)).collect();
        let migration_rows: Vec<MigrationRow> =
            rows.iter().map(|(_, m)| MigrationRow::from(m)).collect();
        // MultiBackend has no multi-row INSERT: PostgreSQL gets one statement per table
        // (one round trip); SQLite, in process, reuses one prepared statement per row.
        self.run(|c| match c {
            DbConnection::Postgresql(pg) => {
                // COPY: no statement with tens of thousands of parameters to parse.
                diesel::copy_from(accounts::table)
                    .from_insertable(&accounts_rows)
                    .execute(pg)?;
                diesel::copy_from(m::table)
                    .from_insertable(&migration_rows)
                    .execute(pg)?;
                if !factor_rows.is_empty() {
                    diesel::copy_from(f::table)
                        .from_insertable(&factor_rows)
                        .execute(pg)?;
                }
                Ok(rows.len())
            }
            DbConnection::Sqlite(lite) => {
                for row in &accounts_rows {
                    diesel::insert_into(accounts::table)
                        .values(row)
                        .execute(lite)?;
                }
                for row in &migration_rows {
                    diesel::insert_into(m::table).values(row).execute(lite)?;
                }
                for row in &factor_rows {
                    diesel::insert_into(f::table).values(row).execute(lite)?;
                }
                Ok(rows.len())
            }
        })?;
        Ok(())
    }
}
