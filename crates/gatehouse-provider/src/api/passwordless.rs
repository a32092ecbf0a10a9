//! Password-less sign-in with a passkey, offered before the password step: a
//! discoverable-credential ceremony in which the authenticator names the account
//! (its user handle). A passkey assertion with user verification finishes the login
//! alone (`amr` `hwk` or `swk`, `user`, `mfa`), exactly like a finished second step.

use actix_web::{HttpRequest, HttpResponse, post, web};
use gatehouse_core::login::LoginRequest;
use gatehouse_core::ports::FactorRepository;
use gatehouse_store::Tx;

use super::login::{load_signing_in, passkey_sign_in};
use super::origin::Origin;
use super::second_factor::{Issued, LoginDone, done, finish};
use crate::crypto::random;
use crate::factors::FactorContext;
use crate::factors::bodies::{PasskeySignIn, WebauthnChallenge};
use crate::factors::webauthn::{finish_passwordless, start_passwordless};
use crate::oidc::browser;
use crate::oidc::codes::established_acr;
use crate::problem::{Failure, Problem, ProblemCode};
use crate::state::AppState;

fn not_offered() -> Problem {
    Problem::new(
        ProblemCode::PasskeySignInDisabled,
        "Passkeys cannot sign in on this server",
    )
}

/// The browser's login request, when password-less sign-in is on offer here.
fn offered_login(
    tx: &Tx<'_>,
    state: &AppState,
    browser: Option<&str>,
    login_challenge: &str,
) -> Result<LoginRequest, Problem> {
    let login = load_signing_in(tx, state, browser, login_challenge)?;
    if passkey_sign_in(state) {
        Ok(login)
    } else {
        Err(not_offered())
    }
}

/// Starts a password-less sign-in: options for `navigator.credentials.get` with no
/// `allowCredentials` (the authenticator offers its passkeys for this site), and
/// `mediation: "conditional"` so the UI can show them in the identifier field's
/// autofill. Starting again replaces the previous challenge of this login.
#[utoipa::path(
    operation_id = "passkey_challenge",
    tag = "login",
    params(("login_challenge" = String, Path)),
    responses(
        (status = 200, description = "Options for `navigator.credentials.get` with no credential list (the authenticator offers its passkeys) and user verification required; with `mediation: conditional`, for passkey autofill. The challenge works once, for `expires_in` seconds, for this login only", body = WebauthnChallenge),
        (status = 403, description = "`browser_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`login_request_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`login_request_completed`, `passkey_sign_in_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`login_request_expired`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/login/{login_challenge}/passkey/challenge")]
pub async fn challenge(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (browser, login_challenge) = (browser::presented(&req), path.into_inner());
    let shared = state.clone();
    let answer = web::block(move || {
        let state = shared.as_ref();
        let ctx = FactorContext {
            state,
            now: state.clock.now(),
        };
        state
            .store
            .transaction_with(|tx| {
                let login = offered_login(tx, state, browser.as_deref(), &login_challenge)?;
                start_passwordless(&ctx, tx, &login)
            })
            .map_err(Problem::from)
    })
    .await??;
    Ok(HttpResponse::Ok().json(answer))
}

/// Finishes a password-less sign-in with the browser's assertion. The passkey must be
/// an active `passkey` or `platform` factor of the account its user handle names, and
/// the authenticator must have verified the user. Then the login is done.
#[utoipa::path(
    operation_id = "passkey_verify",
    tag = "login",
    params(("login_challenge" = String, Path)),
    request_body = PasskeySignIn,
    responses(
        (status = 200, description = "Done: send the browser to `redirect_to`; the session cookie is set", body = LoginDone),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`browser_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`login_request_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`login_request_completed`, `passkey_sign_in_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`webauthn_ceremony_expired` (challenge again), `login_request_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`webauthn_invalid`: not a passkey of an account here, no user verification, or the assertion does not verify; `webauthn_counter_regression` (refused and audited)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/login/{login_challenge}/passkey/verify")]
pub async fn verify(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<PasskeySignIn>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let PasskeySignIn { credential } = body.into_inner();
    let (browser, login_challenge) = (browser::presented(&req), path.into_inner());
    let session_token = random::token()?;
    let code = random::token()?;
    let origin = Origin::of(&req, &state);
    let shared = state.clone();
    let token = session_token.clone();
    let outcome = web::block(move || {
        let state = shared.as_ref();
        let now = state.clock.now();
        let ctx = FactorContext { state, now };
        let issued = Issued {
            session_token: &token,
            code: &code,
            origin: &origin,
        };
        state.store.transaction_with(|tx| {
            let mut login = offered_login(tx, state, browser.as_deref(), &login_challenge)?;
            let signed_in = match finish_passwordless(&ctx, tx, &login, &credential) {
                Ok(Ok(signed_in)) => signed_in,
                // Refusals commit: the challenge is used up either way.
                Ok(Err(p)) => return Ok(Err(p)),
                Err(Failure::Refused(p)) => return Ok(Err(*p)),
                Err(failed) => return Err(failed),
            };
            let mut used = signed_in.factor.clone();
            used.last_used_at = Some(now);
            tx.update_factor(&used)?;
            // A password typed for this account earlier in this login still counts;
            // one typed for another account does not.
            if login.account_id != Some(signed_in.account.id) {
                login.amr.clear();
            }
            login.account_id = Some(signed_in.account.id);
            let acr = established_acr(
                true,
                &login.request,
                &state.config.webauthn.phishing_resistant_acr,
            );
            let finished = finish(
                tx,
                state,
                login,
                &signed_in.account,
                &signed_in.amr,
                &acr,
                &issued,
            )?;
            Ok::<_, Failure>(Ok(finished))
        })
    })
    .await?;
    let finished = outcome.map_err(Problem::from)??;
    Ok(done(&state, session_token, finished))
}
