//! `/api/v1/registration/…`: a migrated user follows the mailed link, sets a new
//! password under the policy, picks a second factor (or "later" = e-mail codes), and
//! the account becomes active with the `sub` it always had.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::factor_guard::window_start;
use gatehouse_core::ports::{
    AccountRepository, AuditLog, FactorRepository, MigrationRepository, RateLimits,
    RegistrationTokenRepository, RepositoryError,
};
use gatehouse_core::registration::{LinkStatus, RegistrationToken};
use gatehouse_core::{
    Account, AccountStatus, AuditKind, Email, FactorKind, FactorStatus, NewAuditEvent,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::account::{no_store, rate_limited};
use super::account_factors::{
    self, Actor, EnrolmentStarted, FactorView, StartEnrolment, Via, name_of, not_enrollable,
    parse_kind,
};
use super::origin::{Origin, client_address, throttle_bucket};
use super::password_rules::{self, PasswordRuleView, checklist};
use crate::factors::bodies::FactorConfirmation;
use crate::migration::invitations::LinkMailer;
use crate::problem::{Failure, Problem, ProblemCode};
use crate::state::AppState;

/// What the "Set your password" screen needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationView {
    /// `valid`, `expired` (offer a resend) or `used`.
    pub status: String,
    /// The address the link was sent to, masked: `r***@example.com`.
    pub email: Option<String>,
    /// The account's language (BCP 47, e.g. `ja`), as imported or set: the mails were
    /// written in it, and the pages should be too.
    pub locale: Option<String>,
    /// The next step when valid: `password`, then `second_factor`.
    pub next: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// The password policy as a checklist, in the order violations are reported.
    pub password_policy: Vec<PasswordRuleView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    pub password: String,
    /// The same password again ("passwords match" on the checklist).
    pub password_confirmation: String,
}

/// The second-factor step of registration.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondFactorChoice {
    /// `second_factor`.
    pub next: String,
    /// What the user may pick: `later` (e-mail codes, nothing to set up) and each kind
    /// this server can enrol (`totp`, …), set up through `POST …/factors` and confirmed
    /// before `POST …/complete`.
    pub choices: Vec<String>,
    pub default: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRegistration {
    /// `later` (or `email_otp`): one-time codes by e-mail; or the kind of the factor
    /// set up and confirmed in this registration, e.g. `totp`.
    pub second_factor: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationCompleted {
    /// `registered`.
    pub status: String,
    /// The second factor the account now signs in with.
    pub second_factor: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResendAccepted {
    /// `accepted`, whatever the address.
    pub status: String,
    pub detail: String,
}

fn link_unknown() -> Problem {
    Problem::new(
        ProblemCode::RegistrationLinkUnknown,
        "This registration link is not valid",
    )
    .with_detail("Ask for a new link")
}

fn status_name(status: LinkStatus) -> &'static str {
    match status {
        LinkStatus::Valid => "valid",
        LinkStatus::Expired => "expired",
        LinkStatus::Used => "used",
    }
}

/// The account vanished under the link (erased meanwhile): the link names nothing.
fn gone(e: RepositoryError) -> Failure {
    match e {
        RepositoryError::NotFound => link_unknown().into(),
        other => other.into(),
    }
}

/// The link and its account, whatever the link's status.
async fn load(
    state: &web::Data<AppState>,
    token: &str,
) -> Result<(RegistrationToken, Account), Problem> {
    if token.len() > 128 {
        return Err(link_unknown());
    }
    let hash = state.secrets.hasher.hash(token);
    let store = state.store.clone();
    web::block(move || {
        let link = store.registration_token(&hash)?.ok_or_else(link_unknown)?;
        let account = store
            .account_by_id(link.account_id)?
            .ok_or_else(link_unknown)?;
        Ok::<_, Failure>((link, account))
    })
    .await?
    .map_err(Problem::from)
}

/// The link and its account, refusing a link that is not valid.
async fn load_valid(
    state: &web::Data<AppState>,
    token: &str,
) -> Result<(RegistrationToken, Account), Problem> {
    let (link, account) = load(state, token).await?;
    match link.status(state.clock.now()) {
        LinkStatus::Valid if account.status == AccountStatus::PendingRegistration => {
            Ok((link, account))
        }
        LinkStatus::Valid | LinkStatus::Used => Err(Problem::new(
            ProblemCode::RegistrationLinkUsed,
            "Registration is already complete",
        )
        .with_detail("Sign in with your e-mail address and password")),
        LinkStatus::Expired => Err(Problem::new(
            ProblemCode::RegistrationLinkExpired,
            "This registration link has expired",
        )
        .with_detail("Ask for a new link")),
    }
}

/// The state of a registration link, the masked address and the password checklist.
#[utoipa::path(
    tag = "registration",
    params(("token" = String, Path, description = "From the mailed link's `token` parameter")),
    responses(
        (status = 200, body = RegistrationView),
        (status = 404, description = "`registration_link_unknown`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/registration/{token}")]
pub async fn get_registration(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (link, account) = load(&state, &path.into_inner()).await?;
    let mut status = link.status(state.clock.now());
    if status == LinkStatus::Valid && account.status != AccountStatus::PendingRegistration {
        status = LinkStatus::Used;
    }
    let next = (status == LinkStatus::Valid).then(|| {
        if account.password_hash.is_some() {
            "second_factor"
        } else {
            "password"
        }
        .to_owned()
    });
    Ok(HttpResponse::Ok().json(RegistrationView {
        status: status_name(status).to_owned(),
        email: account.email.as_ref().map(Email::masked),
        locale: account.locale.clone(),
        next,
        expires_at: link.expires_at,
        password_policy: checklist(&state.config.password_policy),
    }))
}

/// Sets the new password. Every broken rule is reported at once (422 `password_policy`
/// with `violations`), so the checklist can mark them all.
#[utoipa::path(
    tag = "registration",
    params(("token" = String, Path)),
    request_body = SetPassword,
    responses(
        (status = 200, description = "Accepted: choose a second factor", body = SecondFactorChoice),
        (status = 404, description = "`registration_link_unknown`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`registration_link_used`", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`registration_link_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`password_policy`, with `violations`: the codes of every broken rule", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`busy`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/registration/{token}/password")]
pub async fn set_password(
    path: web::Path<String>,
    body: web::Json<SetPassword>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (_, mut account) = load_valid(&state, &path.into_inner()).await?;
    let SetPassword {
        password,
        password_confirmation,
    } = body.into_inner();
    password_rules::check(
        &state.config.password_policy,
        &password,
        &password_confirmation,
        "The password does not meet the policy",
    )?;
    let hash = state.passwords.hash(password).await?;
    account.password_hash = Some(hash);
    account.updated_at = state.clock.now();
    let store = state.store.clone();
    web::block(move || store.update_account(&account).map_err(gone)).await??;
    Ok(HttpResponse::Ok().json(SecondFactorChoice {
        next: "second_factor".to_owned(),
        choices: second_factor_choices(&state),
        default: "later".to_owned(),
    }))
}

/// How a completion attempt ended.
enum Completion {
    Done,
    LinkUsed,
    FactorNotConfirmed,
}

/// Finishes registration: the second factor (`later` = e-mail codes), the account
/// becomes active, the link is used up, and an audit event is written.
#[utoipa::path(
    tag = "registration",
    params(("token" = String, Path)),
    request_body = CompleteRegistration,
    responses(
        (status = 200, body = RegistrationCompleted),
        (status = 404, description = "`registration_link_unknown`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`registration_link_used`, `password_required` (set the password first), `factor_not_confirmed` (the chosen kind has no confirmed factor)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`registration_link_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`factor_not_available`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/registration/{token}/complete")]
pub async fn complete(
    path: web::Path<String>,
    body: web::Json<CompleteRegistration>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let token = path.into_inner();
    let (link, mut account) = load_valid(&state, &token).await?;
    // `later` and `email_otp` need nothing set up; any other choice names the kind of
    // a factor confirmed in this registration.
    let chosen = match body.second_factor.as_str() {
        "later" | "email_otp" => FactorKind::EmailOtp,
        other => match other.parse::<FactorKind>() {
            Ok(kind) if second_factor_choices(&state).iter().any(|c| c == other) => kind,
            _ => return Err(factor_not_available(&state)),
        },
    };
    if account.password_hash.is_none() {
        return Err(password_required());
    }
    let now = state.clock.now();
    account
        .apply(now, AccountStatus::complete_registration)
        .map_err(|e| {
            // A pending account was just read: this is a bug, not the caller's doing.
            tracing::error!(error = %e, "completing a registration");
            Problem::internal()
        })?;
    // The link reached this address, so the address is proven.
    account.email_verified = true;
    let store = state.store.clone();
    let won = web::block(move || {
        store
            .transaction(|tx| {
                if chosen != FactorKind::EmailOtp
                    && !tx
                        .factors_of(account.id)?
                        .iter()
                        .any(|f| f.kind == chosen && f.status == FactorStatus::Active)
                {
                    return Ok(Completion::FactorNotConfirmed);
                }
                if !tx.use_registration_token(&link.token_hash, now)? {
                    return Ok(Completion::LinkUsed);
                }
                tx.update_account(&account)?;
                if let Some(mut migration) = tx.migration_of(account.id)? {
                    migration.registered(now);
                    tx.update_migration(&migration)?;
                }
                tx.record(
                    &NewAuditEvent::new(AuditKind::RegistrationCompleted, Some(account.id), now)
                        .with_detail("second_factor", chosen.as_str()),
                )?;
                Ok(Completion::Done)
            })
            .map_err(gone)
    })
    .await??;
    match won {
        Completion::Done => Ok(HttpResponse::Ok().json(RegistrationCompleted {
            status: "registered".to_owned(),
            second_factor: chosen.as_str().to_owned(),
        })),
        Completion::LinkUsed => Err(Problem::new(
            ProblemCode::RegistrationLinkUsed,
            "Registration is already complete",
        )),
        Completion::FactorNotConfirmed => Err(Problem::new(
            ProblemCode::FactorNotConfirmed,
            "Set up and confirm that second factor first",
        )
        .with_detail("Start it with POST …/factors, confirm it, then complete")),
    }
}

/// What the second-factor step offers: `later` (e-mail codes) first, then every kind
/// this server can enrol, recovery codes aside (they back a factor up, they are none).
fn second_factor_choices(state: &AppState) -> Vec<String> {
    std::iter::once("later".to_owned())
        .chain(
            FactorKind::ALL
                .into_iter()
                .filter(|kind| *kind != FactorKind::RecoveryCode)
                .filter(|kind| not_enrollable(state, *kind).is_none())
                .map(|kind| kind.as_str().to_owned()),
        )
        .collect()
}

fn factor_not_available(state: &AppState) -> Problem {
    Problem::new(
        ProblemCode::FactorNotAvailable,
        "That second factor cannot be chosen here",
    )
    .with_extension("choices", json!(second_factor_choices(state)))
}

fn password_required() -> Problem {
    Problem::new(ProblemCode::PasswordRequired, "Set a password first")
}

/// A registering account's link, refusing it until the password is set.
async fn load_for_factor_step(
    state: &web::Data<AppState>,
    token: &str,
) -> Result<Account, Problem> {
    let (_, account) = load_valid(state, token).await?;
    if account.password_hash.is_none() {
        return Err(password_required());
    }
    Ok(account)
}

/// The actor of a change made through a registration link.
fn registrant<'a>(account: &'a Account, origin: &'a Origin) -> Actor<'a> {
    Actor {
        account,
        via: Via::Registration,
        ip: origin.ip.as_deref(),
        user_agent: origin.user_agent.as_deref(),
    }
}

/// Starts setting up the chosen second factor inside the registration: the same
/// ceremony as `POST /api/v1/account/factors` (a TOTP secret and QR code, WebAuthn
/// options…), authorised by the link instead of a bearer token.
#[utoipa::path(
    tag = "registration",
    params(("token" = String, Path)),
    request_body = StartEnrolment,
    responses(
        (status = 201, body = EnrolmentStarted),
        (status = 404, description = "`registration_link_unknown`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`registration_link_used`, `password_required`", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`registration_link_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`factor_kind_unknown`, `factor_not_available` (with `choices`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/registration/{token}/factors")]
pub async fn start_factor(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<StartEnrolment>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let account = load_for_factor_step(&state, &path.into_inner()).await?;
    let kind = parse_kind(&body.kind)?;
    if !second_factor_choices(&state)
        .iter()
        .any(|c| c == kind.as_str())
    {
        return Err(factor_not_available(&state));
    }
    let origin = Origin::of(&req, &state);
    let shared = state.clone();
    let started =
        web::block(move || account_factors::start(&shared, registrant(&account, &origin), kind))
            .await??;
    state.outbox.wake();
    Ok(HttpResponse::Created()
        .insert_header(no_store())
        .json(started))
}

/// Confirms the factor started in this registration with its proof, as
/// `POST /api/v1/account/factors/{factor}/confirm` does.
#[utoipa::path(
    tag = "registration",
    params(("token" = String, Path), ("factor" = String, Path, description = "The id of the pending factor")),
    request_body(content = FactorConfirmation, description = "The proof, with the factor's `kind`, and an optional `name`, as for `POST /api/v1/account/factors/{factor}/confirm`"),
    responses(
        (status = 200, description = "Active: finish with `POST …/complete`", body = FactorView),
        (status = 404, description = "`registration_link_unknown`, `factor_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`registration_link_used`, `password_required`, `factor_not_pending`, `factor_not_removable`, `factor_retired`, `factor_disabled`, `push_device_pending`, `webauthn_credential_exists`", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`registration_link_expired`, `enrolment_expired`, `webauthn_ceremony_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`otp_invalid` (with `attempts_left`), `otp_replayed`, `invalid_name`, `webauthn_invalid`, `webauthn_not_platform`, `factor_kind_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/registration/{token}/factors/{factor}/confirm")]
pub async fn confirm_factor(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    proof: web::Json<FactorConfirmation>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (token, factor_id) = path.into_inner();
    let account = load_for_factor_step(&state, &token).await?;
    let proof = proof.into_inner();
    let name = name_of(proof.name())?;
    let origin = Origin::of(&req, &state);
    let shared = state.clone();
    let confirmed = web::block(move || {
        let actor = registrant(&account, &origin);
        account_factors::confirm(&shared, actor, &factor_id, &proof, name)
    })
    .await??;
    state.outbox.wake();
    Ok(HttpResponse::Ok().insert_header(no_store()).json(confirmed))
}

/// Asks for a new registration link. The answer is always 202 with the same body,
/// given before any lookup, so neither body nor timing tells whether the address is
/// known or pending; only a pending account is mailed a new link (which voids the old
/// one). Limited per address (silently) and per client IP (429).
#[utoipa::path(
    tag = "registration",
    request_body = ResendRequest,
    responses(
        (status = 202, body = ResendAccepted),
        (status = 429, description = "`rate_limited`: too many requests from this client", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/registration/resend")]
pub async fn resend(
    req: HttpRequest,
    body: web::Json<ResendRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let config = &state.config.migration;
    let now = state.clock.now();
    let window = TimeDelta::seconds(i64::from(config.resend_window_seconds));
    let start = window_start(now, window);
    // The client address rule (a client behind no trusted proxy cannot choose its bucket).
    let ip = client_address(&req, &state.trusted_proxies)
        .map_or_else(|| "unknown".to_owned(), throttle_bucket);
    let ip_key = state.secrets.hasher.hash(&format!("resend:ip:{ip}"));
    let store = state.store.clone();
    let hits = web::block(move || store.transaction(|tx| tx.hit(&ip_key, start))).await??;
    if hits > config.resend_per_ip {
        state.metrics.throttle("registration_resend");
        // The problem answer carries it as `Retry-After` too.
        return Err(rate_limited(
            "Too many requests",
            (start + window - now).num_seconds(),
        ));
    }
    if let Ok(email) = Email::parse(body.email.trim()) {
        let shared = state.clone();
        // After the answer: the lookup and the mail must not shape its timing.
        state
            .background
            .run_blocking("registration resend", move || {
                if let Err(e) = resend_link(&shared, &email, start) {
                    tracing::warn!(error = %e, "resending a registration link failed");
                }
            });
    }
    Ok(HttpResponse::Accepted().json(ResendAccepted {
        status: "accepted".to_owned(),
        detail: "If this address belongs to an account awaiting registration, a new link \
                 is on its way."
            .to_owned(),
    }))
}

/// Mails a new link if `email` names a pending account and its limit allows; true
/// when a mail was queued.
fn resend_link(
    state: &AppState,
    email: &Email,
    window_start: DateTime<Utc>,
) -> Result<bool, RepositoryError> {
    let now = state.clock.now();
    let key = state
        .secrets
        .hasher
        .hash(&format!("resend:address:{}", email.normalized()));
    let mailer = LinkMailer {
        hasher: &state.secrets.hasher,
        outbox: &state.outbox,
        config: &state.config.migration,
    };
    let limit = state.config.migration.resend_per_address;
    let sent = state.store.transaction(|tx| {
        if tx.hit(&key, window_start)? > limit {
            return Ok(false);
        }
        match tx.account_by_email(email)? {
            Some(account) if account.status == AccountStatus::PendingRegistration => {
                mailer.send_link(tx, &account, now, now, "resend")?;
                Ok(true)
            }
            _ => Ok(false),
        }
    })?;
    if sent {
        state.outbox.wake();
    }
    Ok(sent)
}
