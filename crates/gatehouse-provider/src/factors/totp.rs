//! Authenticator apps (TOTP, RFC 6238): HMAC-SHA1, 6 digits, 30-second steps, one
//! step of clock drift either way; the settings every app understands. The secret is
//! sealed at rest, bound to its factor row. A step accepted once is never accepted
//! again, and wrong codes are throttled per factor: six digits are guessable.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use chrono::{DateTime, Utc};
use gatehouse_core::login::LoginRequest;
use gatehouse_core::ports::{FactorGuardRepository, FactorRepository, RepositoryError};
use gatehouse_core::{Account, Factor, FactorId, FactorKind, FactorStatus};
use gatehouse_store::Tx;
use totp_rs::{Algorithm, Builder};

use super::bodies::{
    EnrolmentSetup, FactorChallenge, FactorConfirmation, FactorProof, TotpChallenge, TotpSetup,
};
use super::{
    EnrolFactor, Enrolment, FactorContext, FactorError, LoginFactor, Verdict, code_of, guard, qr,
    stored,
};
use crate::crypto::random;
use crate::problem::{Problem, ProblemCode};

pub const DIGITS: usize = 6;
pub const PERIOD_SECONDS: i64 = 30;
/// Steps of drift accepted either way.
pub const SKEW: i64 = 1;

#[derive(Debug)]
pub struct Totp;

/// The associated data a TOTP secret is sealed under: its factor row. An import of
/// TOTP secrets must seal them with `secrets.sealer.seal(raw_secret, &seal_context(id))`.
pub fn seal_context(id: FactorId) -> String {
    format!("factor:{id}:totp")
}

fn unavailable(what: &str) -> FactorError {
    FactorError::Repository(RepositoryError::Unavailable(what.to_owned()))
}

/// `:` separates issuer and account in an otpauth label, so neither may hold one.
fn label_part(text: &str) -> String {
    text.replace(':', " ").trim().to_owned()
}

fn generator(secret: Vec<u8>, account: &str, issuer: &str) -> Result<totp_rs::Totp, FactorError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS as u8)
        .with_skew(SKEW as u16)
        .with_step_duration(PERIOD_SECONDS as u64)
        .with_secret(secret)
        .with_account_name(label_part(account))
        .with_issuer(Some(label_part(issuer)))
        .build()
        .map_err(|e| unavailable(&format!("totp: {e}")))
}

/// The latest step within `SKEW` of now whose code is `code`. Every candidate is
/// compared, in constant time, so timing tells nothing about which one matched.
fn matching_step(generator: &totp_rs::Totp, code: &str, now: DateTime<Utc>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now.timestamp().div_euclid(PERIOD_SECONDS);
    let mut found = None;
    for step in current - SKEW..=current + SKEW {
        let Ok(time) = u64::try_from(step * PERIOD_SECONDS) else {
            continue;
        };
        let expected = generator.generate(time).to_string();
        if verify_slices_are_equal(expected.as_bytes(), code.as_bytes()).is_ok() {
            found = Some(step);
        }
    }
    found
}

/// Checks a code against a stored factor: throttle, code, replay.
fn check(
    ctx: &FactorContext<'_>,
    tx: &Tx<'_>,
    factor: &Factor,
    code: Option<&str>,
) -> Result<Verdict, FactorError> {
    let code = code_of(code)?;
    let left = match guard::take_attempt(tx, factor.id, factor.account_id, ctx.now)? {
        Ok(left) => left,
        Err(throttled) => return Ok(Verdict::Refused(throttled)),
    };
    let sealed = factor
        .secret
        .as_deref()
        .ok_or_else(|| RepositoryError::Corrupt("a totp factor without a secret".to_owned()))?;
    let secret = ctx
        .state
        .secrets
        .sealer
        .open(sealed, &seal_context(factor.id))
        .map_err(|e| RepositoryError::Corrupt(format!("totp secret: {e}")))?;
    let generator = generator(secret, "", &ctx.state.config.mail.product_name)?;
    let Some(step) = matching_step(&generator, code, ctx.now) else {
        return Ok(Verdict::Refused(guard::wrong_code(
            tx,
            factor.account_id,
            ctx.now,
            left,
        )?));
    };
    if !tx.advance_step(factor.id, step)? {
        return Ok(Verdict::Refused(
            Problem::new(ProblemCode::OtpReplayed, "This code was already used")
                .with_detail("Wait for the app to show the next code")
                .with_extension("attempts_left", left.into()),
        ));
    }
    guard::clear(tx, factor.id, factor.account_id)?;
    Ok(Verdict::Accepted(vec!["otp"]))
}

impl LoginFactor for Totp {
    fn kind(&self) -> FactorKind {
        FactorKind::Totp
    }

    fn challenge(
        &self,
        _ctx: &FactorContext<'_>,
        _tx: &Tx<'_>,
        _account: &Account,
        _factor: Option<&Factor>,
        _login: &LoginRequest,
    ) -> Result<FactorChallenge, FactorError> {
        // Nothing to send: the code is in the user's app.
        Ok(FactorChallenge::Totp(TotpChallenge {
            code_length: DIGITS,
        }))
    }

    fn verify(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        _account: &Account,
        factor: Option<&Factor>,
        _login: &LoginRequest,
        proof: &FactorProof,
    ) -> Result<Verdict, FactorError> {
        check(ctx, tx, stored(factor)?, proof.code())
    }
}

impl EnrolFactor for Totp {
    fn kind(&self) -> FactorKind {
        FactorKind::Totp
    }

    fn start(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
    ) -> Result<Enrolment, FactorError> {
        // 160 bits, the size RFC 4226 §4 recommends.
        let secret = random::bytes::<20>()?;
        let account_name = account
            .email
            .as_ref()
            .map_or_else(|| account.subject.to_string(), |e| e.as_str().to_owned());
        let generator = generator(
            secret.to_vec(),
            &account_name,
            &ctx.state.config.mail.product_name,
        )?;
        let uri = generator
            .to_url()
            .map_err(|e| unavailable(&format!("otpauth uri: {e}")))?;
        let png = qr::png_base64(&uri).ok_or_else(|| unavailable("qr code"))?;
        let svg = qr::svg(&uri).ok_or_else(|| unavailable("qr code"))?;
        let id = FactorId::new();
        let sealed = ctx.state.secrets.sealer.seal(&secret, &seal_context(id))?;
        let factor = Factor {
            id,
            account_id: account.id,
            kind: FactorKind::Totp,
            status: FactorStatus::Pending,
            label: None,
            public_data: None,
            secret: Some(sealed),
            created_at: ctx.now,
            last_used_at: None,
        };
        tx.insert_factor(&factor)?;
        Ok(Enrolment {
            factor,
            setup: EnrolmentSetup::Totp(TotpSetup {
                secret: generator.secret().to_base32(),
                otpauth_uri: uri,
                qr_png_base64: png,
                qr_svg: svg,
                algorithm: "SHA1".to_owned(),
                digits: DIGITS,
                period: PERIOD_SECONDS,
            }),
            renewed: false,
        })
    }

    fn confirm(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        _account: &Account,
        factor: &Factor,
        proof: &FactorConfirmation,
    ) -> Result<Verdict, FactorError> {
        check(ctx, tx, factor, proof.code())
    }
}
