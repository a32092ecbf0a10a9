//! The mail outbox.
//!
//! Claiming picks candidate ids, leases them with an `UPDATE` that states the
//! condition (pending, due, lease free or expired) again, and reads back the rows
//! the lease landed on. On PostgreSQL a worker that loses the race for a row waits
//! for the winner's commit, re-checks the condition on the new row version, finds
//! the lease taken and skips the row; on SQLite writers take turns. So two workers
//! never hold one mail, on either backend, without a locking clause.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use gatehouse_core::mail::{MailId, OutboxMail};
use gatehouse_core::ports::{MailOutbox, OutboxCounts, RepositoryError, RepositoryResult};

use crate::accounts::parse_id;
use crate::at_most_one::AtMostOne;
use crate::connection::Db;
use crate::connection::natively;
use crate::lease::claim_due;
use crate::schema::mail_outbox;
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = mail_outbox)]
#[diesel(treat_none_as_default_value = false)]
struct MailRow {
    id: String,
    recipient: String,
    subject: String,
    sealed_body: Option<Vec<u8>>,
    created_at: i64,
    attempts: i32,
    next_attempt_at: i64,
    lease_owner: Option<String>,
    lease_until: Option<i64>,
    sent_at: Option<i64>,
    failed_at: Option<i64>,
    last_error: Option<String>,
    expires_at: Option<i64>,
}

impl From<&OutboxMail> for MailRow {
    fn from(m: &OutboxMail) -> Self {
        Self {
            id: m.id.to_string(),
            recipient: m.recipient.clone(),
            subject: m.subject.clone(),
            sealed_body: m.sealed_body.clone(),
            created_at: to_millis(m.created_at),
            attempts: i32::try_from(m.attempts).unwrap_or(i32::MAX),
            next_attempt_at: to_millis(m.next_attempt_at),
            lease_owner: m.lease_owner.clone(),
            lease_until: m.lease_until.map(to_millis),
            sent_at: m.sent_at.map(to_millis),
            failed_at: m.failed_at.map(to_millis),
            last_error: m.last_error.clone(),
            expires_at: m.expires_at.map(to_millis),
        }
    }
}

impl TryFrom<MailRow> for OutboxMail {
    type Error = RepositoryError;
    fn try_from(row: MailRow) -> RepositoryResult<Self> {
        Ok(Self {
            id: MailId(parse_id(&row.id)?),
            recipient: row.recipient,
            subject: row.subject,
            sealed_body: row.sealed_body,
            created_at: from_millis(row.created_at)?,
            attempts: u32::try_from(row.attempts)
                .map_err(|_| RepositoryError::Corrupt(format!("mail attempts {}", row.attempts)))?,
            next_attempt_at: from_millis(row.next_attempt_at)?,
            lease_owner: row.lease_owner,
            lease_until: row.lease_until.map(from_millis).transpose()?,
            sent_at: row.sent_at.map(from_millis).transpose()?,
            failed_at: row.failed_at.map(from_millis).transpose()?,
            last_error: row.last_error,
            expires_at: row.expires_at.map(from_millis).transpose()?,
        })
    }
}

fn touched(affected: usize) -> RepositoryResult<bool> {
    Ok(affected > 0)
}

impl<C> MailOutbox for Db<C>
where
    Self: Connected,
{
    fn enqueue_mail(&self, mail: &OutboxMail) -> RepositoryResult<()> {
        let row = MailRow::from(mail);
        self.run(|c| {
            natively!(c, |c| diesel::insert_into(mail_outbox::table)
                .values(row)
                .execute(c))
        })
        .map(|_| ())
    }

    fn claim_mails(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> RepositoryResult<Vec<OutboxMail>> {
        let now = to_millis(now);
        let until = to_millis(lease_until);
        let mut claimed: Vec<OutboxMail> = self
            .run(|c| {
                natively!(c, |c| claim_due!(
                    c,
                    mail_outbox,
                    sent_at,
                    MailRow,
                    owner,
                    now,
                    until,
                    limit
                ))
            })?
            .into_iter()
            .map(OutboxMail::try_from)
            .collect::<RepositoryResult<_>>()?;
        claimed.sort_by_key(|mail| (mail.next_attempt_at, mail.id));
        Ok(claimed)
    }

    fn mark_mail_sent(&self, id: MailId, owner: &str, at: DateTime<Utc>) -> RepositoryResult<bool> {
        use mail_outbox::dsl as m;
        self.run(|c| {
            natively!(c, |c| diesel::update(
                m::mail_outbox
                    .find(id.to_string())
                    .filter(m::lease_owner.eq(owner))
                    .filter(m::sent_at.is_null()),
            )
            .set((
                m::sent_at.eq(to_millis(at)),
                m::sealed_body.eq(None::<Vec<u8>>),
                m::attempts.eq(m::attempts + 1),
                m::lease_owner.eq(None::<String>),
                m::lease_until.eq(None::<i64>),
            ))
            .execute(c))
        })
        .and_then(touched)
    }

    fn record_sent_late(&self, id: MailId, at: DateTime<Utc>) -> RepositoryResult<bool> {
        use mail_outbox::dsl as m;
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    m::mail_outbox
                        .find(id.to_string())
                        .filter(m::sent_at.is_null()),
                )
                .set((
                    m::sent_at.eq(to_millis(at)),
                    m::sealed_body.eq(None::<Vec<u8>>),
                    m::attempts.eq(m::attempts + 1),
                    m::failed_at.eq(None::<i64>),
                    m::lease_owner.eq(None::<String>),
                    m::lease_until.eq(None::<i64>),
                ))
                .execute(c)
            })
        })
        .and_then(touched)
    }

    fn renew_mail_leases(
        &self,
        ids: &[MailId],
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> RepositoryResult<u64> {
        use mail_outbox::dsl as m;
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let renewed = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    m::mail_outbox
                        .filter(m::id.eq_any(&ids))
                        .filter(m::lease_owner.eq(owner))
                        .filter(m::sent_at.is_null())
                        .filter(m::failed_at.is_null()),
                )
                .set(m::lease_until.eq(to_millis(lease_until)))
                .execute(c)
            })
        })?;
        Ok(u64::try_from(renewed).unwrap_or(u64::MAX))
    }

    fn hurry_mails(&self, now: DateTime<Utc>) -> RepositoryResult<u64> {
        use mail_outbox::dsl as m;
        let now = to_millis(now);
        let hurried = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    m::mail_outbox
                        .filter(m::sent_at.is_null())
                        .filter(m::failed_at.is_null())
                        .filter(m::attempts.gt(0))
                        .filter(m::next_attempt_at.gt(now)),
                )
                .set(m::next_attempt_at.eq(now))
                .execute(c)
            })
        })?;
        Ok(u64::try_from(hurried).unwrap_or(u64::MAX))
    }

    fn release_mails(&self, ids: &[MailId], owner: &str) -> RepositoryResult<u64> {
        use mail_outbox::dsl as m;
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let released = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    m::mail_outbox
                        .filter(m::id.eq_any(&ids))
                        .filter(m::lease_owner.eq(owner))
                        .filter(m::sent_at.is_null()),
                )
                .set((
                    m::lease_owner.eq(None::<String>),
                    m::lease_until.eq(None::<i64>),
                ))
                .execute(c)
            })
        })?;
        Ok(u64::try_from(released).unwrap_or(u64::MAX))
    }

    fn retry_mail_later(
        &self,
        id: MailId,
        owner: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> RepositoryResult<bool> {
        use mail_outbox::dsl as m;
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    m::mail_outbox
                        .find(id.to_string())
                        .filter(m::lease_owner.eq(owner))
                        .filter(m::sent_at.is_null()),
                )
                .set((
                    m::attempts.eq(m::attempts + 1),
                    m::last_error.eq(error),
                    m::next_attempt_at.eq(to_millis(next_attempt_at)),
                    m::lease_owner.eq(None::<String>),
                    m::lease_until.eq(None::<i64>),
                ))
                .execute(c)
            })
        })
        .and_then(touched)
    }

    fn give_up_mail(
        &self,
        id: MailId,
        owner: &str,
        error: &str,
        at: DateTime<Utc>,
    ) -> RepositoryResult<bool> {
        use mail_outbox::dsl as m;
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    m::mail_outbox
                        .find(id.to_string())
                        .filter(m::lease_owner.eq(owner))
                        .filter(m::sent_at.is_null()),
                )
                .set((
                    m::failed_at.eq(to_millis(at)),
                    m::sealed_body.eq(None::<Vec<u8>>),
                    m::attempts.eq(m::attempts + 1),
                    m::last_error.eq(error),
                    m::lease_owner.eq(None::<String>),
                    m::lease_until.eq(None::<i64>),
                ))
                .execute(c)
            })
        })
        .and_then(touched)
    }

    fn recent_mails(&self, limit: u32) -> RepositoryResult<Vec<OutboxMail>> {
        use mail_outbox::dsl as m;
        self.run(|c| {
            natively!(c, |c| {
                m::mail_outbox
                    .order((m::created_at.desc(), m::id.desc()))
                    .limit(i64::from(limit))
                    .select(MailRow::as_select())
                    .load(c)
            })
        })?
        .into_iter()
        .map(OutboxMail::try_from)
        .collect()
    }

    fn mail_by_id(&self, id: MailId) -> RepositoryResult<Option<OutboxMail>> {
        self.run(|c| {
            natively!(c, |c| {
                mail_outbox::table
                    .find(id.to_string())
                    .select(MailRow::as_select())
                    .at_most_one(c)
            })
        })?
        .map(OutboxMail::try_from)
        .transpose()
    }

    fn purge_mails(&self, before: DateTime<Utc>) -> RepositoryResult<u64> {
        use mail_outbox::dsl as m;
        let before = to_millis(before);
        let deleted = self.run(|c| {
            natively!(c, |c| {
                diesel::delete(
                    m::mail_outbox.filter(m::sent_at.lt(before).or(m::failed_at.lt(before))),
                )
                .execute(c)
            })
        })?;
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }

    fn outbox_counts(&self) -> RepositoryResult<OutboxCounts> {
        use mail_outbox::dsl as m;
        let (pending, sent, failed, oldest) = self.run(|c| {
            natively!(c, |c| {
                let pending: i64 = m::mail_outbox
                    .filter(m::sent_at.is_null().and(m::failed_at.is_null()))
                    .count()
                    .get_result(c)?;
                let sent: i64 = m::mail_outbox
                    .filter(m::sent_at.is_not_null())
                    .count()
                    .get_result(c)?;
                let failed: i64 = m::mail_outbox
                    .filter(m::failed_at.is_not_null())
                    .count()
                    .get_result(c)?;
                let oldest: Option<i64> = m::mail_outbox
                    .filter(m::sent_at.is_null().and(m::failed_at.is_null()))
                    .select(diesel::dsl::min(m::next_attempt_at))
                    .get_result(c)?;
                Ok((pending, sent, failed, oldest))
            })
        })?;
        let n = |v: i64| u64::try_from(v).unwrap_or_default();
        Ok(OutboxCounts {
            pending: n(pending),
            sent: n(sent),
            failed: n(failed),
            oldest_due_at: oldest.map(from_millis).transpose()?,
        })
    }
}
