//! `GET|POST /authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2): validate, remember the
//! request bound to this browser, and send the browser to the login UI.

use actix_web::http::header::{CacheControl, CacheDirective, LOCATION};
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, web};
use chrono::TimeDelta;
use gatehouse_core::ClientId;
use gatehouse_core::authorization::{self, AuthorizationParams, AuthorizationRequest, Rejection};
use gatehouse_core::consent::ConsentDecision;
use gatehouse_core::grant::Session;
use gatehouse_core::login::LoginRequest;
use gatehouse_core::ports::{AccountRepository, LoginRequestRepository, SessionRepository};

use super::browser;
use super::codes::{consent_for, issue_code, session_satisfies};
use super::error::{OAuthError, OAuthErrorCode, blocking};
use super::par;
use super::redirect::redirect_location;
use crate::crypto::random;
use crate::state::AppState;

/// Starts a login. Parameters as in OIDC Core §3.1.2.1; PKCE with `S256` is required.
#[utoipa::path(
    tag = "oidc",
    params(
        ("response_type" = String, Query, description = "`code`"),
        ("client_id" = String, Query),
        ("redirect_uri" = String, Query, description = "Exactly as registered"),
        ("scope" = String, Query, description = "Must include `openid`"),
        ("state" = Option<String>, Query),
        ("nonce" = Option<String>, Query),
        ("code_challenge" = String, Query, description = "RFC 7636, S256"),
        ("code_challenge_method" = String, Query, description = "`S256`"),
        ("prompt" = Option<String>, Query, description = "`none`, `login` or `consent` (ask a third-party client's user again); `select_account` is accepted"),
        ("claims" = Option<String>, Query, description = "OIDC Core §5.5: JSON naming claims for the `id_token` and `userinfo`; a claim is released only with its scope"),
        ("max_age" = Option<u32>, Query),
        ("acr_values" = Option<String>, Query),
        ("login_hint" = Option<String>, Query),
        ("ui_locales" = Option<String>, Query),
        ("request_uri" = Option<String>, Query, description = "From `POST /par` (RFC 9126), with `client_id`: the pushed parameters are used and any others ignored"),
    ),
    responses(
        (status = 302, description = "To the login UI (`?login_challenge=…`), or back to the client with `error`, `state` and `iss`"),
        (status = 400, description = "Unknown client or unregistered redirect URI, a request that must be pushed and was not (`invalid_request`), an unknown, used or expired `request_uri` (`invalid_request_uri`): shown, never redirected", body = OAuthError),
    )
)]
#[get("/authorize")]
pub async fn authorize_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    authorize(&req, &state, &pairs).await
}

/// The same as `GET /authorize`, with the parameters form-encoded in the body.
#[utoipa::path(
    tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded", content = super::forms::AuthorizeForm),
    responses(
        (status = 302, description = "As for GET"),
        (status = 400, description = "As for GET", body = OAuthError),
    )
)]
#[post("/authorize")]
pub async fn authorize_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(shown(
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    authorize(&req, &state, &pairs).await
}

/// An error shown to the user, never redirected (RFC 6749 §4.1.2.1).
fn shown(description: impl Into<String>) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidRequest, description)
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((LOCATION, location))
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .finish()
}

/// A redirect to the client with the given parameters.
pub fn redirect_back(
    redirect_uri: &str,
    params: &[(&str, Option<&str>)],
    issuer: &str,
) -> HttpResponse {
    match redirect_location(redirect_uri, params, issuer) {
        Some(location) => found(&location),
        None => shown("redirect_uri is not a URL").error_response(),
    }
}

async fn authorize(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    pairs: &[(String, String)],
) -> Result<HttpResponse, OAuthError> {
    let params =
        AuthorizationParams::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|name| shown(format!("{name} was given more than once")))?;
    // A pushed request (RFC 9126 §4): its parameters only, whatever else came along.
    let (params, pushed) = match params.request_uri.as_deref() {
        Some(uri) => (
            par::take(state, params.client_id.as_deref(), uri).await?,
            true,
        ),
        None => (params, false),
    };
    let issuer = state.config.server.issuer.clone();
    let client = match params.client_id.as_deref().map(ClientId::parse) {
        Some(Ok(id)) => state.clients.load(&state.store, id).await?,
        _ => None,
    };
    let par_required = state.config.par.required
        || client
            .as_ref()
            .is_some_and(|c| c.require_pushed_authorization_requests);
    if par_required && !pushed {
        return Err(shown(
            "push the authorization request first (PAR, RFC 9126): send request_uri",
        ));
    }
    let request = match authorization::validate(&params, client.as_ref()) {
        Ok(request) => request,
        Err(Rejection::Show(e)) => {
            // Core shows `invalid_request` only; a code this enum lacks would be a bug
            // there, answered as the closest one rather than not at all.
            let code = OAuthErrorCode::parse(e.error).unwrap_or(OAuthErrorCode::InvalidRequest);
            return Err(OAuthError::new(code, e.description));
        }
        Err(Rejection::Redirect(e)) => {
            return Ok(redirect_back(
                &e.redirect_uri,
                &[
                    ("error", Some(e.error)),
                    ("error_description", Some(&e.description)),
                    ("state", e.state.as_deref()),
                ],
                &issuer,
            ));
        }
    };
    // A browser already signed in, and good enough for this request, gets its code now
    // (or, for a client the user has not granted this yet, goes to the consent step).
    let mut signed_in = None;
    match reuse_session(req, state, &request).await {
        Reuse::Code(redirect_to) => return Ok(found(&redirect_to)),
        Reuse::Consent(session) => signed_in = Some(*session),
        Reuse::ConsentRequired => {
            return Ok(redirect_back(
                &request.redirect_uri,
                &[
                    ("error", Some("consent_required")),
                    ("error_description", Some("the user must consent")),
                    ("state", request.state.as_deref()),
                ],
                &issuer,
            ));
        }
        Reuse::No => {}
    }
    if request.prompt.none && signed_in.is_none() {
        // No session can satisfy the request without the user: say so (OIDC Core §3.1.2.6).
        return Ok(redirect_back(
            &request.redirect_uri,
            &[
                ("error", Some("login_required")),
                ("error_description", Some("the user must log in")),
                ("state", request.state.as_deref()),
            ],
            &issuer,
        ));
    }
    start_login(req, state, request, signed_in).await
}

/// Remembers the request, bound to this browser, and sends the browser to the login UI
/// (with the browser's session, when it only lacks the user's consent).
async fn start_login(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    request: AuthorizationRequest,
    signed_in: Option<Session>,
) -> Result<HttpResponse, OAuthError> {
    let secure = state.config.server.issuer.starts_with("https://");
    let (browser_id, new_cookie) = browser::identify(req, secure)?;
    let id = random::token()?;
    let now = state.clock.now();
    let login = LoginRequest {
        id: id.clone(),
        request,
        browser_hash: state.secrets.hasher.hash(&browser_id),
        account_id: signed_in.as_ref().map(|s| s.account_id),
        amr: signed_in
            .as_ref()
            .map(|s| s.amr.clone())
            .unwrap_or_default(),
        session_id: signed_in.map(|s| s.id),
        created_at: now,
        expires_at: now + TimeDelta::seconds(state.config.login.request_ttl_seconds.into()),
        completed_at: None,
    };
    let store = state.store.clone();
    blocking(move || store.insert_login_request(&login)).await?;
    let mut ui = url::Url::parse(&state.config.login.ui_url).map_err(|e| {
        tracing::error!(error = %e, "login.ui_url is not a URL");
        OAuthError::server_error()
    })?;
    ui.query_pairs_mut().append_pair("login_challenge", &id);
    let mut res = found(ui.as_str());
    if let Some(cookie) = new_cookie {
        let _ = res.add_cookie(&cookie);
    }
    Ok(res)
}

/// What the browser's session can do for a request.
enum Reuse {
    /// Nothing: the user signs in.
    No,
    /// The code, at once.
    Code(String),
    /// Signed in well enough, but the client needs the user's consent first.
    Consent(Box<Session>),
    /// Consent is needed and `prompt=none` forbids asking.
    ConsentRequired,
}

/// The code for a request the browser's live session satisfies, if it does and the
/// user has granted the client what it asks for.
async fn reuse_session(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    request: &AuthorizationRequest,
) -> Reuse {
    let Some(cookie) = req.cookie(browser::SESSION_COOKIE) else {
        return Reuse::No;
    };
    let token_hash = state.secrets.hasher.hash(cookie.value());
    let Ok(code) = random::token() else {
        return Reuse::No;
    };
    let shared = state.clone();
    let request = request.clone();
    web::block(move || {
        let state = shared.as_ref();
        let now = state.clock.now();
        state.store.transaction(|tx| {
            let Some(mut session) = tx.session_by_token_hash(&token_hash)? else {
                return Ok(Reuse::No);
            };
            if !session_satisfies(
                &session,
                &request,
                now,
                &state.config.webauthn.phishing_resistant_acr,
            ) {
                return Ok(Reuse::No);
            }
            let active = tx
                .account_by_id(session.account_id)?
                .is_some_and(|a| a.status.can_log_in());
            if !active {
                return Ok(Reuse::No);
            }
            session.last_seen_at = now;
            tx.update_session(&session)?;
            match consent_for(tx, &state.clients, &request, session.account_id)?.2 {
                ConsentDecision::Covered => {
                    issue_code(tx, state, &request, &session, &code).map(Reuse::Code)
                }
                ConsentDecision::Ask { .. } => Ok(Reuse::Consent(Box::new(session))),
                ConsentDecision::Required => Ok(Reuse::ConsentRequired),
            }
        })
    })
    .await
    // Whatever failed, the user can still log in: the session is not reused.
    .map_err(OAuthError::from)
    .and_then(|found| found.map_err(OAuthError::from))
    .unwrap_or(Reuse::No)
}
