//! The throttle on wrong proofs (rules in `gatehouse_core::factor_guard`), as the
//! factor modules use it: per factor, and per account over all its factors.

use chrono::{DateTime, Utc};
use gatehouse_core::factor_guard::{
    ACCOUNT_WINDOW, ATTEMPT_WINDOW, AttemptVerdict, MAX_ACCOUNT_WRONG_PROOFS, judge, window_start,
};
use gatehouse_core::ports::{
    AccountRepository, FactorGuardRepository, RateLimits, RepositoryError,
};
use gatehouse_core::{AccountId, FactorId};
use gatehouse_store::Tx;

use crate::problem::{Problem, ProblemCode};

fn account_key(account: AccountId) -> String {
    format!("wrong-proofs:{account}")
}

/// Counts an attempt at proving `factor` of `account`. `Ok(Ok(left))`: check the
/// proof, `left` attempts remain if it is wrong (then call [`count_wrong`]).
/// `Ok(Err(problem))`: 429 `rate_limited`, to answer without checking (the count
/// still commits).
///
/// The account's row is held until the transaction ends, so the proofs of one
/// account are checked one at a time: proofs sent at once, on several factors, would
/// otherwise all read the account's budget before any of them counted against it.
pub fn take_attempt(
    tx: &Tx<'_>,
    factor: FactorId,
    account: AccountId,
    now: DateTime<Utc>,
) -> Result<Result<u32, Problem>, RepositoryError> {
    tx.account_row_for_update(account)?;
    let start = window_start(now, ACCOUNT_WINDOW);
    if tx.hits(&account_key(account), start)? >= MAX_ACCOUNT_WRONG_PROOFS {
        let retry_after = (start + ACCOUNT_WINDOW - now).num_seconds().max(1);
        return Ok(Err(Problem::new(
            ProblemCode::RateLimited,
            "Too many wrong answers for this account",
        )
        .with_detail("Too many wrong answers for this account: wait before trying again")
        .with_extension("retry_after", retry_after.into())));
    }
    let attempts = tx.take_attempt(factor, now, ATTEMPT_WINDOW)?;
    Ok(match judge(attempts, now) {
        AttemptVerdict::Check { left_if_wrong } => Ok(left_if_wrong),
        AttemptVerdict::Throttled { retry_after } => Err(Problem::new(
            ProblemCode::RateLimited,
            "Too many wrong codes for this method",
        )
        .with_detail("Wait before trying again, or try another method")
        .with_extension("retry_after", retry_after.num_seconds().into())),
    })
}

/// A right proof: the factor's count and the account's budget start over.
pub fn clear(tx: &Tx<'_>, factor: FactorId, account: AccountId) -> Result<(), RepositoryError> {
    tx.clear_attempts(factor)?;
    clear_account(tx, account)
}

/// The account's budget of wrong proofs starts over (an operator's unlock).
pub fn clear_account(tx: &Tx<'_>, account: AccountId) -> Result<(), RepositoryError> {
    tx.clear_hits(&account_key(account))
}

/// Counts a wrong proof against the account's budget.
pub fn count_wrong(
    tx: &Tx<'_>,
    account: AccountId,
    now: DateTime<Utc>,
) -> Result<(), RepositoryError> {
    tx.hit(&account_key(account), window_start(now, ACCOUNT_WINDOW))
        .map(|_| ())
}

/// Counts a wrong code against the account and answers 422, with the attempts left
/// before the factor is throttled.
pub fn wrong_code(
    tx: &Tx<'_>,
    account: AccountId,
    now: DateTime<Utc>,
    attempts_left: u32,
) -> Result<Problem, RepositoryError> {
    count_wrong(tx, account, now)?;
    Ok(
        Problem::new(ProblemCode::OtpInvalid, "The code was not accepted")
            .with_extension("attempts_left", attempts_left.into()),
    )
}
