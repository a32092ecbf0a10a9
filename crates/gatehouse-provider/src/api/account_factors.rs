//! `/api/v1/account/factors`: the signed-in user's sign-in methods. List them and the
//! kinds on offer, add one (start, then confirm with a proof and a name), remove one,
//! make new recovery codes. Changes need a recent login, write an audit event and mail
//! the account, all in one transaction. Handlers never branch on a kind: the module of
//! the kind (`crate::factors`) does the kind-specific part.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::factor::{
    EffectiveStatus, FactorUnavailable, IMPLICIT_EMAIL_FACTOR, implicit_email_offer, offer_of,
};
use gatehouse_core::ports::{AuditLog, FactorGuardRepository, FactorRepository, RepositoryError};
use gatehouse_core::{
    Account, AuditKind, Factor, FactorId, FactorKind, FactorStatus, NewAuditEvent,
};
use gatehouse_store::Tx;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account::{blocking, in_tx, no_store};
use super::account_auth::AccountCaller;
use super::login::{FactorOfferView, LabelParts};
use crate::factors::bodies::{EnrolmentSetup, FactorConfirmation, FactorKindName};
use crate::factors::{FactorContext, FactorError, Verdict};
use crate::factors::{enrol_module, kind_mismatch};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

/// A pending enrolment must be confirmed within this time.
const ENROLMENT_TTL: TimeDelta = TimeDelta::minutes(15);
const MAX_NAME_CHARS: usize = 64;

/// One sign-in method of the account.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorView {
    /// The factor's id; `email` for the e-mail code every account with an address has.
    pub id: String,
    /// `platform` is the biometric key; `sms` is retired.
    #[schema(value_type = FactorKindName, example = "totp")]
    pub kind: FactorKind,
    /// The name the user gave it, or a description (English: a UI in another language
    /// builds its own from `kind` and the label's parts).
    pub label: String,
    #[serde(flatten)]
    pub parts: LabelParts,
    /// `pending` (not confirmed yet), `active`, `disabled` (by this server) or
    /// `retired` (the kind is no longer supported; never offered at login).
    #[schema(value_type = FactorStatusName, example = "active")]
    pub status: EffectiveStatus,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// False for the e-mail code: it is every account's fallback.
    pub removable: bool,
}

/// A kind of sign-in method, and whether the user may add one.
#[derive(Debug, Serialize, ToSchema)]
pub struct KindView {
    #[schema(value_type = FactorKindName, example = "totp")]
    pub kind: FactorKind,
    pub enrollable: bool,
    /// Why not: `retired`, `disabled`, `automatic` (the e-mail code), `unavailable`
    /// (a WebAuthn kind, and no WebAuthn relying party is configured), `unsupported`
    /// (this server cannot enrol it yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FactorList {
    pub factors: Vec<FactorView>,
    pub kinds: Vec<KindView>,
}

/// A sign-in method's state, as the document lists them.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum FactorStatusName {
    Pending,
    Active,
    Disabled,
    Retired,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartEnrolment {
    /// The kind to add, e.g. `totp`. `email_otp` is automatic and `sms` retired: both
    /// answer 409.
    #[schema(value_type = FactorKindName)]
    pub kind: String,
    #[serde(default)]
    #[schema(inline)]
    pub options: EnrolmentOptions,
}

/// Reserved for kind-specific enrolment options; an empty object today (WebAuthn kinds
/// included: their setup is the browser's creation options).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentOptions {}

/// A started enrolment: the new factor and what to show the user, once.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentStarted {
    pub factor: FactorView,
    /// What to show to set it up, by kind: shown once.
    pub setup: EnrolmentSetup,
}

fn view(factor: &Factor, account: &Account, state: &AppState) -> FactorView {
    let offer = FactorOfferView::from(offer_of(factor, account.email.as_ref()));
    FactorView {
        id: offer.id,
        kind: factor.kind,
        label: offer.label,
        parts: offer.parts,
        status: state.config.factors.effective_status(factor),
        created_at: factor.created_at,
        last_used_at: factor.last_used_at,
        removable: factor.kind != FactorKind::EmailOtp,
    }
}

/// Why `kind` cannot be added here, if it cannot: `retired`, `disabled`, `automatic`
/// (the e-mail code comes with the address), `unavailable` (WebAuthn, with no relying
/// party configured), `unsupported` (no module for it yet).
pub fn not_enrollable(state: &AppState, kind: FactorKind) -> Option<&'static str> {
    match state.config.factors.check_enrollable(kind) {
        Err(FactorUnavailable::Retired(_)) => Some("retired"),
        Err(FactorUnavailable::Disabled(_)) => Some("disabled"),
        Ok(()) if kind == FactorKind::EmailOtp => Some("automatic"),
        Ok(()) if kind.is_webauthn() && state.webauthn.is_none() => Some("unavailable"),
        Ok(()) if enrol_module(kind).is_none() => Some("unsupported"),
        Ok(()) => None,
    }
}

fn kinds(state: &AppState) -> Vec<KindView> {
    FactorKind::ALL
        .into_iter()
        .map(|kind| {
            let reason = not_enrollable(state, kind);
            KindView {
                kind,
                enrollable: reason.is_none(),
                reason,
            }
        })
        .collect()
}

/// Who changes an account's factors, for the audit event.
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    pub account: &'a Account,
    pub via: Via<'a>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// The way a change came in.
#[derive(Clone, Copy, Debug)]
pub enum Via<'a> {
    /// The signed-in owner, through this client's access token.
    Client(&'a str),
    /// The owner finishing registration through the mailed link.
    Registration,
    /// A phone registering itself with its enrolment ticket.
    PushDevice,
    /// The owner's browser right after a login through this client (the biometric key
    /// a finished login offers).
    Login(&'a str),
}

impl<'a> From<&'a AccountCaller> for Actor<'a> {
    fn from(caller: &'a AccountCaller) -> Self {
        Self {
            account: &caller.account,
            via: Via::Client(&caller.claims.client_id),
            ip: caller.ip.as_deref(),
            user_agent: caller.user_agent.as_deref(),
        }
    }
}

/// What a change tells: the audit log and the owner's mailbox.
#[derive(Clone, Copy, Debug)]
pub enum Change {
    Added,
    Removed,
    Renewed,
}

/// Audits a change to the actor's factors and mails the owner about it, in `tx`.
pub fn record_change(
    tx: &Tx<'_>,
    state: &AppState,
    actor: Actor<'_>,
    factor: &Factor,
    change: Change,
    now: DateTime<Utc>,
) -> Result<(), RepositoryError> {
    let account = actor.account;
    let audit = match change {
        Change::Added => AuditKind::FactorAdded,
        Change::Removed => AuditKind::FactorRemoved,
        Change::Renewed => AuditKind::RecoveryCodesRegenerated,
    };
    let mut event = NewAuditEvent::new(audit, Some(account.id), now)
        .with_detail("factor_id", factor.id.to_string())
        .with_detail("kind", factor.kind.as_str());
    event = match actor.via {
        Via::Client(client_id) => event.with_detail("client_id", client_id),
        Via::Registration => event.with_detail("via", "registration"),
        Via::PushDevice => event.with_detail("via", "push_device"),
        Via::Login(client_id) => event
            .with_detail("client_id", client_id)
            .with_detail("via", "login"),
    };
    event.ip = actor.ip.map(str::to_owned);
    event.user_agent = actor.user_agent.map(str::to_owned);
    tx.record(&event)?;
    if let Some(email) = &account.email {
        let templates = state.outbox.templates();
        let locale = account.locale.as_deref();
        let label = factor.label.as_deref();
        let message = match change {
            Change::Added => templates.factor_added(email, locale, factor.kind, label, now),
            Change::Removed => templates.factor_removed(email, locale, factor.kind, label, now),
            Change::Renewed => templates.recovery_codes_regenerated(email, locale, now),
        };
        state.outbox.enqueue_in(tx, &message, now)?;
    }
    Ok(())
}

fn not_found() -> Problem {
    Problem::new(
        ProblemCode::FactorNotFound,
        "No such factor for this account",
    )
}

/// The caller's stored factor named by `raw`, or the problem to answer.
fn owned_factor(tx: &Tx<'_>, account: &Account, raw: &str) -> Result<Factor, FactorError> {
    if raw == IMPLICIT_EMAIL_FACTOR {
        return Err(FactorError::refused(
            ProblemCode::FactorNotRemovable,
            "The e-mail code is every account's fallback and cannot be changed",
        ));
    }
    let id = uuid::Uuid::parse_str(raw).map_err(|_| FactorError::Refused(Box::new(not_found())))?;
    tx.factor_by_id(FactorId(id))?
        .filter(|f| f.account_id == account.id)
        .ok_or_else(|| FactorError::Refused(Box::new(not_found())))
}

/// The account's sign-in methods, and the kinds it may add.
#[utoipa::path(
    operation_id = "list_factors",
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, body = FactorList),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`: the token lacks the account scope, or its client is not first-party", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/account/factors")]
pub async fn list(
    caller: AccountCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let account = caller.account;
    let list = blocking(&state, move |state| {
        let stored = state.store.factors_of(account.id).map_err(Problem::from)?;
        let mut factors = Vec::with_capacity(stored.len() + 1);
        let has_email_factor = stored.iter().any(|f| f.kind == FactorKind::EmailOtp);
        if let Some(email) = &account.email
            && !has_email_factor
        {
            let offer = FactorOfferView::from(implicit_email_offer(email));
            factors.push(FactorView {
                id: offer.id,
                kind: FactorKind::EmailOtp,
                label: offer.label,
                parts: offer.parts,
                status: EffectiveStatus::Active,
                created_at: account.created_at,
                last_used_at: None,
                removable: false,
            });
        }
        factors.extend(stored.iter().map(|f| view(f, &account, state)));
        Ok(FactorList {
            factors,
            kinds: kinds(state),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(list))
}

/// The kind named in a request, or 422 `factor_kind_unknown`.
pub fn parse_kind(raw: &str) -> Result<FactorKind, Problem> {
    raw.parse()
        .map_err(|e: gatehouse_core::factor::UnknownFactorKind| {
            Problem::new(
                ProblemCode::FactorKindUnknown,
                "No such kind of sign-in method",
            )
            .with_detail(e.to_string())
        })
}

/// Starts an enrolment of `kind` for the actor's account (blocking).
pub fn start(
    state: &AppState,
    actor: Actor<'_>,
    kind: FactorKind,
) -> Result<EnrolmentStarted, Problem> {
    state.config.factors.check_enrollable(kind).map_err(|e| {
        Problem::new(
            ProblemCode::from(&e),
            "This kind of sign-in method cannot be added",
        )
        .with_detail(e.to_string())
    })?;
    // The e-mail code has no enrolment module: it comes with the account's address.
    let module = enrol_module(kind).ok_or_else(|| {
        Problem::new(
            ProblemCode::FactorNotEnrollable,
            "This kind of sign-in method cannot be added here",
        )
        .with_extension(
            "reason",
            not_enrollable(state, kind).unwrap_or("unsupported").into(),
        )
    })?;
    let now = state.clock.now();
    let ctx = FactorContext { state, now };
    let account = actor.account;
    in_tx(state, |tx| {
        // An enrolment of this kind that was never confirmed is abandoned.
        for stale in tx.factors_of(account.id)? {
            if stale.kind == kind && stale.status == FactorStatus::Pending {
                tx.delete_factor(stale.id)?;
            }
        }
        let enrolment = module.start(&ctx, tx, account)?;
        // Created with the factor, so racing first attempts never race to create it.
        tx.open_guard(enrolment.factor.id, now)?;
        if enrolment.factor.status == FactorStatus::Active {
            let change = if enrolment.renewed {
                Change::Renewed
            } else {
                Change::Added
            };
            record_change(tx, state, actor, &enrolment.factor, change, now)?;
        }
        Ok(Ok(EnrolmentStarted {
            factor: view(&enrolment.factor, account, state),
            setup: enrolment.setup,
        }))
    })
}

/// Starts adding a sign-in method: answers what to show (secret and QR code for an
/// authenticator app; the codes themselves for recovery codes). A method that needs
/// a proof stays `pending` until confirmed.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    request_body = StartEnrolment,
    responses(
        (status = 201, body = EnrolmentStarted),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`, `reauthentication_required` (with `max_age`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`factor_retired` (SMS), `factor_disabled`, `factor_not_enrollable`, `webauthn_unavailable` (no WebAuthn relying party configured: set `webauthn.rp_id`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`factor_kind_unknown`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/account/factors")]
pub async fn start_enrolment(
    caller: AccountCaller,
    body: web::Json<StartEnrolment>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller.require_recent_auth(&state)?;
    let kind = parse_kind(&body.kind)?;
    let started = blocking(&state, move |state| start(state, (&caller).into(), kind)).await?;
    state.outbox.wake();
    Ok(HttpResponse::Created()
        .insert_header(no_store())
        .json(started))
}

/// Makes a new set of ten recovery codes; the old set stops working at once.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "`setup.codes` holds the ten codes, shown only now", body = EnrolmentStarted),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`, `reauthentication_required`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`factor_disabled`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/account/recovery-codes")]
pub async fn regenerate_recovery_codes(
    caller: AccountCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller.require_recent_auth(&state)?;
    let started = blocking(&state, move |state| {
        start(state, (&caller).into(), FactorKind::RecoveryCode)
    })
    .await?;
    state.outbox.wake();
    Ok(HttpResponse::Created()
        .insert_header(no_store())
        .json(started))
}

/// The name a user gives a method: 1 to 64 characters, no control characters.
pub fn name_of(name: Option<&str>) -> Result<Option<String>, Problem> {
    let invalid = || {
        Problem::new(
            ProblemCode::InvalidName,
            "The name must be 1 to 64 characters without control characters",
        )
    };
    let Some(name) = name else {
        return Ok(None);
    };
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        Err(invalid())
    } else {
        Ok(Some(name.to_owned()))
    }
}

/// Activates a pending method with a proof that it works and gives it a name:
/// `{"code": "123456", "name": "Pixel 8"}` for an authenticator app.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    params(("factor" = String, Path, description = "The id of the pending factor")),
    request_body(content = FactorConfirmation, description = "The proof, with the factor's `kind`, and an optional `name` (1–64 characters): `totp`, a `code` from the app; `security_key`, `passkey`, `platform`, the `credential`: `credential.toJSON()` of the answer of `navigator.credentials.create` (stored with its AAGUID, transports and backup flags); `push` needs none: the phone's registration activates it; confirming asks whether that happened: 409 `push_device_pending` until it has, then 200 with the active factor"),
    responses(
        (status = 200, description = "Active", body = FactorView),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`, `reauthentication_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`factor_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`factor_not_pending`, `factor_not_removable` (the e-mail code is never pending), `factor_retired`, `factor_disabled`, `push_device_pending`, `webauthn_credential_exists` (this authenticator's credential is registered already)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`enrolment_expired`: start again; `webauthn_ceremony_expired`: the WebAuthn challenge expired or was used, start again", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`otp_invalid` (with `attempts_left`), `otp_replayed`, `invalid_name`, `webauthn_invalid` (the attestation does not verify: challenge, origin, user verification…), `webauthn_not_platform` (a roaming key answered a `platform` enrolment), `factor_kind_mismatch` (the body's `kind` is not the factor's)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited` (with `retry_after` seconds)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/account/factors/{factor}/confirm")]
pub async fn confirm_enrolment(
    caller: AccountCaller,
    path: web::Path<String>,
    proof: web::Json<FactorConfirmation>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller.require_recent_auth(&state)?;
    let raw_id = path.into_inner();
    let proof = proof.into_inner();
    let name = name_of(proof.name())?;
    let confirmed = blocking(&state, move |state| {
        confirm(state, (&caller).into(), &raw_id, &proof, name)
    })
    .await?;
    state.outbox.wake();
    Ok(HttpResponse::Ok().insert_header(no_store()).json(confirmed))
}

/// Activates the actor's pending factor `raw_id` when `proof` shows it works
/// (blocking). A refused proof commits, so it counts against the factor's throttle.
pub fn confirm(
    state: &AppState,
    actor: Actor<'_>,
    raw_id: &str,
    proof: &FactorConfirmation,
    name: Option<String>,
) -> Result<FactorView, Problem> {
    let now = state.clock.now();
    let ctx = FactorContext { state, now };
    let account = actor.account;
    in_tx(state, |tx| {
        let mut factor = owned_factor(tx, account, raw_id)?;
        // A push factor turns active when its phone registers: asking to confirm it
        // then is asking whether that happened, and the answer is its view.
        let registered = factor.kind == FactorKind::Push && factor.status == FactorStatus::Active;
        if registered && proof.kind() == FactorKind::Push {
            return Ok(Ok(view(&factor, account, state)));
        }
        if factor.status != FactorStatus::Pending {
            return Err(FactorError::refused(
                ProblemCode::FactorNotPending,
                "This sign-in method is already set up",
            ));
        }
        state
            .config
            .factors
            .check_enrollable(factor.kind)
            .map_err(|e| {
                FactorError::refused(
                    ProblemCode::from(&e),
                    "This kind of sign-in method cannot be added",
                )
            })?;
        if now - factor.created_at > ENROLMENT_TTL {
            tx.delete_factor(factor.id)?;
            return Ok(Err(Problem::new(
                ProblemCode::EnrolmentExpired,
                "This enrolment has expired; start again",
            )));
        }
        let module = enrol_module(factor.kind).ok_or_else(|| {
            FactorError::refused(
                ProblemCode::FactorNotEnrollable,
                "This kind of sign-in method cannot be added here",
            )
        })?;
        if proof.kind() != factor.kind {
            return Ok(Err(kind_mismatch(factor.kind)));
        }
        match module.confirm(&ctx, tx, account, &factor, proof)? {
            Verdict::Refused(problem) => Ok(Err(problem)),
            Verdict::Pending(_) => Ok(Err(Problem::new(
                ProblemCode::EnrolmentPending,
                "This sign-in method is not ready to confirm yet",
            ))),
            Verdict::Accepted(_) => {
                factor.status = FactorStatus::Active;
                factor.label = name.clone().or(factor.label);
                tx.update_factor(&factor)?;
                record_change(tx, state, actor, &factor, Change::Added, now)?;
                Ok(Ok(view(&factor, account, state)))
            }
        }
    })
}

/// Removes a sign-in method. Any may go, the last one included: the e-mail code
/// remains (and cannot be removed).
#[utoipa::path(
    operation_id = "remove_factor",
    tag = "account",
    security(("bearer" = [])),
    params(("factor" = String, Path, description = "A factor id from the list")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`, `reauthentication_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`factor_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`factor_not_removable` (the e-mail code)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/account/factors/{factor}")]
pub async fn remove(
    caller: AccountCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller.require_recent_auth(&state)?;
    let raw_id = path.into_inner();
    blocking(&state, move |state| {
        let now = state.clock.now();
        in_tx(state, |tx| {
            let factor = owned_factor(tx, &caller.account, &raw_id)?;
            if factor.kind == FactorKind::EmailOtp {
                return Err(FactorError::refused(
                    ProblemCode::FactorNotRemovable,
                    "The e-mail code is every account's fallback and cannot be removed",
                ));
            }
            tx.delete_factor(factor.id)?;
            // An enrolment never confirmed was no sign-in method: nothing to tell.
            if factor.status != FactorStatus::Pending {
                record_change(tx, state, (&caller).into(), &factor, Change::Removed, now)?;
            }
            Ok(Ok(()))
        })
    })
    .await?;
    state.outbox.wake();
    Ok(HttpResponse::NoContent().finish())
}
