//! The three WebAuthn kinds (`security_key`, `passkey`, `platform`): one factor module
//! each, as a [`Flavour`], sharing the relying party built from `[webauthn]`, ceremony
//! state kept in a database row (taken once, short-lived), credential storage, and the
//! checks at registration and sign-in.
//!
//! Options sent to the browser are webauthn-rs's JSON: every binary field (challenge,
//! `user.id`, credential ids) is base64url without padding; the UI decodes those to
//! `ArrayBuffer`s before `navigator.credentials.create` / `get`, and encodes the
//! answer's binary fields (`rawId`, `response.*`) back to base64url.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use gatehouse_core::login::LoginRequest;
use gatehouse_core::ports::{
    AccountRepository, AuditLog, FactorRepository, RepositoryError, WebauthnRepository,
};
use gatehouse_core::webauthn::{Ceremony, WebauthnCredential};
use gatehouse_core::{
    Account, AccountStatus, AuditKind, Factor, FactorId, FactorKind, FactorStatus, NewAuditEvent,
};
use gatehouse_store::Tx;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use webauthn_rs::prelude::{
    AuthenticatorAttachment, CredentialID, DiscoverableAuthentication, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    SecurityKey, SecurityKeyAuthentication, SecurityKeyRegistration, Webauthn, WebauthnBuilder,
    WebauthnError,
};

use super::bodies::{
    BinaryEncoding, EnrolmentSetup, FactorChallenge, FactorConfirmation, FactorProof,
    WebauthnChallenge, WebauthnSetup,
};
use super::{EnrolFactor, Enrolment, FactorContext, FactorError, LoginFactor, Verdict};
use crate::config::Config;
use crate::crypto::random;
use crate::problem::{Problem, ProblemCode};

/// The relying party this server is, from `[webauthn]` (defaults from the issuer).
/// `None` when there is no relying party id (an issuer on a non-loopback IP address and
/// no `webauthn.rp_id`): the WebAuthn kinds then answer `webauthn_unavailable`.
pub fn relying_party(config: &Config) -> Result<Option<Webauthn>, String> {
    let issuer = &config.server.issuer;
    let Some(rp_id) = config.webauthn.effective_rp_id(issuer) else {
        tracing::warn!("WebAuthn is off: the issuer has no host name; set webauthn.rp_id");
        return Ok(None);
    };
    let origins = config.webauthn.effective_origins(issuer)?;
    let (first, more) = origins
        .split_first()
        .ok_or_else(|| "no origin".to_owned())?;
    let rp_name = if config.webauthn.rp_name.is_empty() {
        config.mail.product_name.as_str()
    } else {
        config.webauthn.rp_name.as_str()
    };
    let mut builder = WebauthnBuilder::new(&rp_id, first)
        .map_err(|e| format!("rp_id {rp_id:?} does not fit origin {first}: {e}"))?
        .rp_name(rp_name)
        .allow_any_port(config.webauthn.allow_any_port)
        .timeout(std::time::Duration::from_secs(
            config.webauthn.ceremony_ttl_seconds.into(),
        ));
    for origin in more {
        builder = builder.append_allowed_origin(origin);
    }
    builder.build().map(Some).map_err(|e| e.to_string())
}

/// The relying party, or 409 `webauthn_unavailable`.
fn rp<'a>(ctx: &FactorContext<'a>) -> Result<&'a Webauthn, FactorError> {
    ctx.state.webauthn.as_deref().ok_or_else(|| {
        FactorError::refused(
            ProblemCode::WebauthnUnavailable,
            "Security keys and passkeys are not set up on this server",
        )
    })
}

/// The three kinds, and how they differ. Each is a factor module of its own (the
/// `LoginFactor` and `EnrolFactor` impls below).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// Security keys (FIDO2 / U2F over USB, NFC or Bluetooth): a roaming authenticator
    /// proved beside the password; user verification preferred (`amr` `hwk`).
    SecurityKey,
    /// Discoverable, user verification required (a PIN or biometric on the
    /// authenticator): a second factor, or alone for password-less sign-in.
    Passkey,
    /// The "biometric key": a passkey of the device's own (platform) authenticator —
    /// Windows Hello, Touch ID, Android screen lock — with user verification.
    Platform,
}

impl LoginFactor for Flavour {
    fn kind(&self) -> FactorKind {
        Flavour::kind(*self)
    }

    fn challenge(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
        factor: Option<&Factor>,
        login: &LoginRequest,
    ) -> Result<FactorChallenge, FactorError> {
        let challenge = challenge(ctx, tx, account, factor, login)?;
        Ok(match self {
            Self::SecurityKey => FactorChallenge::SecurityKey(challenge),
            Self::Passkey => FactorChallenge::Passkey(challenge),
            Self::Platform => FactorChallenge::Platform(challenge),
        })
    }

    fn verify(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        _account: &Account,
        factor: Option<&Factor>,
        login: &LoginRequest,
        proof: &FactorProof,
    ) -> Result<Verdict, FactorError> {
        verify(ctx, tx, factor, login, proof.credential())
    }
}

impl EnrolFactor for Flavour {
    fn kind(&self) -> FactorKind {
        Flavour::kind(*self)
    }

    fn start(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
    ) -> Result<Enrolment, FactorError> {
        start_enrolment(*self, ctx, tx, account)
    }

    fn confirm(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
        factor: &Factor,
        proof: &FactorConfirmation,
    ) -> Result<Verdict, FactorError> {
        confirm_enrolment(*self, ctx, tx, account, factor, proof.credential())
    }
}

impl Flavour {
    pub fn kind(self) -> FactorKind {
        match self {
            Self::SecurityKey => FactorKind::SecurityKey,
            Self::Passkey => FactorKind::Passkey,
            Self::Platform => FactorKind::Platform,
        }
    }

    fn discoverable(self) -> bool {
        !matches!(self, Self::SecurityKey)
    }
}

/// Kinds whose credentials can sign in without a password.
pub fn signs_in_alone(kind: FactorKind) -> bool {
    matches!(kind, FactorKind::Passkey | FactorKind::Platform)
}

/// The library's credential as stored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "key", rename_all = "snake_case")]
enum StoredKey {
    SecurityKey(SecurityKey),
    Passkey(Passkey),
}

/// The library's ceremony state as stored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "state", rename_all = "snake_case")]
enum CeremonyState {
    SecurityKeyRegistration(SecurityKeyRegistration),
    PasskeyRegistration(PasskeyRegistration),
    SecurityKeyAuthentication(SecurityKeyAuthentication),
    PasskeyAuthentication(PasskeyAuthentication),
    Discoverable(DiscoverableAuthentication),
}

fn corrupt(what: impl std::fmt::Display) -> FactorError {
    FactorError::Repository(RepositoryError::Corrupt(format!("webauthn: {what}")))
}

fn unavailable(what: impl std::fmt::Display) -> FactorError {
    FactorError::Repository(RepositoryError::Unavailable(format!("webauthn: {what}")))
}

fn bad_request(detail: impl Into<String>) -> FactorError {
    FactorError::Refused(Box::new(
        Problem::new(
            ProblemCode::InvalidJson,
            "Send {\"credential\": …} with the browser's answer, binary fields base64url",
        )
        .with_detail(detail),
    ))
}

/// 410: the ceremony is unknown, already used or expired; start again.
fn ceremony_expired() -> Problem {
    Problem::new(
        ProblemCode::WebauthnCeremonyExpired,
        "This security key prompt has expired or was already used",
    )
    .with_detail("Start again to get a new challenge")
}

/// 422: the browser's answer does not prove what it should. The library's reason is
/// safe to show (it names a check, never a secret).
fn invalid(error: &WebauthnError) -> Problem {
    Problem::new(
        ProblemCode::WebauthnInvalid,
        "The security key's answer was not accepted",
    )
    .with_detail(error.to_string())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn options_json<T: Serialize>(options: &T) -> Result<Value, FactorError> {
    serde_json::to_value(options).map_err(unavailable)
}

fn state_json(state: &CeremonyState) -> Result<String, FactorError> {
    serde_json::to_string(state).map_err(unavailable)
}

/// Stores a ceremony for `binding`, replacing an older one of the same binding.
fn keep_ceremony(
    ctx: &FactorContext<'_>,
    tx: &Tx<'_>,
    binding: String,
    account: Option<&Account>,
    state: &CeremonyState,
) -> Result<i64, FactorError> {
    let ttl = i64::from(ctx.state.config.webauthn.ceremony_ttl_seconds);
    tx.put_ceremony(&Ceremony {
        id: random::token().map_err(unavailable)?,
        binding,
        account_id: account.map(|a| a.id),
        state: state_json(state)?,
        created_at: ctx.now,
        expires_at: ctx.now + TimeDelta::seconds(ttl),
    })?;
    Ok(ttl)
}

/// Takes the ceremony of `binding`, once. `None`: unknown, used or expired.
fn take_ceremony(
    ctx: &FactorContext<'_>,
    tx: &Tx<'_>,
    binding: &str,
) -> Result<Option<CeremonyState>, FactorError> {
    match tx.take_ceremony(binding, ctx.now)? {
        None => Ok(None),
        Some(ceremony) => serde_json::from_str(&ceremony.state)
            .map(Some)
            .map_err(corrupt),
    }
}

/// The browser's answer (the `credential` of the body) as webauthn-rs reads it.
fn credential_of<T: for<'de> Deserialize<'de>>(
    credential: Option<&Value>,
) -> Result<T, FactorError> {
    let raw = credential.ok_or_else(|| bad_request("`credential` is missing"))?;
    T::deserialize(raw).map_err(|e| bad_request(e.to_string()))
}

/// The AAGUID (authenticator model) in a registration's attestation object, if the
/// authenticator data carries attested credential data.
fn aaguid(attestation_object: &[u8]) -> Option<String> {
    use serde_cbor_2::Value as Cbor;
    let Ok(Cbor::Map(map)) = serde_cbor_2::from_slice::<Cbor>(attestation_object) else {
        return None;
    };
    let auth_data = map.iter().find_map(|(k, v)| match (k, v) {
        (Cbor::Text(k), Cbor::Bytes(v)) if k == "authData" => Some(v),
        _ => None,
    })?;
    // rpIdHash (32) | flags (1) | signCount (4) | aaguid (16) when flag AT (0x40) is set.
    let flags = *auth_data.get(32)?;
    if flags & 0x40 == 0 {
        return None;
    }
    let raw: [u8; 16] = auth_data.get(37..53)?.try_into().ok()?;
    // All zeros: the authenticator does not say (most passkey providers without attestation).
    (raw != [0; 16]).then(|| uuid::Uuid::from_bytes(raw).to_string())
}

/// The credential's facts as the library keeps them.
struct Facts {
    counter: u32,
    backup_eligible: bool,
    backup_state: bool,
    transports: Vec<String>,
}

fn facts(key: &StoredKey) -> Facts {
    let value = serde_json::to_value(key).unwrap_or(Value::Null);
    let cred = &value["key"]["cred"];
    let flag = |name: &str| cred[name].as_bool().unwrap_or(false);
    Facts {
        counter: cred["counter"]
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(0),
        backup_eligible: flag("backup_eligible"),
        backup_state: flag("backup_state"),
        transports: cred["transports"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|t| t.as_str().map(|s| s.to_ascii_lowercase()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn stored_key(credential: &WebauthnCredential) -> Result<StoredKey, FactorError> {
    serde_json::from_str(&credential.credential).map_err(corrupt)
}

fn store_key(credential: &mut WebauthnCredential, key: &StoredKey) -> Result<(), FactorError> {
    let f = facts(key);
    credential.credential = serde_json::to_string(key).map_err(unavailable)?;
    credential.counter = f.counter;
    credential.backup_eligible = f.backup_eligible;
    credential.backup_state = f.backup_state;
    Ok(())
}

/// `amr` (RFC 8176) of a WebAuthn proof: `hwk` for a device-bound key, `swk` for a
/// synced passkey (backup eligible); `user` when the authenticator verified the user.
fn amr(credential: &WebauthnCredential, user_verified: bool) -> Vec<&'static str> {
    let key = if credential.backup_eligible {
        "swk"
    } else {
        "hwk"
    };
    if user_verified {
        vec![key, "user"]
    } else {
        vec![key]
    }
}

// ----- enrolment -----

/// Starts registering a credential of `flavour`: a pending factor, the ceremony state
/// in a row bound to it, and the options for `navigator.credentials.create`. Every
/// credential the account already has is excluded.
pub fn start_enrolment(
    flavour: Flavour,
    ctx: &FactorContext<'_>,
    tx: &Tx<'_>,
    account: &Account,
) -> Result<Enrolment, FactorError> {
    let rp = rp(ctx)?;
    let existing = tx.webauthn_credentials_of(account.id)?;
    let exclude: Vec<CredentialID> = existing
        .iter()
        .filter_map(|c| URL_SAFE_NO_PAD.decode(&c.credential_id).ok())
        .collect();
    let exclude = (!exclude.is_empty()).then_some(exclude);
    let user_name = account
        .email
        .as_ref()
        .map_or_else(|| account.subject.to_string(), |e| e.as_str().to_owned());
    // The user handle is the account id: random, stable, and no personal data.
    let user_id = account.id.0;
    let (options, state) = match flavour {
        Flavour::SecurityKey => {
            let (ccr, state) = rp
                .start_securitykey_registration(
                    user_id,
                    &user_name,
                    &user_name,
                    exclude,
                    None,
                    Some(AuthenticatorAttachment::CrossPlatform),
                )
                .map_err(unavailable)?;
            let mut options = options_json(&ccr)?;
            without_credential_protection(&mut options);
            (options, CeremonyState::SecurityKeyRegistration(state))
        }
        Flavour::Passkey | Flavour::Platform => {
            let (ccr, state) = rp
                .start_passkey_registration(user_id, &user_name, &user_name, exclude)
                .map_err(unavailable)?;
            let mut options = options_json(&ccr)?;
            ask_for_discoverable(&mut options, flavour);
            (options, CeremonyState::PasskeyRegistration(state))
        }
    };
    let factor = Factor {
        id: FactorId::new(),
        account_id: account.id,
        kind: flavour.kind(),
        status: FactorStatus::Pending,
        label: None,
        public_data: None,
        secret: None,
        created_at: ctx.now,
        last_used_at: None,
    };
    tx.insert_factor(&factor)?;
    let expires_in = keep_ceremony(
        ctx,
        tx,
        Ceremony::enrolment(factor.id),
        Some(account),
        &state,
    )?;
    let setup = WebauthnSetup {
        public_key: options,
        binary_encoding: BinaryEncoding::Base64url,
        expires_in,
    };
    Ok(Enrolment {
        factor,
        setup: match flavour {
            Flavour::SecurityKey => EnrolmentSetup::SecurityKey(setup),
            Flavour::Passkey => EnrolmentSetup::Passkey(setup),
            Flavour::Platform => EnrolmentSetup::Platform(setup),
        },
        renewed: false,
    })
}

/// Asks for a discoverable credential (password-less sign-in) and, for the biometric
/// key, the device's own authenticator. These are requests to the browser; what is
/// verified (user verification) is in the stored ceremony state.
fn ask_for_discoverable(options: &mut serde_json::Value, flavour: Flavour) {
    let selection = &mut options["publicKey"]["authenticatorSelection"];
    if !selection.is_object() {
        *selection = json!({});
    }
    selection["residentKey"] = json!("required");
    selection["requireResidentKey"] = json!(true);
    selection["userVerification"] = json!("required");
    if flavour == Flavour::Platform {
        selection["authenticatorAttachment"] = json!("platform");
        options["publicKey"]["hints"] = json!(["client-device"]);
    }
}

/// Drops the credProtect request webauthn-rs adds to a security key's creation options
/// (`userVerificationRequired` beside `userVerification: "preferred"`): Chromium
/// refuses that combination ("Requested protection policy is inconsistent or cannot be
/// satisfied"), so no security key could be enrolled from Chrome or Edge. The policy
/// is a request to the authenticator, not something the finished registration checks.
fn without_credential_protection(options: &mut Value) {
    let Some(extensions) = options["publicKey"]
        .get_mut("extensions")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    extensions.remove("credentialProtectionPolicy");
    extensions.remove("enforceCredentialProtectionPolicy");
    if extensions.is_empty()
        && let Some(public_key) = options["publicKey"].as_object_mut()
    {
        public_key.remove("extensions");
    }
}

/// Finishes a registration: the ceremony is taken (once), the attestation checked,
/// and the credential stored with the pending factor the handler then activates.
pub fn confirm_enrolment(
    flavour: Flavour,
    ctx: &FactorContext<'_>,
    tx: &Tx<'_>,
    account: &Account,
    factor: &Factor,
    credential: Option<&Value>,
) -> Result<Verdict, FactorError> {
    let answer: RegisterPublicKeyCredential = credential_of(credential)?;
    let Some(state) = take_ceremony(ctx, tx, &Ceremony::enrolment(factor.id))? else {
        return Ok(Verdict::Refused(ceremony_expired()));
    };
    // The browser says which kind of authenticator answered (WebAuthn L3
    // `authenticatorAttachment`); a roaming key is no biometric key of this device.
    if flavour == Flavour::Platform
        && credential.is_some_and(|c| c["authenticatorAttachment"] == "cross-platform")
    {
        return Ok(Verdict::Refused(
            Problem::new(
                ProblemCode::WebauthnNotPlatform,
                "This is a security key, not this device's own authenticator",
            )
            .with_detail("Add it as a security key instead"),
        ));
    }
    let rp = rp(ctx)?;
    let key = match state {
        CeremonyState::SecurityKeyRegistration(state) => rp
            .finish_securitykey_registration(&answer, &state)
            .map(StoredKey::SecurityKey),
        CeremonyState::PasskeyRegistration(state) => rp
            .finish_passkey_registration(&answer, &state)
            .map(StoredKey::Passkey),
        _ => return Ok(Verdict::Refused(ceremony_expired())),
    };
    let key = match key {
        Ok(key) => key,
        Err(e) => return Ok(Verdict::Refused(invalid(&e))),
    };
    let credential_id = match &key {
        StoredKey::SecurityKey(k) => b64(k.cred_id().as_ref()),
        StoredKey::Passkey(k) => b64(k.cred_id().as_ref()),
    };
    if registered(tx, account, &credential_id)? {
        return Ok(Verdict::Refused(Problem::new(
            ProblemCode::WebauthnCredentialExists,
            "This security key is already registered",
        )));
    }
    let mut stored = WebauthnCredential {
        factor_id: factor.id,
        account_id: account.id,
        credential_id,
        credential: String::new(),
        aaguid: aaguid(&answer.response.attestation_object),
        transports: Vec::new(),
        backup_eligible: false,
        backup_state: false,
        counter: 0,
        discoverable: flavour.discoverable(),
        created_at: ctx.now,
    };
    store_key(&mut stored, &key)?;
    stored.transports = match &answer.response.transports {
        Some(list) if !list.is_empty() => serde_json::to_value(list)
            .ok()
            .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
            .unwrap_or_default(),
        _ => facts(&key).transports,
    };
    tx.insert_webauthn_credential(&stored)?;
    Ok(Verdict::Accepted(amr(&stored, flavour.discoverable())))
}

/// One credential, one account: a credential id seen before is refused, whoever has it.
fn registered(tx: &Tx<'_>, account: &Account, credential_id: &str) -> Result<bool, FactorError> {
    Ok(tx
        .webauthn_credentials_of(account.id)?
        .iter()
        .any(|c| c.credential_id == credential_id)
        || tx
            .webauthn_credential_by_credential_id(credential_id)?
            .is_some())
}

// ----- sign-in with a known factor (second step) -----

fn credential_of_factor(
    tx: &Tx<'_>,
    factor: Option<&Factor>,
) -> Result<(Factor, WebauthnCredential), FactorError> {
    let factor = factor
        .ok_or_else(|| corrupt("a webauthn factor needs a stored factor"))?
        .clone();
    let credential = tx
        .webauthn_credential_of_factor(factor.id)?
        .ok_or_else(|| corrupt("an active webauthn factor without a credential"))?;
    Ok((factor, credential))
}

/// Starts an assertion for one factor: options for `navigator.credentials.get`, the
/// state bound to this login and this factor.
pub fn challenge(
    ctx: &FactorContext<'_>,
    tx: &Tx<'_>,
    account: &Account,
    factor: Option<&Factor>,
    login: &LoginRequest,
) -> Result<WebauthnChallenge, FactorError> {
    let (factor, credential) = credential_of_factor(tx, factor)?;
    let rp = rp(ctx)?;
    let (options, state) = match stored_key(&credential)? {
        StoredKey::SecurityKey(key) => {
            let (rcr, state) = rp
                .start_securitykey_authentication(&[key])
                .map_err(unavailable)?;
            (
                options_json(&rcr)?,
                CeremonyState::SecurityKeyAuthentication(state),
            )
        }
        StoredKey::Passkey(key) => {
            let (rcr, state) = rp
                .start_passkey_authentication(&[key])
                .map_err(unavailable)?;
            (
                options_json(&rcr)?,
                CeremonyState::PasskeyAuthentication(state),
            )
        }
    };
    let expires_in = keep_ceremony(
        ctx,
        tx,
        Ceremony::login(&login.id, factor.id),
        Some(account),
        &state,
    )?;
    Ok(WebauthnChallenge {
        public_key: options,
        binary_encoding: BinaryEncoding::Base64url,
        expires_in,
    })
}

/// A counter that went backwards: a cloned authenticator, perhaps. Refused and audited.
fn counter_regression(
    ctx: &FactorContext<'_>,
    tx: &Tx<'_>,
    credential: &WebauthnCredential,
    login: &LoginRequest,
) -> Result<Problem, FactorError> {
    let event = NewAuditEvent::new(AuditKind::LoginFailed, Some(credential.account_id), ctx.now)
        .with_detail("client_id", login.request.client_id.clone())
        .with_detail("reason", "webauthn_counter_regression")
        .with_detail("factor_id", credential.factor_id.to_string())
        .with_detail("stored_counter", credential.counter.to_string());
    tx.record(&event)?;
    tracing::warn!(
        factor = %credential.factor_id,
        "a WebAuthn signature counter went backwards: the authenticator may be cloned"
    );
    Ok(Problem::new(
        ProblemCode::WebauthnCounterRegression,
        "This security key's answer was refused",
    )
    .with_detail("Its signature counter went backwards; it may have been copied"))
}

/// Checks an assertion against the state taken for `binding` and the stored credential;
/// on success the counter and flags are stored.
fn check_assertion(
    ctx: &FactorContext<'_>,
    tx: &Tx<'_>,
    state: CeremonyState,
    answer: &PublicKeyCredential,
    mut credential: WebauthnCredential,
    login: &LoginRequest,
) -> Result<Verdict, FactorError> {
    let rp = rp(ctx)?;
    let mut key = stored_key(&credential)?;
    let result = match (&key, state) {
        (StoredKey::SecurityKey(_), CeremonyState::SecurityKeyAuthentication(state)) => {
            rp.finish_securitykey_authentication(answer, &state)
        }
        (StoredKey::Passkey(_), CeremonyState::PasskeyAuthentication(state)) => {
            rp.finish_passkey_authentication(answer, &state)
        }
        (StoredKey::Passkey(k), CeremonyState::Discoverable(state)) => {
            rp.finish_discoverable_authentication_v2(answer, state, k)
        }
        _ => return Ok(Verdict::Refused(ceremony_expired())),
    };
    let result = match result {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            return Ok(Verdict::Refused(counter_regression(
                ctx,
                tx,
                &credential,
                login,
            )?));
        }
        Err(e) => return Ok(Verdict::Refused(invalid(&e))),
    };
    let changed = match &mut key {
        StoredKey::SecurityKey(k) => k.update_credential(&result),
        StoredKey::Passkey(k) => k.update_credential(&result),
    };
    if changed.is_none() {
        // The library answered for another credential than the one stored here.
        return Ok(Verdict::Refused(Problem::new(
            ProblemCode::WebauthnInvalid,
            "The security key's answer was not accepted",
        )));
    }
    store_key(&mut credential, &key)?;
    tx.update_webauthn_credential(&credential)?;
    Ok(Verdict::Accepted(amr(&credential, result.user_verified())))
}

/// Verifies the assertion for one factor, against the ceremony of this login and factor.
pub fn verify(
    ctx: &FactorContext<'_>,
    tx: &Tx<'_>,
    factor: Option<&Factor>,
    login: &LoginRequest,
    credential: Option<&Value>,
) -> Result<Verdict, FactorError> {
    let answer: PublicKeyCredential = credential_of(credential)?;
    let (factor, credential) = credential_of_factor(tx, factor)?;
    let Some(state) = take_ceremony(ctx, tx, &Ceremony::login(&login.id, factor.id))? else {
        return Ok(Verdict::Refused(ceremony_expired()));
    };
    check_assertion(ctx, tx, state, &answer, credential, login)
}

// ----- password-less sign-in with a discoverable credential -----

/// Starts a discoverable-credential ceremony for a login: no account is known yet.
pub fn start_passwordless(
    ctx: &FactorContext<'_>,
    tx: &Tx<'_>,
    login: &LoginRequest,
) -> Result<WebauthnChallenge, FactorError> {
    let (rcr, state) = rp(ctx)?
        .start_discoverable_authentication()
        .map_err(unavailable)?;
    let expires_in = keep_ceremony(
        ctx,
        tx,
        Ceremony::passwordless(&login.id),
        None,
        &CeremonyState::Discoverable(state),
    )?;
    Ok(WebauthnChallenge {
        public_key: options_json(&rcr)?,
        binary_encoding: BinaryEncoding::Base64url,
        expires_in,
    })
}

/// What a password-less assertion proved: the account, its factor, and the `amr`.
#[derive(Debug)]
pub struct SignedIn {
    pub account: Account,
    pub factor: Factor,
    pub amr: Vec<&'static str>,
}

/// Finishes a password-less sign-in: the user handle names the account, the credential
/// must be one of its active discoverable passkeys, and user verification is required.
/// Every failure looks the same, so nothing tells whether an account exists.
pub fn finish_passwordless(
    ctx: &FactorContext<'_>,
    tx: &Tx<'_>,
    login: &LoginRequest,
    credential: &Value,
) -> Result<Result<SignedIn, Problem>, FactorError> {
    let answer: PublicKeyCredential = credential_of(Some(credential))?;
    let Some(state) = take_ceremony(ctx, tx, &Ceremony::passwordless(&login.id))? else {
        return Ok(Err(ceremony_expired()));
    };
    let refused = || {
        Problem::new(
            ProblemCode::WebauthnInvalid,
            "This passkey cannot sign in here",
        )
    };
    let Ok((user, raw_id)) = rp(ctx)?.identify_discoverable_authentication(&answer) else {
        return Ok(Err(refused()));
    };
    let credential_id = b64(raw_id);
    let Some(credential) = tx.webauthn_credential_by_credential_id(&credential_id)? else {
        return Ok(Err(refused()));
    };
    if credential.account_id.0 != user || !credential.discoverable {
        return Ok(Err(refused()));
    }
    let Some(account) = tx.account_by_id(credential.account_id)? else {
        return Ok(Err(refused()));
    };
    let Some(factor) = tx.factor_by_id(credential.factor_id)? else {
        return Ok(Err(refused()));
    };
    let usable = account.status == AccountStatus::Active
        && factor.status == FactorStatus::Active
        && signs_in_alone(factor.kind)
        && ctx.state.config.factors.check_accepted(factor.kind).is_ok();
    if !usable {
        return Ok(Err(refused()));
    }
    match check_assertion(ctx, tx, state, &answer, credential, login)? {
        Verdict::Refused(problem) => Ok(Err(problem)),
        Verdict::Accepted(amr) if amr.contains(&"user") => Ok(Ok(SignedIn {
            account,
            factor,
            amr,
        })),
        // A WebAuthn assertion is never left pending.
        Verdict::Accepted(_) | Verdict::Pending(_) => Ok(Err(refused())),
    }
}
