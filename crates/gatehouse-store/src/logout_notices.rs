//! Back-channel logout notices: which clients each session was issued codes for, the
//! notices queued when a session ends, and their delivery leases (the mail outbox's
//! pattern: pick candidates, lease them with an `UPDATE` that states the condition
//! again, read back what the lease landed on).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use gatehouse_core::backchannel::LogoutNotice;
use gatehouse_core::ports::{LogoutNoticeQueue, RepositoryError, RepositoryResult};

use crate::connection::{Db, natively};
use crate::lease::claim_due;
use crate::schema::{accounts, clients, logout_notices, session_clients, sessions};
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = logout_notices)]
#[diesel(treat_none_as_default_value = false)]
struct NoticeRow {
    id: String,
    client_id: String,
    subject: String,
    session_id: String,
    created_at: i64,
    attempts: i32,
    next_attempt_at: i64,
    lease_owner: Option<String>,
    lease_until: Option<i64>,
    delivered_at: Option<i64>,
    failed_at: Option<i64>,
    last_error: Option<String>,
}

impl TryFrom<NoticeRow> for LogoutNotice {
    type Error = RepositoryError;
    fn try_from(row: NoticeRow) -> RepositoryResult<Self> {
        Ok(Self {
            id: row.id,
            client_id: row.client_id,
            subject: row.subject,
            session_id: row.session_id,
            created_at: from_millis(row.created_at)?,
            attempts: u32::try_from(row.attempts).map_err(|_| {
                RepositoryError::Corrupt(format!("notice attempts {}", row.attempts))
            })?,
            next_attempt_at: from_millis(row.next_attempt_at)?,
        })
    }
}

/// Notes that `session_id` was issued a code for `client_id` (once per pair).
pub(crate) fn record_session_client(
    db: &impl Connected,
    session_id: &str,
    client_id: &str,
    at: DateTime<Utc>,
) -> RepositoryResult<()> {
    let values = (
        session_clients::session_id.eq(session_id.to_owned()),
        session_clients::client_id.eq(client_id.to_owned()),
        session_clients::created_at.eq(to_millis(at)),
    );
    // A second code for the pair changes nothing, even when two race.
    db.run(|c| {
        natively!(c, |c| diesel::insert_into(session_clients::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c))
    })
    .map(|_| ())
}

/// Revokes the account's live sessions but `keep` and queues their notices: the
/// `UPDATE` names the sessions it ended, so of two racing ends each session's notices
/// are queued once (the later `UPDATE` re-checks `revoked_at` and skips it).
pub(crate) fn end_account_sessions(
    db: &impl Connected,
    account: &str,
    keep: &str,
    at: DateTime<Utc>,
) -> RepositoryResult<usize> {
    let ended: Vec<String> = db.run(|c| {
        natively!(c, |c| diesel::update(
            sessions::table
                .filter(sessions::account_id.eq(account.to_owned()))
                .filter(sessions::id.ne(keep.to_owned()))
                .filter(sessions::revoked_at.is_null()),
        )
        .set(sessions::revoked_at.eq(Some(to_millis(at))))
        .returning(sessions::id)
        .get_results(c))
    })?;
    queue_for_sessions(db, &ended, at)?;
    Ok(ended.len())
}

/// Queues a notice for every client that listens and was issued tokens under one of
/// `session_ids` that has not expired at `at`. Callers pass sessions that were live
/// until this moment (their revocation is written beside it).
pub(crate) fn queue_for_sessions(
    db: &impl Connected,
    session_ids: &[String],
    at: DateTime<Utc>,
) -> RepositoryResult<usize> {
    if session_ids.is_empty() {
        return Ok(0);
    }
    let now = to_millis(at);
    let live: Vec<(String, String)> = db.run(|c| {
        natively!(c, |c| {
            sessions::table
                .filter(sessions::id.eq_any(session_ids))
                .filter(sessions::expires_at.gt(now))
                .select((sessions::id, sessions::account_id))
                .load(c)
        })
    })?;
    if live.is_empty() {
        return Ok(0);
    }
    let live_ids: Vec<&String> = live.iter().map(|(id, _)| id).collect();
    let pairs: Vec<(String, String)> = db.run(|c| {
        natively!(c, |c| {
            session_clients::table
                .filter(session_clients::session_id.eq_any(&live_ids))
                .order((session_clients::session_id, session_clients::client_id))
                .select((session_clients::session_id, session_clients::client_id))
                .load(c)
        })
    })?;
    if pairs.is_empty() {
        return Ok(0);
    }
    let client_ids: Vec<&String> = pairs.iter().map(|(_, client)| client).collect();
    let listening: Vec<String> = db.run(|c| {
        natively!(c, |c| {
            clients::table
                .filter(clients::id.eq_any(&client_ids))
                .filter(clients::backchannel_logout_uri.is_not_null())
                .select(clients::id)
                .load(c)
        })
    })?;
    let account_ids: Vec<&String> = live.iter().map(|(_, account)| account).collect();
    let subjects: Vec<(String, String)> = db.run(|c| {
        natively!(c, |c| {
            accounts::table
                .filter(accounts::id.eq_any(&account_ids))
                .select((accounts::id, accounts::subject))
                .load(c)
        })
    })?;
    let subject_of = |session: &str| {
        let account = live.iter().find(|(id, _)| id == session).map(|(_, a)| a)?;
        subjects
            .iter()
            .find(|(id, _)| id == account)
            .map(|(_, s)| s.clone())
    };
    let rows: Vec<NoticeRow> = pairs
        .iter()
        .filter(|(_, client)| listening.contains(client))
        .filter_map(|(session, client)| {
            Some(NoticeRow {
                id: uuid::Uuid::new_v4().to_string(),
                client_id: client.clone(),
                subject: subject_of(session)?,
                session_id: session.clone(),
                created_at: now,
                attempts: 0,
                next_attempt_at: now,
                lease_owner: None,
                lease_until: None,
                delivered_at: None,
                failed_at: None,
                last_error: None,
            })
        })
        .collect();
    let queued = rows.len();
    // One statement per row: MultiConnection has no batch insert for SQLite.
    for row in rows {
        db.run(|c| {
            natively!(c, |c| {
                diesel::insert_into(logout_notices::table)
                    .values(row)
                    .execute(c)
            })
        })?;
    }
    Ok(queued)
}

fn touched(affected: usize) -> RepositoryResult<bool> {
    Ok(affected > 0)
}

impl<C> LogoutNoticeQueue for Db<C>
where
    Self: Connected,
{
    fn claim_logout_notices(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> RepositoryResult<Vec<LogoutNotice>> {
        let now = to_millis(now);
        let until = to_millis(lease_until);
        let mut claimed: Vec<LogoutNotice> = self
            .run(|c| {
                natively!(c, |c| claim_due!(
                    c,
                    logout_notices,
                    delivered_at,
                    NoticeRow,
                    owner,
                    now,
                    until,
                    limit
                ))
            })?
            .into_iter()
            .map(LogoutNotice::try_from)
            .collect::<RepositoryResult<_>>()?;
        claimed.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
        Ok(claimed)
    }

    fn logout_notice_delivered(
        &self,
        id: &str,
        owner: &str,
        at: DateTime<Utc>,
    ) -> RepositoryResult<bool> {
        use logout_notices::dsl as n;
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    n::logout_notices
                        .find(id.to_owned())
                        .filter(n::lease_owner.eq(owner))
                        .filter(n::delivered_at.is_null()),
                )
                .set((
                    n::delivered_at.eq(to_millis(at)),
                    n::attempts.eq(n::attempts + 1),
                    n::lease_owner.eq(None::<String>),
                    n::lease_until.eq(None::<i64>),
                ))
                .execute(c)
            })
        })
        .and_then(touched)
    }

    fn logout_notice_delivered_late(&self, id: &str, at: DateTime<Utc>) -> RepositoryResult<bool> {
        use logout_notices::dsl as n;
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    n::logout_notices
                        .find(id.to_owned())
                        .filter(n::delivered_at.is_null()),
                )
                .set((
                    n::delivered_at.eq(to_millis(at)),
                    n::attempts.eq(n::attempts + 1),
                    n::failed_at.eq(None::<i64>),
                    n::lease_owner.eq(None::<String>),
                    n::lease_until.eq(None::<i64>),
                ))
                .execute(c)
            })
        })
        .and_then(touched)
    }

    fn retry_logout_notice_later(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> RepositoryResult<bool> {
        use logout_notices::dsl as n;
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    n::logout_notices
                        .find(id.to_owned())
                        .filter(n::lease_owner.eq(owner))
                        .filter(n::delivered_at.is_null()),
                )
                .set((
                    n::attempts.eq(n::attempts + 1),
                    n::last_error.eq(error),
                    n::next_attempt_at.eq(to_millis(next_attempt_at)),
                    n::lease_owner.eq(None::<String>),
                    n::lease_until.eq(None::<i64>),
                ))
                .execute(c)
            })
        })
        .and_then(touched)
    }

    fn give_up_logout_notice(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        at: DateTime<Utc>,
    ) -> RepositoryResult<bool> {
        use logout_notices::dsl as n;
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    n::logout_notices
                        .find(id.to_owned())
                        .filter(n::lease_owner.eq(owner))
                        .filter(n::delivered_at.is_null()),
                )
                .set((
                    n::failed_at.eq(to_millis(at)),
                    n::attempts.eq(n::attempts + 1),
                    n::last_error.eq(error),
                    n::lease_owner.eq(None::<String>),
                    n::lease_until.eq(None::<i64>),
                ))
                .execute(c)
            })
        })
        .and_then(touched)
    }

    fn purge_logout_notices(&self, before: DateTime<Utc>) -> RepositoryResult<u64> {
        use logout_notices::dsl as n;
        let before = to_millis(before);
        let deleted = self.run(|c| {
            natively!(c, |c| {
                diesel::delete(
                    n::logout_notices
                        .filter(n::delivered_at.is_not_null().or(n::failed_at.is_not_null()))
                        .filter(n::created_at.lt(before)),
                )
                .execute(c)
            })
        })?;
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }
}
