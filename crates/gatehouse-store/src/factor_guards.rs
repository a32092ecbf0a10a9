//! Per-factor guards: the attempt throttle and the last accepted TOTP step.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use gatehouse_core::FactorId;
use gatehouse_core::factor_guard::Attempts;
use gatehouse_core::ports::{FactorGuardRepository, RepositoryError, RepositoryResult};

use crate::at_most_one::AtMostOne;
use crate::connection::Db;
use crate::connection::natively;
use crate::schema::factor_guards;
use crate::time::{from_millis, to_millis};
use crate::transaction::Connected;

impl<C> FactorGuardRepository for Db<C>
where
    Self: Connected,
{
    fn open_guard(&self, factor: FactorId, now: DateTime<Utc>) -> RepositoryResult<()> {
        self.run(|c| {
            natively!(c, |c| {
                diesel::insert_into(factor_guards::table)
                    .values((
                        factor_guards::factor_id.eq(factor.to_string()),
                        factor_guards::attempts.eq(0i64),
                        factor_guards::window_started_at.eq(to_millis(now)),
                    ))
                    .execute(c)
            })
        })
        .map(|_| ())
    }

    fn take_attempt(
        &self,
        factor: FactorId,
        now: DateTime<Utc>,
        window: TimeDelta,
    ) -> RepositoryResult<Attempts> {
        let id = factor.to_string();
        let now_ms = to_millis(now);
        let stale_before = to_millis(now - window);
        self.run(|c| {
            natively!(c, |c| {
                let exists = factor_guards::table
                    .find(id.clone())
                    .select(factor_guards::factor_id)
                    .at_most_one::<String>(c)?
                    .is_some();
                if !exists {
                    diesel::insert_into(factor_guards::table)
                        .values((
                            factor_guards::factor_id.eq(id.clone()),
                            factor_guards::attempts.eq(0i64),
                            factor_guards::window_started_at.eq(now_ms),
                        ))
                        .execute(c)?;
                }
                // A window that is over starts again at this attempt.
                diesel::update(
                    factor_guards::table
                        .find(id.clone())
                        .filter(factor_guards::window_started_at.le(stale_before)),
                )
                .set((
                    factor_guards::attempts.eq(0i64),
                    factor_guards::window_started_at.eq(now_ms),
                ))
                .execute(c)?;
                // One statement: concurrent attempts are counted one after the other.
                diesel::update(factor_guards::table.find(id.clone()))
                    .set(factor_guards::attempts.eq(factor_guards::attempts + 1i64))
                    .execute(c)?;
                factor_guards::table
                    .find(id.clone())
                    .select((factor_guards::attempts, factor_guards::window_started_at))
                    .at_most_one::<(i64, i64)>(c)?
                    .ok_or(diesel::result::Error::NotFound)
            })
        })
        .and_then(|(count, started)| {
            Ok(Attempts {
                count: u32::try_from(count)
                    .map_err(|e| RepositoryError::Corrupt(format!("factor attempts: {e}")))?,
                window_started_at: from_millis(started)?,
            })
        })
    }

    fn clear_attempts(&self, factor: FactorId) -> RepositoryResult<()> {
        self.run(|c| {
            natively!(c, |c| {
                diesel::update(factor_guards::table.find(factor.to_string()))
                    .set(factor_guards::attempts.eq(0i64))
                    .execute(c)
            })
        })
        .map(|_| ())
    }

    fn advance_step(&self, factor: FactorId, step: i64) -> RepositoryResult<bool> {
        // One conditional UPDATE: of two racing uses of one code, exactly one wins.
        let changed = self.run(|c| {
            natively!(c, |c| {
                diesel::update(
                    factor_guards::table.find(factor.to_string()).filter(
                        factor_guards::last_step
                            .is_null()
                            .or(factor_guards::last_step.lt(step)),
                    ),
                )
                .set(factor_guards::last_step.eq(Some(step)))
                .execute(c)
            })
        })?;
        Ok(changed == 1)
    }
}
