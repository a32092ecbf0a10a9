//! The audit log.

use diesel::prelude::*;
use gatehouse_core::ports::{AuditLog, RepositoryError, RepositoryResult};
use gatehouse_core::{AccountId, AuditEvent, NewAuditEvent};
use std::collections::BTreeMap;

use crate::accounts::parse_id;
use crate::connection::Db;
use crate::connection::natively;
use crate::schema::audit_events;
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
#[diesel(treat_none_as_default_value = false)]
struct NewEventRow {
    account_id: Option<String>,
    kind: String,
    at: i64,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct EventRow {
    sequence: i64,
    account_id: Option<String>,
    kind: String,
    at: i64,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: String,
}

impl TryFrom<EventRow> for AuditEvent {
    type Error = RepositoryError;
    fn try_from(row: EventRow) -> RepositoryResult<Self> {
        let detail: BTreeMap<String, String> = serde_json::from_str(&row.detail)
            .map_err(|e| RepositoryError::Corrupt(format!("audit detail: {e}")))?;
        Ok(Self {
            sequence: row.sequence,
            event: NewAuditEvent {
                account_id: row
                    .account_id
                    .as_deref()
                    .map(parse_id)
                    .transpose()?
                    .map(AccountId),
                kind: row.kind.parse().map_err(RepositoryError::Corrupt)?,
                at: from_millis(row.at)?,
                ip: row.ip,
                user_agent: row.user_agent,
                detail,
            },
        })
    }
}

impl<C> AuditLog for Db<C>
where
    Self: Connected,
{
    fn record(&self, event: &NewAuditEvent) -> RepositoryResult<AuditEvent> {
        let detail = serde_json::to_string(&event.detail)
            .map_err(|e| RepositoryError::Corrupt(format!("audit detail: {e}")))?;
        let row = NewEventRow {
            account_id: event.account_id.map(|id| id.to_string()),
            kind: event.kind.as_str().to_owned(),
            at: to_millis(event.at),
            ip: event.ip.clone(),
            user_agent: event.user_agent.clone(),
            detail,
        };
        let sequence: i64 = self.run(|c| {
            natively!(c, |c| diesel::insert_into(audit_events::table)
                .values(row)
                .returning(audit_events::sequence)
                .get_result(c))
        })?;
        Ok(AuditEvent {
            sequence,
            event: event.clone(),
        })
    }

    fn events_of(
        &self,
        account: AccountId,
        before: Option<i64>,
        limit: u32,
    ) -> RepositoryResult<Vec<AuditEvent>> {
        self.run(|c| {
            natively!(c, |c| {
                let mut query = audit_events::table
                    .filter(audit_events::account_id.eq(account.to_string()))
                    .order(audit_events::sequence.desc())
                    .limit(i64::from(limit))
                    .select(EventRow::as_select())
                    .into_boxed();
                if let Some(before) = before {
                    query = query.filter(audit_events::sequence.lt(before));
                }
                query.load(c)
            })
        })?
        .into_iter()
        .map(AuditEvent::try_from)
        .collect()
    }
}
