//! `/api/v1/login/{login_challenge}/consent`: the user, signed in, says what a client
//! that is not first-party may have. Granting issues the code for the scopes kept;
//! denying sends the client `error=access_denied`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use gatehouse_core::consent::{self, ConsentGrant};
use gatehouse_core::login::LoginRequest;
use gatehouse_core::ports::{
    AuditLog, ConsentRepository, LoginRequestRepository, RepositoryError, SessionRepository,
};
use gatehouse_core::{AccountId, AuditKind, Client, NewAuditEvent};
use gatehouse_store::Tx;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account::no_store;
use super::login::{ClientSummary, load_bound};
use super::origin::Origin;
use crate::crypto::random;
use crate::oidc::browser;
use crate::oidc::client_cache::ClientCache;
use crate::oidc::codes::{consent_for, issue_code};
use crate::oidc::redirect::redirect_location;
use crate::problem::{Failure, Problem, ProblemCode};
use crate::state::AppState;

/// The consent step: who asks, for what, and what the user granted it before.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    pub login_challenge: String,
    pub client: ClientSummary,
    /// The scopes the client asks for (`openid` is always granted; every other one
    /// is the user's choice).
    pub scopes: Vec<String>,
    /// Claims the client asks for by name (the `claims` parameter). A claim is only
    /// released with the scope that carries it (`name` with `profile`, …).
    pub claims: ClaimsAsked,
    /// What the user granted this client before, if anything.
    pub granted_scopes: Vec<String>,
    /// The scopes asked for that no earlier grant covers (all of them with
    /// `prompt=consent`).
    pub new_scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

/// The names of the claims a `claims` parameter asks for, per member.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ClaimsAsked {
    pub id_token: Vec<String>,
    pub userinfo: Vec<String>,
}

/// The consent view of a login waiting for it.
pub(crate) fn consent_view(
    login: &LoginRequest,
    client: &Client,
    grant: Option<&ConsentGrant>,
) -> ConsentView {
    let granted = grant.map(|g| g.scopes.clone()).unwrap_or_default();
    let new_scopes =
        match consent::decide(client, &login.request.scopes, login.request.prompt, grant) {
            consent::ConsentDecision::Ask { missing } => missing,
            _ => consent::not_granted(&login.request.scopes, &granted),
        };
    let claims = login.request.claims.clone().unwrap_or_default();
    ConsentView {
        login_challenge: login.id.clone(),
        client: ClientSummary {
            client_id: client.id.to_string(),
            client_name: client.name.clone(),
        },
        scopes: login.request.scopes.clone(),
        claims: ClaimsAsked {
            id_token: claims.id_token,
            userinfo: claims.userinfo,
        },
        granted_scopes: granted,
        new_scopes,
        expires_at: login.expires_at,
    }
}

fn not_pending() -> Problem {
    Problem::new(
        ProblemCode::ConsentNotPending,
        "This login is not waiting for consent",
    )
    .with_detail("Finish the sign-in steps first")
}

/// The login, waiting for consent, with the session it will issue the code for.
fn pending(
    tx: &Tx<'_>,
    state: &AppState,
    browser: Option<&str>,
    challenge: &str,
) -> Result<(LoginRequest, gatehouse_core::grant::Session), Failure> {
    let login = load_bound(tx, state, browser, challenge)?;
    let Some(session_id) = login.session_id.clone() else {
        return Err(not_pending().into());
    };
    let session = tx
        .session_by_id(&session_id)?
        .filter(|s| s.is_live(state.clock.now()))
        .ok_or_else(|| {
            Failure::from(
                not_pending()
                    .with_detail("The sign-in has ended: start again from the application"),
            )
        })?;
    Ok((login, session))
}

/// The consent step of a login: the client, the scopes and claims it asks for, and
/// what the user granted it before.
#[utoipa::path(
    tag = "login",
    params(("login_challenge" = String, Path)),
    responses(
        (status = 200, body = ConsentView),
        (status = 403, description = "`browser_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`login_request_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`login_request_completed`; `consent_not_pending`: the sign-in steps are not done (or its session has ended)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`login_request_expired`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/login/{login_challenge}/consent")]
pub async fn get_consent(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let challenge = path.into_inner();
    let browser = browser::presented(&req);
    let shared = state.clone();
    let view = web::block(move || {
        let state = shared.as_ref();
        state.store.transaction_with(|tx| {
            let (login, session) = pending(tx, state, browser.as_deref(), &challenge)?;
            let (client, grant, _) =
                consent_for(tx, &state.clients, &login.request, session.account_id)?;
            Ok::<_, Failure>(consent_view(&login, &client, grant.as_ref()))
        })
    })
    .await??;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(view))
}

/// Grant: the scopes the user keeps, of those asked for (`openid` is kept anyway).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentGranted {
    pub grant: Vec<String>,
}

/// Deny: the client gets nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentDenied {
    /// `true`.
    pub deny: bool,
}

/// The user's answer: `{"grant": ["openid", "email"]}` or `{"deny": true}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ConsentAnswer {
    Grant(ConsentGranted),
    Deny(ConsentDenied),
}

/// Where a consent answer leaves the login.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfterConsent {
    /// Granted: `redirect_to` carries the code.
    Done,
    /// Denied: `redirect_to` carries `error=access_denied`.
    ReturnToClient,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentDone {
    pub next: AfterConsent,
    /// Where to send the browser: the client's redirect URI with `code` (or
    /// `error=access_denied`), `state` and `iss`.
    pub redirect_to: String,
}

fn invalid(detail: impl Into<String>) -> Problem {
    Problem::new(
        ProblemCode::ConsentInvalid,
        "The consent answer is not valid",
    )
    .with_detail(detail)
}

/// Grants the scopes the user keeps (the code carries those only, and the grant is
/// remembered), or denies the client.
#[utoipa::path(
    tag = "login",
    params(("login_challenge" = String, Path)),
    request_body = ConsentAnswer,
    responses(
        (status = 200, description = "Send the browser to `redirect_to`", body = ConsentDone),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`browser_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`login_request_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`login_request_completed`; `consent_not_pending`: the sign-in steps are not done (or its session has ended)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`login_request_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`consent_invalid`: a scope that was not asked for, or a denial other than {\"deny\": true}", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/login/{login_challenge}/consent")]
pub async fn post_consent(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<ConsentAnswer>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let answer = body.into_inner();
    if let ConsentAnswer::Deny(ConsentDenied { deny: false }) = answer {
        return Err(invalid("To deny, send {\"deny\": true}"));
    }
    let browser = browser::presented(&req);
    let origin = Origin::of(&req, &state);
    let code = random::token()?;
    let shared = state.clone();
    let challenge = path.into_inner();
    let done = web::block(move || {
        let state = shared.as_ref();
        let now = state.clock.now();
        state.store.transaction_with(|tx| {
            let (mut login, session) = pending(tx, state, browser.as_deref(), &challenge)?;
            let account = session.account_id;
            let event = |kind| {
                let mut event = NewAuditEvent::new(kind, Some(account), now)
                    .with_detail("client_id", login.request.client_id.clone());
                event.ip.clone_from(&origin.ip);
                event.user_agent.clone_from(&origin.user_agent);
                event
            };
            let done = match &answer {
                ConsentAnswer::Grant(ConsentGranted { grant }) => {
                    let scopes = granted(tx, &state.clients, &login, account, grant, now)?;
                    tx.record(
                        &event(AuditKind::ConsentGranted).with_detail("scopes", scopes.join(" ")),
                    )?;
                    let mut request = login.request.clone();
                    request.scopes = scopes;
                    ConsentDone {
                        next: AfterConsent::Done,
                        redirect_to: issue_code(tx, state, &request, &session, &code)?,
                    }
                }
                ConsentAnswer::Deny(_) => {
                    tx.record(&event(AuditKind::ConsentDenied))?;
                    ConsentDone {
                        next: AfterConsent::ReturnToClient,
                        redirect_to: denied(state, &login)?,
                    }
                }
            };
            login.completed_at = Some(now);
            tx.update_login_request(&login)?;
            Ok::<_, Failure>(done)
        })
    })
    .await??;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(done))
}

/// Remembers what the user kept (with what they granted before); the scopes the
/// code carries.
fn granted(
    tx: &Tx<'_>,
    clients: &ClientCache,
    login: &LoginRequest,
    account: AccountId,
    grant: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<String>, Failure> {
    let kept = consent::kept_scopes(&login.request.scopes, grant)
        .map_err(|e| Failure::from(invalid(e.to_string())))?;
    let (_, previous, _) = consent_for(tx, clients, &login.request, account)?;
    let scopes = consent::merged(previous.as_ref().map(|g| g.scopes.as_slice()), &kept);
    tx.put_consent_grant(&ConsentGrant {
        account_id: account,
        client_id: login.request.client_id.clone(),
        scopes,
        granted_at: previous.as_ref().map_or(now, |g| g.granted_at),
        updated_at: now,
    })?;
    Ok(kept)
}

/// The way back to the client after a denial: `access_denied` (RFC 6749 §4.1.2.1).
fn denied(state: &AppState, login: &LoginRequest) -> Result<String, RepositoryError> {
    redirect_location(
        &login.request.redirect_uri,
        &[
            ("error", Some("access_denied")),
            ("error_description", Some("the user denied the request")),
            ("state", login.request.state.as_deref()),
        ],
        &state.config.server.issuer,
    )
    .ok_or_else(|| RepositoryError::Corrupt("stored redirect_uri is not a URL".to_owned()))
}
