//! `/api/v1/login/{login_challenge}`: the login the UI is driving.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use gatehouse_core::factor::{FactorOffer, login_offers, phishing_resistant_offers};
use gatehouse_core::login::{LoginRequest, PasswordOutcome};
use gatehouse_core::ports::{AccountRepository, AuditLog, FactorRepository, RepositoryError};
use gatehouse_core::ports::{ClientRepository, LoginRequestRepository};
use gatehouse_core::{
    Account, AccountStatus, AuditKind, FactorKind, IdentifierError, IdentifierPolicy,
    LegacyUsername, LoginIdentifier, NewAuditEvent,
};
use gatehouse_core::{AccountId, ClientId, Factor};
use serde::Deserialize;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::account::rate_limited;
use crate::api::brute_force::{PasswordGuard, Refusal};
use crate::api::origin::{Origin, client_address, throttle_bucket};
use crate::factors::bodies::FactorKindName;
use crate::factors::login_module;
use crate::oidc::browser;
use crate::oidc::codes::requires_phishing_resistance;
use crate::oidc::redirect::redirect_location;
use crate::password_pool::PoolError;
use crate::problem::{Failure, Problem, ProblemCode};
use crate::state::AppState;

/// What the login screen needs to know.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginView {
    pub login_challenge: String,
    pub client: ClientSummary,
    /// The scopes the client asked for.
    pub scopes: Vec<String>,
    /// Pre-fill for the identifier field, if the client sent one.
    pub login_hint: Option<String>,
    /// The user's preferred languages, if the client sent them (BCP 47, space-separated).
    pub ui_locales: Option<String>,
    /// The next step: `password`, then `second_factor`; `consent` when the user is
    /// signed in and only their consent is missing (`GET …/consent` shows it).
    pub next: LoginStep,
    /// A passkey can sign in instead of the password: start it with
    /// `POST /api/v1/login/{login_challenge}/passkey/challenge`.
    pub passkey_sign_in: bool,
    /// The client asked for a phishing-resistant login (`acr_values`): only a security
    /// key, passkey or biometric key will be offered as the second step.
    pub phishing_resistant: bool,
    pub expires_at: DateTime<Utc>,
    /// With `next: second_factor` (a page reloaded after the password step): the ways
    /// to finish, as the password step answered them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub factors: Option<Vec<FactorOfferView>>,
    /// With `next: second_factor`: the factor to start with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_factor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientSummary {
    pub client_id: String,
    pub client_name: String,
}

/// Loads a login request for the browser that started it, or the problem to answer.
pub async fn bound_request(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    challenge: String,
) -> Result<LoginRequest, Problem> {
    let shared = state.clone();
    let browser = browser::presented(req);
    web::block(move || load_bound(&shared.store, &shared, browser.as_deref(), &challenge)).await?
}

/// The same, on a connection the caller already holds: inside the transaction of the
/// step, the request is read once and, locked, cannot change until the step commits
/// (two proofs racing finish a login once). `browser` is the id the browser presents
/// (`browser::presented`). An expired or finished login is refused with `return_to`:
/// the way back to the client.
pub fn load_bound(
    requests: &(impl LoginRequestRepository + ClientRepository),
    state: &AppState,
    browser: Option<&str>,
    challenge: &str,
) -> Result<LoginRequest, Problem> {
    let login = load_for_browser(requests, state, browser, challenge)?;
    if login.is_expired(state.clock.now()) {
        let problem = Problem::new(
            ProblemCode::LoginRequestExpired,
            "This login request has expired",
        )
        .with_detail("Start again from the application");
        return Err(with_way_back(problem, requests, state, &login, "expired"));
    }
    if login.completed_at.is_some() {
        let problem = Problem::new(
            ProblemCode::LoginRequestCompleted,
            "This login is already complete",
        );
        return Err(with_way_back(problem, requests, state, &login, "completed"));
    }
    Ok(login)
}

/// [`load_bound`] for a sign-in step (password, factor, passkey): a login that only
/// waits for consent has signed its browser in already, and takes no second sign-in.
pub fn load_signing_in(
    requests: &(impl LoginRequestRepository + ClientRepository),
    state: &AppState,
    browser: Option<&str>,
    challenge: &str,
) -> Result<LoginRequest, Problem> {
    let login = load_bound(requests, state, browser, challenge)?;
    if login.session_id.is_some() {
        return Err(Problem::new(
            ProblemCode::LoginRequestCompleted,
            "This login is signed in already",
        )
        .with_detail("Only the consent step is left"));
    }
    Ok(login)
}

/// The login request `challenge`, locked, if `browser` is the one that started it,
/// whatever its state.
pub fn load_for_browser(
    requests: &impl LoginRequestRepository,
    state: &AppState,
    browser: Option<&str>,
    challenge: &str,
) -> Result<LoginRequest, Problem> {
    let login = requests
        .login_request_for_update(challenge)
        .map_err(Problem::from)?
        .ok_or_else(|| Problem::new(ProblemCode::LoginRequestNotFound, "No such login request"))?;
    // Checked before anything else, so another browser learns nothing about the request.
    let bound = browser.is_some_and(|id| state.secrets.hasher.verify(id, &login.browser_hash));
    if !bound {
        return Err(Problem::new(
            ProblemCode::BrowserMismatch,
            "This login was started in another browser",
        ));
    }
    Ok(login)
}

/// Adds `return_to` to the problem of a login that is over: the client's redirect URI
/// with `error=access_denied`, a description, the request's `state` and `iss`
/// (RFC 9207), so the page can send the user back to the application, as Ory does.
/// `access_denied` (RFC 6749 §4.1.2.1, kept by OpenID Connect Core §3.1.2.6): the
/// request ended without an authorization; `login_required` and
/// `interaction_required` are answers to `prompt=none`, which this was not. Only while
/// the client is still registered with that redirect URI; otherwise there is no way back.
fn with_way_back(
    problem: Problem,
    clients: &impl ClientRepository,
    state: &AppState,
    login: &LoginRequest,
    why: &str,
) -> Problem {
    let request = &login.request;
    let registered = ClientId::parse(&request.client_id)
        .ok()
        .and_then(|id| clients.client_by_id(&id).ok().flatten())
        .is_some_and(|client| client.redirect_uris.contains(&request.redirect_uri));
    if !registered {
        return problem;
    }
    let description = format!("the login request {why}");
    let location = redirect_location(
        &request.redirect_uri,
        &[
            ("error", Some("access_denied")),
            ("error_description", Some(&description)),
            ("state", request.state.as_deref()),
        ],
        &state.config.server.issuer,
    );
    match location {
        Some(url) => problem.with_extension("return_to", url.into()),
        None => problem,
    }
}

/// The login request: which application asks, for what, and the next step.
#[utoipa::path(
    tag = "login",
    params(("login_challenge" = String, Path, description = "From the login UI's URL")),
    responses(
        (status = 200, body = LoginView),
        (status = 403, description = "Started in another browser (`browser_mismatch`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown (`login_request_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already complete (`login_request_completed`, with `return_to`)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Expired (`login_request_expired`, with `return_to`: send the browser there to go back to the application)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/login/{login_challenge}")]
pub async fn get_login(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let login = bound_request(&req, &state, path.into_inner()).await?;
    let store = state.store.clone();
    let client_id = ClientId::parse(&login.request.client_id)
        .map_err(|e| Problem::from(RepositoryError::Corrupt(format!("login client: {e}"))))?;
    let client = web::block(move || store.client_by_id(&client_id))
        .await??
        .ok_or_else(|| Problem::new(ProblemCode::LoginRequestNotFound, "No such login request"))?;
    let phishing_resistant = requires_phishing_resistance(
        &login.request,
        &state.config.webauthn.phishing_resistant_acr,
    );
    let second_step = match login.account_id {
        None => None,
        Some(account_id) => {
            let shared = state.clone();
            web::block(move || -> Result<_, RepositoryError> {
                let account = shared
                    .store
                    .account_by_id(account_id)?
                    .ok_or(RepositoryError::NotFound)?;
                let factors = shared.store.factors_of(account_id)?;
                Ok(offers(&account, &factors, &shared, phishing_resistant))
            })
            .await??
            .into()
        }
    };
    let (factors, default_factor) = second_step.map_or((None, None), |(offers, first)| {
        (
            Some(offers.into_iter().map(FactorOfferView::from).collect()),
            first,
        )
    });
    Ok(HttpResponse::Ok().json(LoginView {
        login_challenge: login.id,
        client: ClientSummary {
            client_id: client.id.to_string(),
            client_name: client.name,
        },
        scopes: login.request.scopes,
        login_hint: login.request.login_hint,
        ui_locales: login.request.ui_locales,
        next: if login.session_id.is_some() {
            LoginStep::Consent
        } else if login.account_id.is_some() {
            LoginStep::SecondFactor
        } else {
            LoginStep::Password
        },
        passkey_sign_in: passkey_sign_in(&state),
        phishing_resistant,
        expires_at: login.expires_at,
        factors,
        default_factor,
    }))
}

/// The factors that can finish a login of `account` (only WebAuthn ones when the
/// client asked for phishing resistance), and the one to start with.
fn offers(
    account: &Account,
    factors: &[Factor],
    state: &AppState,
    phishing_resistant: bool,
) -> (Vec<FactorOffer>, Option<String>) {
    if phishing_resistant {
        phishing_resistant_offers(factors, &state.config.factors)
    } else {
        login_offers(account.email.as_ref(), factors, &state.config.factors)
    }
}

/// Whether a discoverable passkey may sign in alone on this server.
pub fn passkey_sign_in(state: &AppState) -> bool {
    state.webauthn.is_some()
        && [FactorKind::Passkey, FactorKind::Platform]
            .into_iter()
            .any(|k| state.config.factors.check_accepted(k).is_ok() && login_module(k).is_some())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordStep {
    /// The e-mail address (or, while usernames are being retired, the legacy username).
    pub identifier: String,
    pub password: String,
}

/// The answer to a correct password: the second step to take.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondFactorStep {
    /// `second_factor`; or `return_to_client` when the client asked for a
    /// phishing-resistant login only and the account has no such method: the login has
    /// ended, and the browser goes to `redirect_to` (the client's redirect URI with
    /// `error=unmet_authentication_requirements`, `state` and `iss`).
    pub next: AfterPassword,
    /// Every way to finish this login; "Try another method" picks another of these.
    /// When the client asked for a phishing-resistant login, only WebAuthn factors.
    pub factors: Vec<FactorOfferView>,
    /// The factor to start with.
    pub default_factor: Option<String>,
    /// With `next: return_to_client`: where to send the browser.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_to: Option<String>,
    /// The user logged in with a legacy username: ask them to use their e-mail address.
    pub identifier_deprecated: bool,
}

/// Where a login stands when the UI opens it.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoginStep {
    Password,
    SecondFactor,
    Consent,
}

/// What follows a correct password.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfterPassword {
    SecondFactor,
    ReturnToClient,
}

/// One way to pass the second step, as the login screen offers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorOfferView {
    /// The factor's id (the `{factor}` of challenge and verify), or `email` for the
    /// e-mail code every account with an address has.
    pub id: String,
    #[schema(value_type = FactorKindName)]
    pub kind: FactorKind,
    /// Safe to show before the second step: `Email on r***@example.com`. English: a
    /// UI in another language builds its own from `kind` and the members below.
    pub label: String,
    #[serde(flatten)]
    pub parts: LabelParts,
}

/// What a factor's English `label` is made of, for a UI that names the factor in its
/// own language: each member only where the factor has it.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct LabelParts {
    /// An e-mail code's address, masked: `r***@example.com`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub masked_email: Option<String>,
    /// The name the user gave the factor (`Pixel 8`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// An imported SMS factor: the last digits of its phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub phone_ending: Option<String>,
}

impl From<FactorOffer> for FactorOfferView {
    fn from(offer: FactorOffer) -> Self {
        Self {
            id: offer.id,
            kind: offer.kind,
            label: offer.label,
            parts: LabelParts {
                masked_email: offer.masked_email,
                name: offer.name,
                phone_ending: offer.phone_ending,
            },
        }
    }
}

fn invalid_credentials() -> Problem {
    Problem::new(
        ProblemCode::InvalidCredentials,
        "The e-mail address or password is wrong",
    )
}

/// Finds the account an identifier names, trying a legacy username where the policy
/// allows it and the text is not an address of any account.
fn find_account(
    store: &gatehouse_store::Store,
    raw: &str,
    identifier: &LoginIdentifier,
    policy: IdentifierPolicy,
) -> Result<Option<Account>, gatehouse_core::ports::RepositoryError> {
    match identifier {
        LoginIdentifier::Email(email) => match store.account_by_email(email)? {
            Some(account) => Ok(Some(account)),
            None if policy != IdentifierPolicy::Disabled => match LegacyUsername::parse(raw) {
                Ok(name) => store.account_by_username(&name),
                Err(_) => Ok(None),
            },
            None => Ok(None),
        },
        LoginIdentifier::Username { username, .. } => store.account_by_username(username),
    }
}

/// Step one: the password. Wrong password, unknown account and an account that has not
/// re-registered yet get the same answer, in the same time (a dummy hash is checked).
#[utoipa::path(
    tag = "login",
    params(("login_challenge" = String, Path)),
    request_body = PasswordStep,
    responses(
        (status = 200, description = "Password accepted: choose a second factor", body = SecondFactorStep),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_locked`, `account_disabled` (only after a correct password), `browser_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`login_request_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`login_request_completed`", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`login_request_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`identifier_invalid`, `identifier_missing`, `email_invalid`, `username_login_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: ten passwords in a row were wrong for this account (or this identifier, when it names none); retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`busy`: retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/login/{login_challenge}/password")]
pub async fn password(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<PasswordStep>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let PasswordStep {
        identifier,
        password,
    } = body.into_inner();
    let parsed = LoginIdentifier::parse(&identifier, state.config.identifiers.username_login);
    let attempt = Attempt {
        browser: browser::presented(&req),
        challenge: path.into_inner(),
        origin: Origin::of(&req, &state),
        client: client_address(&req, &state.trusted_proxies)
            .map_or_else(|| "unknown".to_owned(), throttle_bucket),
    };
    let (login, account, guard) = admit(&state, &attempt, identifier, parsed.clone()).await?;
    // Only an account that has set a password can match; all others spend the same time.
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    let verification = match state.passwords.verify(password.clone(), stored).await {
        Ok(verification) => verification,
        Err(e) => {
            if matches!(e, PoolError::Busy) {
                state.metrics.login("password", "-", "busy");
            }
            return Err(e.into());
        }
    };
    // The hash may have waited in the pool's queue: what follows happens now.
    let now = state.clock.now();
    let (account, needs_rehash) = match PasswordOutcome::of(account, verification) {
        PasswordOutcome::Accepted {
            account,
            needs_rehash,
        } => (*account, needs_rehash),
        refused => return Err(refuse(&state, refused, login, guard, attempt.origin, now).await),
    };
    let account = rehashed(&state, account, needs_rehash, password, now).await;
    let (offers, redirect_to) = accept(&state, attempt, account, needs_rehash, guard, now).await?;
    let (factors, default_factor) = offers;
    state.metrics.login("password", "-", "ok");
    Ok(HttpResponse::Ok().json(SecondFactorStep {
        next: if redirect_to.is_some() {
            AfterPassword::ReturnToClient
        } else {
            AfterPassword::SecondFactor
        },
        factors: factors.into_iter().map(FactorOfferView::from).collect(),
        default_factor,
        redirect_to,
        identifier_deprecated: parsed.is_ok_and(|p| p.is_deprecated()),
    }))
}

/// Where a password attempt comes from.
struct Attempt {
    browser: Option<String>,
    challenge: String,
    origin: Origin,
    /// The throttling bucket of the client's address.
    client: String,
}

/// The login request, the account the identifier names and the attempt's throttle,
/// once the throttle let the attempt through (a refusal is recorded and answered).
async fn admit(
    state: &web::Data<AppState>,
    attempt: &Attempt,
    identifier: String,
    parsed: Result<LoginIdentifier, IdentifierError>,
) -> Result<(LoginRequest, Option<Account>, PasswordGuard), Problem> {
    let shared = state.clone();
    let (browser, challenge) = (attempt.browser.clone(), attempt.challenge.clone());
    let (origin, client) = (attempt.origin.clone(), attempt.client.clone());
    let policy = state.config.identifiers.username_login;
    let now = state.clock.now();
    // The login request and the account in one trip to the database.
    let (login, account, guard, refused) = web::block(move || {
        let login = load_signing_in(&shared.store, &shared, browser.as_deref(), &challenge)?;
        let lookup = parsed.map_err(|e| {
            Problem::new(ProblemCode::from(&e), "The identifier is not accepted")
                .with_detail(e.to_string())
        })?;
        let account = find_account(&shared.store, &identifier, &lookup, policy)?;
        let subject = password_throttle_subject(account.as_ref(), &lookup);
        let account_id = account.as_ref().map(|a| a.id);
        let guard = PasswordGuard::new(&shared, &subject, account_id, &client, now);
        // A transaction of its own: on SQLite, writers take turns (Store::transaction).
        let refused = shared.store.transaction(|tx| {
            let refused = guard.admit(tx, &shared)?;
            if let Some(refusal) = refused {
                // Recorded for an identifier that names no account too: a refusal
                // costs the same either way.
                let event = failed_login(account_id, &login, refusal.reason(), &origin, now);
                tx.record(&event)?;
            }
            Ok(refused)
        })?;
        Ok::<_, Problem>((login, account, guard, refused))
    })
    .await??;
    let Some(refusal) = refused else {
        return Ok((login, account, guard));
    };
    state.metrics.login("password", "-", "throttled");
    let (counter, title) = match refusal {
        Refusal::AccountAddress { .. } => (
            "password_account_address",
            "Too many attempts for this account",
        ),
        Refusal::Address { .. } => ("password_address", "Too many attempts from this address"),
    };
    state.metrics.throttle(counter);
    Err(rate_limited(title, refusal.retry_after()))
}

/// Records and answers a password step that does not go on: a wrong password counts
/// against the account (and may alert its owner), a blocked account's refusal shows in
/// its security events; whatever else happened reads as a wrong password.
async fn refuse(
    state: &web::Data<AppState>,
    outcome: PasswordOutcome,
    login: LoginRequest,
    guard: PasswordGuard,
    origin: Origin,
    now: DateTime<Utc>,
) -> Problem {
    let shared = state.clone();
    let (problem, metric) = match outcome {
        PasswordOutcome::Wrong(account) => {
            let recorded = web::block(move || {
                shared.store.transaction(|tx| {
                    let event = failed_login(Some(account.id), &login, "password", &origin, now);
                    tx.record(&event)?;
                    let alerted = guard.failed(tx, &shared, now)?;
                    if alerted {
                        alert_owner(tx, &shared, &account, &origin, now)?;
                    }
                    Ok(alerted)
                })
            })
            .await;
            match recorded {
                Ok(Ok(alerted)) => {
                    if alerted {
                        state.outbox.wake();
                    }
                }
                // A failure that cannot be recorded is not answered as a mere wrong
                // password.
                Ok(Err(e)) => return e.into(),
                Err(e) => return e.into(),
            }
            (invalid_credentials(), "failed")
        }
        PasswordOutcome::Blocked(account) => {
            let reason = account.status.as_str();
            let event = failed_login(Some(account.id), &login, reason, &origin, now);
            match web::block(move || shared.store.record(&event)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return e.into(),
                Err(e) => return e.into(),
            }
            let problem = if account.status == AccountStatus::Locked {
                Problem::new(ProblemCode::AccountLocked, "This account is locked")
            } else {
                Problem::new(ProblemCode::AccountDisabled, "This account is disabled")
            };
            (problem, "refused")
        }
        PasswordOutcome::NotRegistered => (invalid_credentials(), "refused"),
        PasswordOutcome::Unknown | PasswordOutcome::Accepted { .. } => {
            (invalid_credentials(), "failed")
        }
    };
    state.metrics.login("password", "-", metric);
    problem
}

/// The account with a hash of today's parameters when its stored one is outdated
/// (stored with the step's other writes; a failure keeps the old hash).
async fn rehashed(
    state: &AppState,
    mut account: Account,
    needs_rehash: bool,
    typed: String,
    now: DateTime<Utc>,
) -> Account {
    if needs_rehash {
        match state.passwords.hash(typed).await {
            Ok(fresh) => {
                account.password_hash = Some(fresh);
                account.updated_at = now;
            }
            Err(e) => tracing::warn!(error = %e, "rehashing a password failed"),
        }
    }
    account
}

/// Moves the login past its password: the second factors it may use, or, when the
/// client asked for phishing resistance the account cannot give, the way back to it.
async fn accept(
    state: &web::Data<AppState>,
    attempt: Attempt,
    account: Account,
    needs_rehash: bool,
    guard: PasswordGuard,
    now: DateTime<Utc>,
) -> Result<((Vec<FactorOffer>, Option<String>), Option<String>), Problem> {
    let shared = state.clone();
    let phishing_resistant = state.config.webauthn.phishing_resistant_acr.clone();
    let next = web::block(move || {
        shared.store.transaction_with(|tx| {
            // Read again, locked: the request may have moved on while the hash ran.
            let mut login =
                load_signing_in(tx, &shared, attempt.browser.as_deref(), &attempt.challenge)?;
            if needs_rehash {
                tx.update_account(&account)?;
            }
            login.account_id = Some(account.id);
            login.amr = vec!["pwd".to_owned()];
            guard.succeeded(tx, &shared)?;
            let factors = tx.factors_of(account.id)?;
            let resistant = requires_phishing_resistance(&login.request, &phishing_resistant);
            let offers = offers(&account, &factors, &shared, resistant);
            let redirect_to = if resistant && offers.0.is_empty() {
                unmet(tx, &shared, &mut login, now)?
            } else {
                None
            };
            tx.update_login_request(&login)?;
            Ok::<_, Failure>((offers, redirect_to))
        })
    })
    .await?;
    Ok(next?)
}

/// The client asked for phishing resistance only, and the account has no such factor:
/// the login ends, and the client hears why (OpenID Connect Core Error Code
/// `unmet_authentication_requirements`).
fn unmet(
    tx: &gatehouse_store::Tx<'_>,
    state: &AppState,
    login: &mut LoginRequest,
    now: DateTime<Utc>,
) -> Result<Option<String>, RepositoryError> {
    login.completed_at = Some(now);
    tx.record(
        &NewAuditEvent::new(AuditKind::LoginFailed, login.account_id, now)
            .with_detail("client_id", login.request.client_id.clone())
            .with_detail("reason", UNMET),
    )?;
    Ok(redirect_location(
        &login.request.redirect_uri,
        &[
            ("error", Some(UNMET)),
            (
                "error_description",
                Some("the account has no phishing-resistant sign-in method"),
            ),
            ("state", login.request.state.as_deref()),
        ],
        &state.config.server.issuer,
    ))
}

/// A `login_failed` audit event of the password step, with where the request came from.
fn failed_login(
    account: Option<AccountId>,
    login: &LoginRequest,
    reason: &str,
    origin: &Origin,
    now: DateTime<Utc>,
) -> NewAuditEvent {
    let mut event = NewAuditEvent::new(AuditKind::LoginFailed, account, now)
        .with_detail("client_id", login.request.client_id.clone())
        .with_detail("reason", reason);
    event.ip.clone_from(&origin.ip);
    event.user_agent.clone_from(&origin.user_agent);
    event
}

/// Wrong passwords for `account` reached the alert threshold: its owner is mailed
/// (once per window) and the account's security events say so.
fn alert_owner(
    tx: &gatehouse_store::Tx<'_>,
    state: &AppState,
    account: &Account,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), RepositoryError> {
    let limits = &state.config.brute_force;
    let mut event = NewAuditEvent::new(AuditKind::FailedLoginsAlert, Some(account.id), now)
        .with_detail("failures", limits.account_alert_failures.to_string())
        .with_detail(
            "window_seconds",
            limits.account_alert_window_seconds.to_string(),
        );
    event.ip.clone_from(&origin.ip);
    event.user_agent.clone_from(&origin.user_agent);
    tx.record(&event)?;
    if let Some(email) = &account.email {
        let message = state.outbox.templates().failed_logins_alert(
            email,
            account.locale.as_deref(),
            limits.account_alert_failures,
            chrono::TimeDelta::seconds(limits.account_alert_window_seconds.into()),
        );
        state.outbox.enqueue_in(tx, &message, now)?;
    }
    Ok(())
}

/// Whose password attempts are counted: the account's, or for an identifier that
/// names none, the identifier's. Accounts are named as `throttle_keys` names them, so
/// an operator's unlock clears the count.
fn password_throttle_subject(account: Option<&Account>, lookup: &LoginIdentifier) -> String {
    match (account, lookup) {
        (Some(account), _) => account.id.to_string(),
        (None, LoginIdentifier::Email(email)) => format!("email:{}", email.normalized()),
        (None, LoginIdentifier::Username { username, .. }) => {
            format!("username:{}", username.normalized())
        }
    }
}

/// The error a client hears when the login cannot meet what it asked for.
const UNMET: &str = "unmet_authentication_requirements";
