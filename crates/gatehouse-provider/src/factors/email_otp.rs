//! The e-mail one-time code: 6 digits mailed through the outbox, stored as a keyed
//! hash bound to its challenge, 10 minutes, 5 tries, 5 sends per 15 minutes.

use super::bodies::{EmailOtpChallenge, FactorChallenge, FactorProof};
use super::{FactorContext, FactorError, LoginFactor, Verdict, code_of};
use crate::crypto::random;
use crate::problem::{Problem, ProblemCode};
use gatehouse_core::login::LoginRequest;
use gatehouse_core::otp::{self, OtpChallenge, OtpRefusal};
use gatehouse_core::ports::{AccountRepository, OtpRepository, RepositoryError};
use gatehouse_core::{Account, Factor, FactorKind};
use gatehouse_store::Tx;

#[derive(Debug)]
pub struct EmailOtp;

/// The hashed value binds the code to its challenge: a code is only good for the
/// login it was sent for.
fn bound(challenge_id: &str, code: &str) -> String {
    format!("{challenge_id}:{code}")
}

fn refusal(r: OtpRefusal) -> Problem {
    let title = match r {
        OtpRefusal::SendLimit { .. } => "Too many codes were sent",
        _ => "The code was not accepted",
    };
    let problem = Problem::new(ProblemCode::from(&r), title).with_detail(r.to_string());
    match r {
        OtpRefusal::Wrong { attempts_left } => {
            problem.with_extension("attempts_left", attempts_left.into())
        }
        // Like every 429: `retry_after` here, and `Retry-After` in the header.
        OtpRefusal::SendLimit {
            retry_after_seconds,
        } => problem.with_extension("retry_after", retry_after_seconds.into()),
        _ => problem,
    }
}

impl LoginFactor for EmailOtp {
    fn kind(&self) -> FactorKind {
        FactorKind::EmailOtp
    }

    fn challenge(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
        _factor: Option<&Factor>,
        login: &LoginRequest,
    ) -> Result<FactorChallenge, FactorError> {
        let Some(email) = &account.email else {
            return Err(FactorError::refused(
                ProblemCode::FactorUnavailable,
                "This account has no e-mail address",
            ));
        };
        let now = ctx.now;
        let limits = ctx.state.config.email_otp.limits();
        // Codes asked for at once (from several logins) would otherwise all count the
        // account's sends before any of them is written.
        tx.account_row_for_update(account.id)?;
        let sends = tx.otp_sends_since(account.id, now - limits.send_window)?;
        otp::check_send_allowed(&sends, now, &limits)
            .map_err(|r| FactorError::Refused(Box::new(refusal(r))))?;
        // A new code voids the one before it.
        if let Some(mut previous) = tx.latest_otp(&login.id)?
            && previous.closed_at.is_none()
        {
            previous.closed_at = Some(now);
            tx.update_otp(&previous)?;
        }
        let unavailable =
            |e: crate::crypto::CryptoError| RepositoryError::Unavailable(e.to_string());
        let code = random::one_time_code().map_err(unavailable)?;
        let id = random::token().map_err(unavailable)?;
        let challenge = OtpChallenge {
            code_hash: ctx.state.secrets.hasher.hash(&bound(&id, &code)),
            id,
            login_request_id: login.id.clone(),
            account_id: account.id,
            attempts: 0,
            created_at: now,
            expires_at: now + limits.code_ttl,
            closed_at: None,
        };
        tx.insert_otp(&challenge)?;
        let message = ctx.state.outbox.templates().one_time_code(
            email,
            account.locale.as_deref(),
            &code,
            limits.code_ttl,
        );
        ctx.state.outbox.enqueue_in(tx, &message, now)?;
        Ok(FactorChallenge::EmailOtp(EmailOtpChallenge {
            sent_to: email.masked(),
            expires_in: limits.code_ttl.num_seconds(),
            code_length: otp::CODE_DIGITS,
        }))
    }

    fn verify(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        _account: &Account,
        _factor: Option<&Factor>,
        login: &LoginRequest,
        proof: &FactorProof,
    ) -> Result<Verdict, FactorError> {
        let code = code_of(proof.code())?;
        let limits = ctx.state.config.email_otp.limits();
        let latest = tx.latest_otp(&login.id)?;
        if let Err(r) = otp::check_open(latest.as_ref(), ctx.now, &limits) {
            return Ok(Verdict::Refused(refusal(r)));
        }
        let Some(mut challenge) = latest else {
            return Ok(Verdict::Refused(refusal(OtpRefusal::NotSent)));
        };
        let code = code.trim();
        if ctx
            .state
            .secrets
            .hasher
            .verify(&bound(&challenge.id, code), &challenge.code_hash)
        {
            challenge.closed_at = Some(ctx.now);
            tx.update_otp(&challenge)?;
            return Ok(Verdict::Accepted(vec!["otp"]));
        }
        let refused = otp::record_wrong(&mut challenge, &limits);
        tx.update_otp(&challenge)?;
        Ok(Verdict::Refused(refusal(refused)))
    }
}
