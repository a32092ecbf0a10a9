//! Second factors at login: one module per kind behind the `LoginFactor` trait. The
//! login handlers find the module for a factor's kind and call it; adding a kind is
//! adding a module to `LoginFactors::new`, never a branch in a handler.

pub mod email_otp;

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use gatehouse_core::login::LoginRequest;
use gatehouse_core::ports::RepositoryError;
use gatehouse_core::{Account, Factor, FactorKind};
use gatehouse_store::Tx;
use serde_json::Value;
use std::sync::Arc;

use crate::problem::Problem;
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
}

#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error("{0}")]
    Refused(Box<Problem>),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl FactorError {
    pub fn refused(status: StatusCode, code: &str, title: &str) -> Self {
        Self::Refused(Box::new(Problem::new(status, code, title)))
    }
}

/// One kind of second factor at login. Both calls run inside a database transaction.
pub trait LoginFactor: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> FactorKind;

    /// Starts a proof (mails a code, builds WebAuthn options, sends a push…); the JSON
    /// answer tells the UI what to show.
    fn challenge(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
        factor: Option<&Factor>,
        login: &LoginRequest,
    ) -> Result<Value, FactorError>;

    /// Checks the proof the UI sends.
    fn verify(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
        factor: Option<&Factor>,
        login: &LoginRequest,
        proof: &Value,
    ) -> Result<Verdict, FactorError>;
}

/// The modules this server knows.
#[derive(Clone, Debug)]
pub struct LoginFactors(Arc<Vec<Box<dyn LoginFactor>>>);

impl LoginFactors {
    pub fn new() -> Self {
        Self(Arc::new(vec![Box::new(email_otp::EmailOtp)]))
    }

    pub fn module(&self, kind: FactorKind) -> Option<&dyn LoginFactor> {
        self.0.iter().find(|m| m.kind() == kind).map(AsRef::as_ref)
    }
}

impl Default for LoginFactors {
    fn default() -> Self {
        Self::new()
    }
}
