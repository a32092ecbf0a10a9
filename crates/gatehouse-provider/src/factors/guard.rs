//! The per-factor throttle on wrong proofs (rules in `gatehouse_core::factor_guard`),
//! as the factor modules use it.

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use gatehouse_core::FactorId;
use gatehouse_core::factor_guard::{ATTEMPT_WINDOW, AttemptVerdict, judge};
use gatehouse_core::ports::{FactorGuardRepository, RepositoryError};
use gatehouse_store::Tx;

use crate::problem::Problem;

/// Counts an attempt at proving `factor`. `Ok(Ok(left))`: check the proof, `left`
/// attempts remain if it is wrong. `Ok(Err(problem))`: 429 `rate_limited`, to answer
/// without checking (the count still commits).
pub fn take_attempt(
    tx: &Tx<'_>,
    factor: FactorId,
    now: DateTime<Utc>,
) -> Result<Result<u32, Problem>, RepositoryError> {
    let attempts = tx.take_attempt(factor, now, ATTEMPT_WINDOW)?;
    Ok(match judge(attempts, now) {
        AttemptVerdict::Check { left_if_wrong } => Ok(left_if_wrong),
        AttemptVerdict::Throttled { retry_after } => Err(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many wrong codes for this method",
        )
        .with_detail("Wait before trying again, or try another method")
        .with_extension("retry_after", retry_after.num_seconds().into())),
    })
}

/// 422 for a wrong code, with the attempts left before the factor is throttled.
pub fn wrong_code(attempts_left: u32) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "otp_invalid",
        "The code was not accepted",
    )
    .with_extension("attempts_left", attempts_left.into())
}
