//! Second factors: one module per kind, behind the `LoginFactor` trait (proving a
//! login) and the `EnrolFactor` trait (adding one to an account). Handlers find the
//! module for a factor's kind and call it; adding a kind is adding a module to
//! `LOGIN_FACTORS` and `ENROL_FACTORS`, never a branch in a handler.

pub mod bodies;
pub mod email_otp;
pub mod guard;
pub mod push;
pub mod qr;
pub mod recovery_code;
pub mod totp;
pub mod webauthn;
pub mod webauthn_json;

use chrono::{DateTime, Utc};
use gatehouse_core::login::LoginRequest;
use gatehouse_core::ports::RepositoryError;
use gatehouse_core::{Account, Factor, FactorKind};
use gatehouse_store::Tx;

use bodies::{EnrolmentSetup, FactorChallenge, FactorConfirmation, FactorProof, LoginPending};

use crate::problem::{Failure, Problem, ProblemCode};
use crate::state::AppState;

/// What a factor module may use.
#[derive(Debug)]
pub struct FactorContext<'a> {
    pub state: &'a AppState,
    pub now: DateTime<Utc>,
}

/// The result of checking a proof. A refusal still commits (attempt counters).
#[derive(Debug)]
pub enum Verdict {
    /// RFC 8176 `amr` values the proof establishes.
    Accepted(Vec<&'static str>),
    Refused(Problem),
    /// Not decided yet (a push the phone has not answered): the UI asks again. The
    /// value tells it what to show and when to poll.
    Pending(LoginPending),
}

/// A factor module's refusal or store failure (see [`Failure`]).
pub type FactorError = Failure;

/// One kind of second factor at login. Both calls run inside a database transaction.
pub trait LoginFactor: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> FactorKind;

    /// Starts a proof (mails a code, builds WebAuthn options, sends a push…); the
    /// answer tells the UI what to show.
    fn challenge(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
        factor: Option<&Factor>,
        login: &LoginRequest,
    ) -> Result<FactorChallenge, FactorError>;

    /// Checks the proof the UI sends (the handler has checked that its kind is this one).
    fn verify(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
        factor: Option<&Factor>,
        login: &LoginRequest,
        proof: &FactorProof,
    ) -> Result<Verdict, FactorError>;
}

/// The modules this server knows, one per kind. Stateless, so a static list: adding
/// a kind is adding its module here.
static LOGIN_FACTORS: [&dyn LoginFactor; 7] = [
    &email_otp::EmailOtp,
    &totp::Totp,
    &recovery_code::RecoveryCodes,
    &push::Push,
    &webauthn::Flavour::SecurityKey,
    &webauthn::Flavour::Passkey,
    &webauthn::Flavour::Platform,
];

/// The module that proves a login with a factor of `kind`.
pub fn login_module(kind: FactorKind) -> Option<&'static dyn LoginFactor> {
    LOGIN_FACTORS.iter().copied().find(|m| m.kind() == kind)
}

/// What starting an enrolment made.
#[derive(Debug)]
pub struct Enrolment {
    /// The new factor, already stored: `pending` until confirmed, or `active` when
    /// there is nothing left to prove (recovery codes).
    pub factor: Factor,
    /// What the UI shows to set the factor up (a secret and QR code, the codes): once.
    pub setup: EnrolmentSetup,
    /// The factor replaced an older one of its kind (a new set of recovery codes):
    /// the owner is told of a renewal rather than an addition.
    pub renewed: bool,
}

/// Adding a factor of one kind to an account. Both calls run inside a transaction
/// that also records the audit event and queues the notice mail.
pub trait EnrolFactor: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> FactorKind;

    /// Creates and stores the factor (and whatever belongs to it).
    fn start(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
    ) -> Result<Enrolment, FactorError>;

    /// Checks the proof that a pending factor works (a code from the app, a WebAuthn
    /// attestation; the handler has checked that its kind is this one). The handler
    /// activates it when accepted; a refusal commits, so wrong proofs are counted.
    fn confirm(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
        factor: &Factor,
        proof: &FactorConfirmation,
    ) -> Result<Verdict, FactorError>;
}

/// The kinds this server can enrol (the e-mail code is every account's own).
static ENROL_FACTORS: [&dyn EnrolFactor; 6] = [
    &totp::Totp,
    &recovery_code::RecoveryCodes,
    &push::Push,
    &webauthn::Flavour::SecurityKey,
    &webauthn::Flavour::Passkey,
    &webauthn::Flavour::Platform,
];

/// The module that adds a factor of `kind` to an account.
pub fn enrol_module(kind: FactorKind) -> Option<&'static dyn EnrolFactor> {
    ENROL_FACTORS.iter().copied().find(|m| m.kind() == kind)
}

/// The stored factor a proof is checked against: every kind but the e-mail code has
/// one, so its absence is a broken row, not a user's mistake.
pub fn stored(factor: Option<&Factor>) -> Result<&Factor, FactorError> {
    factor.ok_or_else(|| {
        RepositoryError::Corrupt("a factor kind that needs a stored factor got none".to_owned())
            .into()
    })
}

/// The code of a proof of a kind that takes one: the handler matched the kinds, so a
/// proof without one is a wiring mistake, answered like a malformed body.
pub fn code_of(code: Option<&str>) -> Result<&str, FactorError> {
    code.ok_or_else(|| {
        FactorError::refused(
            ProblemCode::InvalidJson,
            "Send {\"kind\": …, \"code\": \"123456\"}",
        )
    })
}

/// 422 `factor_kind_mismatch`: the body is the proof of another kind of factor.
pub fn kind_mismatch(kind: FactorKind) -> Problem {
    Problem::new(
        ProblemCode::FactorKindMismatch,
        "This proof is for another kind of sign-in method",
    )
    .with_detail(format!("This factor is `{}`", kind.as_str()))
}
