//! The second step of a login: challenge a factor ("try another method" is a
//! challenge on another one), verify the proof, and finish: a session for the
//! browser and an authorization code for the client.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::TimeDelta;
use gatehouse_core::consent::ConsentDecision;
use gatehouse_core::factor::IMPLICIT_EMAIL_FACTOR;
use gatehouse_core::login::{Browser, LoginRequest};
use gatehouse_core::ports::{
    AccountRepository, AuditLog, FactorRepository, LoginRequestRepository, RepositoryError,
    SessionRepository,
};
use gatehouse_core::{Account, AuditKind, Factor, FactorId, FactorKind, NewAuditEvent};
use gatehouse_store::Tx;
use serde::Serialize;
use utoipa::ToSchema;

use super::account::no_store;
use super::consent::{ConsentView, consent_view};
use super::login::load_signing_in;
use super::origin::Origin;
use crate::crypto::random;
use crate::factors::bodies::{FactorChallenge, FactorProof, LoginPending};
use crate::factors::{
    FactorContext, FactorError, Verdict, enrol_module, kind_mismatch, login_module,
};
use crate::oidc::browser::{self, SESSION_COOKIE};
use crate::oidc::codes::{consent_for, established_acr, issue_code, requires_phishing_resistance};
use crate::problem::{Failure, Problem, ProblemCode};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginDone {
    /// `done`; or `consent` when the client is not first-party and the user has not
    /// granted it what it asks for: show `consent`, then answer
    /// `POST /api/v1/login/{login_challenge}/consent`. The session cookie is set
    /// either way.
    pub next: DoneStep,
    /// With `next: done`: where to send the browser, the client's redirect URI with
    /// `code`, `state` and `iss`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub redirect_to: Option<String>,
    /// With `next: consent`: what to ask the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub consent: Option<ConsentView>,
    /// The account has no platform ("biometric") key and the server's policy suggests
    /// one: the UI may offer to register it now, from this browser, within five minutes
    /// (`POST /api/v1/login/{login_challenge}/enrolment`, then `…/enrolment/confirm`),
    /// before following `redirect_to`.
    pub offer_platform_enrolment: bool,
}

/// What follows a proven second factor.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DoneStep {
    Done,
    Consent,
}

/// What a finished login produced: the code's redirect, or the consent to ask for.
#[derive(Debug)]
pub(crate) struct Finished {
    pub redirect_to: Option<String>,
    pub consent: Option<ConsentView>,
    pub offer_platform_enrolment: bool,
}

/// The account and the factor a step names, checked against the login and the registry.
fn resolve(
    tx: &Tx<'_>,
    state: &AppState,
    login: &LoginRequest,
    factor_id: &str,
) -> Result<(Account, Option<Factor>, FactorKind), FactorError> {
    let Some(account_id) = login.account_id else {
        return Err(FactorError::refused(
            ProblemCode::PasswordRequired,
            "Enter the password first",
        ));
    };
    let account = tx
        .account_by_id(account_id)?
        .ok_or(RepositoryError::NotFound)?;
    let unknown = || {
        FactorError::refused(
            ProblemCode::FactorNotFound,
            "No such factor for this account",
        )
    };
    let (factor, kind) = if factor_id == IMPLICIT_EMAIL_FACTOR {
        (None, FactorKind::EmailOtp)
    } else {
        let id = uuid::Uuid::parse_str(factor_id).map_err(|_| unknown())?;
        let factor = tx
            .factor_by_id(FactorId(id))?
            .filter(|f| f.account_id == account.id)
            .ok_or_else(unknown)?;
        let kind = factor.kind;
        (Some(factor), kind)
    };
    state.config.factors.check_accepted(kind).map_err(|e| {
        FactorError::refused(ProblemCode::from(&e), "This factor can no longer be used")
    })?;
    if requires_phishing_resistance(
        &login.request,
        &state.config.webauthn.phishing_resistant_acr,
    ) && !kind.is_phishing_resistant()
    {
        return Err(FactorError::Refused(Box::new(
            Problem::new(
                ProblemCode::FactorNotAllowed,
                "This sign-in asks for a phishing-resistant method",
            )
            .with_detail("Use a security key, passkey or biometric key"),
        )));
    }
    // An enrolment never confirmed proves nothing.
    if factor
        .as_ref()
        .is_some_and(|f| f.status != gatehouse_core::FactorStatus::Active)
    {
        return Err(FactorError::refused(
            ProblemCode::FactorNotActive,
            "This factor is not set up yet",
        ));
    }
    Ok((account, factor, kind))
}

/// Sends (or shows) the challenge of one factor.
#[utoipa::path(
    operation_id = "factor_challenge",
    tag = "login",
    params(("login_challenge" = String, Path), ("factor" = String, Path, description = "A factor id from the password step, or `email`")),
    responses(
        (status = 200, description = "Challenge sent (or shown): what to show depends on `kind`. `email_otp`: a code was mailed to `sent_to`; `totp`: ask for the app's code (nothing is sent); `recovery_code`: ask for a code; `push`: show `number` (the phone must pick it), then poll `verify`; `security_key`, `passkey`, `platform`: pass `public_key.publicKey` to `PublicKeyCredential.parseRequestOptionsFromJSON` and that to `navigator.credentials.get`. The challenge works once, for `expires_in` seconds, for this login and this factor only", body = FactorChallenge),
        (status = 403, description = "`browser_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`login_request_not_found`, `factor_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`login_request_completed`, `password_required`, `factor_retired`, `factor_disabled`, `factor_not_active`, `factor_not_allowed` (the client asked for a phishing-resistant login: only WebAuthn factors), `webauthn_unavailable` (no WebAuthn relying party configured)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`login_request_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`otp_send_limit`; `push_send_limit` (ten pushes per factor per 15 minutes, with `retry_after`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/login/{login_challenge}/factors/{factor}/challenge")]
pub async fn challenge(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (login_challenge, factor_id) = path.into_inner();
    let browser = browser::presented(&req);
    let shared = state.clone();
    let answer = web::block(move || {
        let state = shared.as_ref();
        let ctx = FactorContext {
            state,
            now: state.clock.now(),
        };
        state.store.transaction_with(|tx| {
            let login = load_signing_in(tx, state, browser.as_deref(), &login_challenge)?;
            let (account, factor, kind) = resolve(tx, state, &login, &factor_id)?;
            let module = login_module(kind).ok_or_else(|| {
                FactorError::refused(
                    ProblemCode::FactorDisabled,
                    "This factor is not available at login",
                )
            })?;
            module
                .challenge(&ctx, tx, &account, factor.as_ref(), &login)
                .map(|answer| (kind, answer))
        })
    })
    .await?;
    let (kind, answer) = answer.map_err(Problem::from).inspect_err(|problem| {
        let throttled = problem.status == StatusCode::TOO_MANY_REQUESTS.as_u16();
        if throttled {
            state.metrics.throttle("factor_challenge");
        }
        let outcome = if throttled { "throttled" } else { "refused" };
        state.metrics.login("challenge", "-", outcome);
    })?;
    state.metrics.login("challenge", kind.as_str(), "ok");
    // Committed: the code can go out now rather than at the worker's next poll.
    state.outbox.wake();
    Ok(HttpResponse::Ok().json(answer))
}

/// Checks the proof; when it is right, finishes the login.
#[utoipa::path(
    operation_id = "factor_verify",
    tag = "login",
    params(("login_challenge" = String, Path), ("factor" = String, Path)),
    request_body(content = FactorProof, description = "The proof, with the factor's `kind`: a `code` (`123456` for `email_otp` and `totp`, `xxxxx-xxxxx` for `recovery_code`); nothing for `push` (a poll); for `security_key`, `passkey`, `platform`, the `credential`: `credential.toJSON()` of the answer of `navigator.credentials.get`"),
    responses(
        (status = 200, description = "Done: send the browser to `redirect_to`; the session cookie is set", body = LoginDone),
        (status = 202, description = "`push`: the phone has not answered yet; poll again after `poll_interval` seconds", body = LoginPending),
        (status = 400, description = "`invalid_json`: no `kind`, or not the members its kind takes, or a `credential` that is not a WebAuthn answer", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`push_denied`: the sign-in was denied on the phone; `browser_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`login_request_not_found`, `factor_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`login_request_completed`, `otp_not_sent`, `otp_expired`, `otp_exhausted`, `push_not_sent`, `push_used`, `password_required`, `factor_retired`, `factor_not_active`, `factor_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`login_request_expired`; `push_expired`: the phone did not answer in time; `webauthn_ceremony_expired`: the WebAuthn challenge is unknown, used or expired; challenge again", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`otp_invalid` (with `attempts_left`), `otp_replayed` (a TOTP step already used), `push_number_mismatch` (the phone picked a wrong number), `webauthn_invalid` (the assertion does not verify: wrong challenge, origin, credential or signature), `webauthn_counter_regression` (the signature counter went backwards: refused and audited), `factor_kind_mismatch` (the body's `kind` is not the factor's)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many wrong codes for this factor (with `retry_after` seconds); try another method", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/login/{login_challenge}/factors/{factor}/verify")]
pub async fn verify(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    proof: web::Json<FactorProof>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let proof = proof.into_inner();
    let (login_challenge, factor_id) = path.into_inner();
    let browser = browser::presented(&req);
    let session_token = random::token()?;
    let code = random::token()?;
    let origin = Origin::of(&req, &state);
    let shared = state.clone();
    let token = session_token.clone();
    let outcome = web::block(move || {
        let state = shared.as_ref();
        let issued = Issued {
            session_token: &token,
            code: &code,
            origin: &origin,
        };
        state.store.transaction_with(|tx| {
            let login = load_signing_in(tx, state, browser.as_deref(), &login_challenge)?;
            let (account, factor, kind) = resolve(tx, state, &login, &factor_id)?;
            let verified = prove(tx, state, login, &account, factor, kind, &proof, &issued)?;
            Ok::<_, Failure>((kind, verified))
        })
    })
    .await?;
    let (kind, verdict) = match &outcome {
        Ok((kind, Verified::Done(_))) => (kind.as_str(), "ok"),
        Ok((kind, Verified::Pending(_))) => (kind.as_str(), "pending"),
        Ok((kind, Verified::Refused(p))) => (kind.as_str(), refusal_outcome(&state, p)),
        Err(Failure::Refused(p)) => ("-", refusal_outcome(&state, p)),
        Err(Failure::Repository(_)) => ("-", "failed"),
    };
    state.metrics.login("verify", kind, verdict);
    match outcome.map_err(Problem::from)?.1 {
        Verified::Done(finished) => {
            state.metrics.login("completed", "-", "ok");
            Ok(done(&state, session_token, finished))
        }
        Verified::Pending(waiting) => Ok(HttpResponse::Accepted()
            .insert_header(no_store())
            .json(waiting)),
        Verified::Refused(problem) => Err(problem),
    }
}

/// The metrics outcome of a refused proof (a throttle is counted as one).
fn refusal_outcome(state: &AppState, problem: &Problem) -> &'static str {
    if problem.status == StatusCode::TOO_MANY_REQUESTS.as_u16() {
        state.metrics.throttle("factor_proofs");
        "throttled"
    } else {
        "refused"
    }
}

/// What a verify commits: the login finished, the phone has not answered yet, or a
/// refusal (a counted attempt, audited).
enum Verified {
    Done(Finished),
    Pending(LoginPending),
    Refused(Problem),
}

/// Checks `proof` with the factor's module and, when it holds, finishes the login.
#[allow(clippy::too_many_arguments)]
fn prove(
    tx: &Tx<'_>,
    state: &AppState,
    login: LoginRequest,
    account: &Account,
    factor: Option<Factor>,
    kind: FactorKind,
    proof: &FactorProof,
    issued: &Issued<'_>,
) -> Result<Verified, Failure> {
    if proof.kind() != kind {
        return Ok(Verified::Refused(kind_mismatch(kind)));
    }
    let Some(module) = login_module(kind) else {
        return Ok(Verified::Refused(Problem::new(
            ProblemCode::FactorDisabled,
            "Not available at login",
        )));
    };
    let now = state.clock.now();
    let ctx = FactorContext { state, now };
    let methods = match module.verify(&ctx, tx, account, factor.as_ref(), &login, proof) {
        Ok(Verdict::Accepted(methods)) => methods,
        // Refusals commit: the attempt counts, and the owner sees it in their
        // security events.
        Ok(Verdict::Refused(p)) => {
            let mut failed = NewAuditEvent::new(AuditKind::LoginFailed, Some(account.id), now)
                .with_detail("client_id", login.request.client_id.clone())
                .with_detail("reason", "second_factor")
                .with_detail("factor_kind", kind.as_str())
                .with_detail("code", p.code.as_str());
            failed.user_agent.clone_from(&issued.origin.user_agent);
            failed.ip.clone_from(&issued.origin.ip);
            tx.record(&failed)?;
            return Ok(Verified::Refused(p));
        }
        Ok(Verdict::Pending(waiting)) => return Ok(Verified::Pending(waiting)),
        Err(Failure::Refused(p)) => return Ok(Verified::Refused(*p)),
        Err(failed) => return Err(failed),
    };
    if let Some(mut used) = factor {
        used.last_used_at = Some(now);
        tx.update_factor(&used)?;
    }
    let acr = established_acr(
        kind.is_phishing_resistant(),
        &login.request,
        &state.config.webauthn.phishing_resistant_acr,
    );
    Ok(Verified::Done(finish(
        tx, state, login, account, &methods, &acr, issued,
    )?))
}

/// What a finished login hands out, and where its request came from.
#[derive(Debug)]
pub(crate) struct Issued<'a> {
    pub session_token: &'a str,
    pub code: &'a str,
    pub origin: &'a Origin,
}

/// The answer to a finished login: the session cookie and where to go.
pub(crate) fn done(state: &AppState, session_token: String, finished: Finished) -> HttpResponse {
    let secure = state.config.server.issuer.starts_with("https://");
    let cookie = Cookie::build(SESSION_COOKIE, session_token)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(
            state.config.login.session_ttl_seconds.into(),
        ))
        .finish();
    HttpResponse::Ok().cookie(cookie).json(LoginDone {
        next: if finished.consent.is_some() {
            DoneStep::Consent
        } else {
            DoneStep::Done
        },
        redirect_to: finished.redirect_to,
        consent: finished.consent,
        offer_platform_enrolment: finished.offer_platform_enrolment,
    })
}

/// Whether to suggest a platform ("biometric") key after this login: the policy says
/// so, the kind can be enrolled here, and the account has none yet.
pub(crate) fn offer_platform(
    tx: &Tx<'_>,
    state: &AppState,
    account: &Account,
) -> Result<bool, RepositoryError> {
    let kind = FactorKind::Platform;
    if !state.config.webauthn.offer_platform_enrolment
        || state.config.factors.check_enrollable(kind).is_err()
        || enrol_module(kind).is_none()
    {
        return Ok(false);
    }
    let has_one = tx
        .factors_of(account.id)?
        .iter()
        .any(|f| f.kind == kind && f.status == gatehouse_core::FactorStatus::Active);
    Ok(!has_one)
}

/// Records the finished login: session, code, audit event. `acr` is what the login
/// established (multi-factor, or phishing-resistant with a WebAuthn credential). A
/// client that needs the user's consent gets no code yet: the login waits, with its
/// session, for the consent step.
pub(crate) fn finish(
    tx: &Tx<'_>,
    state: &AppState,
    mut login: LoginRequest,
    account: &Account,
    methods: &[&str],
    acr: &str,
    issued: &Issued<'_>,
) -> Result<Finished, RepositoryError> {
    let now = state.clock.now();
    let browser = Browser {
        session_id: random::token().map_err(|e| RepositoryError::Unavailable(e.to_string()))?,
        token_hash: state.secrets.hasher.hash(issued.session_token),
        user_agent: issued.origin.user_agent.clone(),
        ip: issued.origin.ip.clone(),
        session_lifetime: TimeDelta::seconds(state.config.login.session_ttl_seconds.into()),
    };
    let session = login.sign_in(account.id, methods, acr, browser, now);
    tx.insert_session(&session)?;
    let (client, grant, decision) = consent_for(tx, &state.clients, &login.request, account.id)?;
    let (redirect_to, consent) = match decision {
        ConsentDecision::Covered => {
            login.complete(now);
            let to = issue_code(tx, state, &login.request, &session, issued.code)?;
            (Some(to), None)
        }
        // `Required` (prompt=none) never reaches a login step: asked like any other.
        ConsentDecision::Ask { .. } | ConsentDecision::Required => {
            login.await_consent(&session);
            (None, Some(consent_view(&login, &client, grant.as_ref())))
        }
    };
    tx.update_login_request(&login)?;
    let mut event = NewAuditEvent::new(AuditKind::LoginSucceeded, Some(account.id), now)
        .with_detail("client_id", login.request.client_id.clone())
        .with_detail("amr", session.amr.join(" "))
        .with_detail("acr", acr);
    event.user_agent.clone_from(&issued.origin.user_agent);
    event.ip.clone_from(&issued.origin.ip);
    tx.record(&event)?;
    Ok(Finished {
        redirect_to,
        consent,
        offer_platform_enrolment: offer_platform(tx, state, account)?,
    })
}
