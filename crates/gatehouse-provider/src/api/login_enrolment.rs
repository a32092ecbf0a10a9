//! `/api/v1/login/{login_challenge}/enrolment`: the biometric key a finished login
//! offers (`offer_platform_enrolment`). The login page has no bearer token, so the
//! finished login itself is the authority, for its own browser only, for a few minutes,
//! and for one `platform` factor: the same enrolment as the account API's
//! (`account_factors::start` / `confirm`), audited with the client and `via: login`.

use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::TimeDelta;
use gatehouse_core::login::LoginRequest;
use gatehouse_core::ports::{AccountRepository, FactorRepository};
use gatehouse_core::{Account, FactorKind, FactorStatus};
use gatehouse_store::Tx;

use super::account::{blocking, in_tx, no_store};
use super::account_factors::{self, Actor, EnrolmentStarted, FactorView, Via, name_of};
use super::login::load_for_browser;
use super::origin::Origin;
use super::second_factor::offer_platform;
use crate::factors::bodies::FactorConfirmation;
use crate::oidc::browser;
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

/// How long after a login finished its browser may still add the biometric key.
pub const ENROLMENT_WINDOW: TimeDelta = TimeDelta::minutes(5);

/// The finished login `challenge` of this browser and its account, while the offer
/// stands: finished with a second factor, not expired, at most `ENROLMENT_WINDOW` ago,
/// and the account still without a biometric key (so the offer is used once).
fn offered(
    tx: &Tx<'_>,
    state: &AppState,
    browser: Option<&str>,
    challenge: &str,
) -> Result<(LoginRequest, Account), Problem> {
    let login = load_for_browser(tx, state, browser, challenge)?;
    let now = state.clock.now();
    let Some(completed_at) = login.completed_at else {
        return Err(Problem::new(
            ProblemCode::LoginNotFinished,
            "This login is not finished yet",
        ));
    };
    if login.is_expired(now) || now >= completed_at + ENROLMENT_WINDOW {
        return Err(Problem::new(
            ProblemCode::LoginRequestExpired,
            "This login request has expired",
        )
        .with_detail("Add a biometric key from the account settings"));
    }
    // A login that ended without signing in (the client's phishing-resistance demand
    // unmet) has no second proof in its `amr`: it offers nothing.
    let signed_in = login.amr.iter().any(|m| m == "mfa");
    let account = match login.account_id {
        Some(id) if signed_in => tx.account_by_id(id).map_err(Problem::from)?,
        _ => None,
    };
    let Some(account) = account else {
        return Err(not_offered());
    };
    if !offer_platform(tx, state, &account).map_err(Problem::from)? {
        return Err(not_offered());
    }
    Ok((login, account))
}

fn not_offered() -> Problem {
    Problem::new(
        ProblemCode::PlatformEnrolmentNotOffered,
        "This login does not offer a biometric key",
    )
}

/// The actor of an enrolment after a login: the account, through the login's client.
fn signed_in<'a>(account: &'a Account, login: &'a LoginRequest, origin: &'a Origin) -> Actor<'a> {
    Actor {
        account,
        via: Via::Login(&login.request.client_id),
        ip: origin.ip.as_deref(),
        user_agent: origin.user_agent.as_deref(),
    }
}

/// Starts adding the biometric key a finished login offered: answers the browser's
/// creation options (`setup.public_key`), as `POST /api/v1/account/factors`
/// `{"kind": "platform"}` does. Only from the browser of the login, within five minutes
/// of its end, and while the account has no biometric key.
#[utoipa::path(
    operation_id = "login_enrolment_start",
    tag = "login",
    params(("login_challenge" = String, Path)),
    responses(
        (status = 201, description = "Pass `setup.public_key.publicKey` to `PublicKeyCredential.parseCreationOptionsFromJSON` and that to `navigator.credentials.create`", body = EnrolmentStarted),
        (status = 403, description = "`browser_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`login_request_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`login_not_finished`; `platform_enrolment_not_offered` (the login did not offer one, or the key is added already); `factor_retired`, `factor_disabled`, `factor_not_enrollable`, `webauthn_unavailable`", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`login_request_expired`: the login expired, or finished more than five minutes ago", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/login/{login_challenge}/enrolment")]
pub async fn start(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (browser, challenge) = (browser::presented(&req), path.into_inner());
    let origin = Origin::of(&req, &state);
    let started = blocking(&state, move |state| {
        let (login, account) = in_tx(state, |tx| {
            Ok(offered(tx, state, browser.as_deref(), &challenge))
        })?;
        let actor = signed_in(&account, &login, &origin);
        account_factors::start(state, actor, FactorKind::Platform)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(no_store())
        .json(started))
}

/// Confirms the biometric key started with `POST …/enrolment`: the `credential`
/// (`credential.toJSON()` of `navigator.credentials.create`) and an optional `name`, as
/// `POST /api/v1/account/factors/{factor}/confirm` takes them. Once it is active the
/// offer is over: any further call answers `platform_enrolment_not_offered`.
#[utoipa::path(
    operation_id = "login_enrolment_confirm",
    tag = "login",
    params(("login_challenge" = String, Path)),
    request_body(content = FactorConfirmation, description = "`{\"kind\": \"platform\", \"credential\": …, \"name\": \"This laptop\"}`"),
    responses(
        (status = 200, description = "Active: the account has its biometric key", body = FactorView),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`browser_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`login_request_not_found`; `factor_not_found`: no enrolment started", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`login_not_finished`, `platform_enrolment_not_offered`, `factor_not_pending`, `factor_retired`, `factor_disabled`, `factor_not_enrollable`, `webauthn_credential_exists`", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`login_request_expired`, `enrolment_expired`, `webauthn_ceremony_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_name`, `webauthn_invalid`, `webauthn_not_platform`, `factor_kind_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited` (with `retry_after` seconds)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/login/{login_challenge}/enrolment/confirm")]
pub async fn confirm(
    req: HttpRequest,
    path: web::Path<String>,
    proof: web::Json<FactorConfirmation>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (browser, challenge) = (browser::presented(&req), path.into_inner());
    let origin = Origin::of(&req, &state);
    let proof = proof.into_inner();
    let name = name_of(proof.name())?;
    let confirmed = blocking(&state, move |state| {
        let (login, account, factor) = in_tx(state, |tx| {
            let (login, account) = match offered(tx, state, browser.as_deref(), &challenge) {
                Ok(offer) => offer,
                Err(problem) => return Ok(Err(problem)),
            };
            // `start` keeps at most one pending enrolment of a kind per account.
            let pending = tx
                .factors_of(account.id)?
                .into_iter()
                .find(|f| f.kind == FactorKind::Platform && f.status == FactorStatus::Pending);
            Ok(pending
                .map(|factor| (login, account, factor.id.to_string()))
                .ok_or_else(|| {
                    Problem::new(
                        ProblemCode::FactorNotFound,
                        "No biometric key is being added: start again",
                    )
                }))
        })?;
        let actor = signed_in(&account, &login, &origin);
        account_factors::confirm(state, actor, &factor, &proof, name)
    })
    .await?;
    state.outbox.wake();
    Ok(HttpResponse::Ok().insert_header(no_store()).json(confirmed))
}
