//! Recovery codes: ten single-use codes, shown once when made, stored as keyed hashes
//! bound to their set. A set is one factor row; making a new set deletes the old one
//! (and its codes) in the same transaction. Each code proves a login once (`otp`).

use super::bodies::{
    EnrolmentSetup, FactorChallenge, FactorConfirmation, FactorProof, RecoveryCodeChallenge,
    RecoveryCodeSetup,
};
use gatehouse_core::login::LoginRequest;
use gatehouse_core::ports::{AuditLog, FactorRepository, RecoveryCodeRepository, RepositoryError};
use gatehouse_core::recovery_code::{self, CODES_PER_SET, RecoveryCode};
use gatehouse_core::{
    Account, AuditKind, Factor, FactorId, FactorKind, FactorStatus, NewAuditEvent,
};
use gatehouse_store::Tx;

use super::{
    EnrolFactor, Enrolment, FactorContext, FactorError, LoginFactor, Verdict, code_of, guard,
    stored,
};
use crate::crypto::random;
use crate::problem::ProblemCode;

#[derive(Debug)]
pub struct RecoveryCodes;

/// The hashed value binds a code to its set.
fn bound(set: FactorId, normalized: &str) -> String {
    format!("recovery:{set}:{normalized}")
}

impl LoginFactor for RecoveryCodes {
    fn kind(&self) -> FactorKind {
        FactorKind::RecoveryCode
    }

    fn challenge(
        &self,
        _ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        _account: &Account,
        factor: Option<&Factor>,
        _login: &LoginRequest,
    ) -> Result<FactorChallenge, FactorError> {
        let remaining = tx.unused_recovery_codes(stored(factor)?.id)?.len();
        Ok(FactorChallenge::RecoveryCode(RecoveryCodeChallenge {
            format: "xxxxx-xxxxx".to_owned(),
            remaining,
        }))
    }

    fn verify(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
        factor: Option<&Factor>,
        login: &LoginRequest,
        proof: &FactorProof,
    ) -> Result<Verdict, FactorError> {
        let set = stored(factor)?.id;
        let typed = code_of(proof.code())?;
        let left = match guard::take_attempt(tx, set, account.id, ctx.now)? {
            Ok(left) => left,
            Err(throttled) => return Ok(Verdict::Refused(throttled)),
        };
        let Some(normalized) = recovery_code::normalize(typed) else {
            return Ok(Verdict::Refused(guard::wrong_code(
                tx, account.id, ctx.now, left,
            )?));
        };
        let candidate = bound(set, &normalized);
        let hasher = &ctx.state.secrets.hasher;
        // Every unused code is compared (in constant time), whichever matches.
        let mut hit = None;
        for code in tx.unused_recovery_codes(set)? {
            if hasher.verify(&candidate, &code.code_hash) {
                hit = Some(code.id);
            }
        }
        match hit {
            Some(id) if tx.use_recovery_code(&id, ctx.now)? => {
                guard::clear(tx, set, account.id)?;
                let left = tx.unused_recovery_codes(set)?.len();
                tx.record(
                    &NewAuditEvent::new(AuditKind::RecoveryCodeUsed, Some(account.id), ctx.now)
                        .with_detail("client_id", login.request.client_id.clone())
                        .with_detail("remaining", left.to_string()),
                )?;
                Ok(Verdict::Accepted(vec!["otp"]))
            }
            _ => Ok(Verdict::Refused(guard::wrong_code(
                tx, account.id, ctx.now, left,
            )?)),
        }
    }
}

impl EnrolFactor for RecoveryCodes {
    fn kind(&self) -> FactorKind {
        FactorKind::RecoveryCode
    }

    fn start(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
    ) -> Result<Enrolment, FactorError> {
        // The old set dies with its factor row (its codes cascade).
        let mut renewed = false;
        for old in tx.factors_of(account.id)? {
            if old.kind == FactorKind::RecoveryCode {
                tx.delete_factor(old.id)?;
                renewed = true;
            }
        }
        let factor = Factor {
            id: FactorId::new(),
            account_id: account.id,
            kind: FactorKind::RecoveryCode,
            // Nothing to prove: the user has just been shown the codes.
            status: FactorStatus::Active,
            label: None,
            public_data: None,
            secret: None,
            created_at: ctx.now,
            last_used_at: None,
        };
        tx.insert_factor(&factor)?;
        let mut codes = Vec::with_capacity(CODES_PER_SET);
        for _ in 0..CODES_PER_SET {
            let code =
                random::recovery_code().map_err(|e| RepositoryError::Unavailable(e.to_string()))?;
            let normalized = recovery_code::normalize(&code).unwrap_or_default();
            tx.insert_recovery_code(&RecoveryCode {
                id: uuid::Uuid::now_v7().to_string(),
                factor_id: factor.id,
                code_hash: ctx
                    .state
                    .secrets
                    .hasher
                    .hash(&bound(factor.id, &normalized)),
                used_at: None,
            })?;
            codes.push(code);
        }
        Ok(Enrolment {
            factor,
            setup: EnrolmentSetup::RecoveryCode(RecoveryCodeSetup { codes }),
            renewed,
        })
    }

    fn confirm(
        &self,
        _ctx: &FactorContext<'_>,
        _tx: &Tx<'_>,
        _account: &Account,
        _factor: &Factor,
        _proof: &FactorConfirmation,
    ) -> Result<Verdict, FactorError> {
        Err(FactorError::refused(
            ProblemCode::FactorNotPending,
            "Recovery codes need no confirmation",
        ))
    }
}
