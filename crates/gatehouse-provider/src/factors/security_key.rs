//! Security keys (FIDO2 / U2F, USB, NFC or Bluetooth): a WebAuthn credential on a roaming
//! authenticator, proved beside the password (user verification preferred, `amr` `hwk`).
//! The WebAuthn work is shared, in `super::webauthn`.

use gatehouse_core::login::LoginRequest;
use gatehouse_core::{Account, Factor, FactorKind};
use gatehouse_store::Tx;
use serde_json::Value;

use super::webauthn::{self, Flavour};
use super::{EnrolFactor, Enrolment, FactorContext, FactorError, LoginFactor, Verdict};

#[derive(Debug)]
pub struct SecurityKey;

impl LoginFactor for SecurityKey {
    fn kind(&self) -> FactorKind {
        FactorKind::SecurityKey
    }

    fn challenge(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
        factor: Option<&Factor>,
        login: &LoginRequest,
    ) -> Result<Value, FactorError> {
        webauthn::challenge(ctx, tx, account, factor, login)
    }

    fn verify(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        _account: &Account,
        factor: Option<&Factor>,
        login: &LoginRequest,
        proof: &Value,
    ) -> Result<Verdict, FactorError> {
        webauthn::verify(ctx, tx, factor, login, proof)
    }
}

impl EnrolFactor for SecurityKey {
    fn kind(&self) -> FactorKind {
        FactorKind::SecurityKey
    }

    fn start(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
        _options: &Value,
    ) -> Result<Enrolment, FactorError> {
        webauthn::start_enrolment(Flavour::SecurityKey, ctx, tx, account)
    }

    fn confirm(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
        factor: &Factor,
        proof: &Value,
    ) -> Result<Verdict, FactorError> {
        webauthn::confirm_enrolment(Flavour::SecurityKey, ctx, tx, account, factor, proof)
    }
}
