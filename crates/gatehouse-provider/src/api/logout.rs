//! `/api/v1/logout/{logout_challenge}`: the logout confirmation the UI shows when
//! `/end_session` came without a valid `id_token_hint` (RP-Initiated Logout 1.0 §2:
//! the provider asks the user). The UI reads who asks, then posts the user's answer.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use gatehouse_core::ClientId;
use gatehouse_core::ports::SessionRepository;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::login::ClientSummary;
use crate::oidc::browser::SESSION_COOKIE;
use crate::oidc::end_session::{LogoutRequest, end_browser_session, session_cookie_removal};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

/// What the logout confirmation shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogoutView {
    pub logout_challenge: String,
    /// The application asking, when it said who it is.
    pub client: Option<ClientSummary>,
    /// Whether this browser is signed in (there is something to sign out of).
    pub signed_in: bool,
    pub expires_at: DateTime<Utc>,
}

/// The user's answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutDecision {
    /// `true` signs this browser out; `false` keeps it signed in.
    pub confirm: bool,
}

/// What happened, and where the browser goes next.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogoutDone {
    pub logged_out: bool,
    /// The application's registered post-logout URI with its `state`, if it gave one.
    pub redirect_to: Option<String>,
}

fn open(state: &AppState, challenge: &str) -> Result<LogoutRequest, Problem> {
    let request = LogoutRequest::open(state, challenge).ok_or_else(|| {
        Problem::new(ProblemCode::LogoutRequestNotFound, "No such logout request")
    })?;
    if state.clock.now() >= request.expires_at {
        return Err(Problem::new(
            ProblemCode::LogoutRequestExpired,
            "This logout request has expired",
        )
        .with_detail("Start again from the application"));
    }
    Ok(request)
}

/// The logout request: which application asks, and whether this browser is signed in.
#[utoipa::path(
    tag = "logout",
    params(("logout_challenge" = String, Path, description = "From the logout UI's URL")),
    responses(
        (status = 200, body = LogoutView),
        (status = 404, description = "Unknown (`logout_request_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Expired (`logout_request_expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`database_unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/logout/{logout_challenge}")]
pub async fn get_logout(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let challenge = path.into_inner();
    let request = open(&state, &challenge)?;
    let client = match request.client_id.as_deref().map(ClientId::parse) {
        Some(Ok(id)) => state
            .clients
            .load(&state.store, id)
            .await
            .map_err(Problem::from)?
            .map(|c| ClientSummary {
                client_id: c.id.to_string(),
                client_name: c.name,
            }),
        _ => None,
    };
    let signed_in = match req.cookie(SESSION_COOKIE) {
        None => false,
        Some(cookie) => {
            let (store, hash) = (
                state.store.clone(),
                state.secrets.hasher.hash(cookie.value()),
            );
            let now = state.clock.now();
            web::block(move || store.session_by_token_hash(&hash))
                .await?
                .map_err(Problem::from)?
                .is_some_and(|s| s.revoked_at.is_none() && s.expires_at > now)
        }
    };
    Ok(HttpResponse::Ok().json(LogoutView {
        logout_challenge: challenge,
        client,
        signed_in,
        expires_at: request.expires_at,
    }))
}

/// The user's answer: `confirm: true` ends this browser's session and everything it
/// issued; either way the answer says where the browser goes next.
#[utoipa::path(
    tag = "logout",
    params(("logout_challenge" = String, Path, description = "From the logout UI's URL")),
    request_body = LogoutDecision,
    responses(
        (status = 200, description = "Answered; with `confirm: true` the session cookie is removed", body = LogoutDone),
        (status = 404, description = "Unknown (`logout_request_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Expired (`logout_request_expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`database_unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/logout/{logout_challenge}")]
pub async fn answer_logout(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<LogoutDecision>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let request = open(&state, &path.into_inner())?;
    let done = LogoutDone {
        logged_out: body.confirm,
        redirect_to: request.return_to(),
    };
    if !body.confirm {
        return Ok(HttpResponse::Ok().json(done));
    }
    end_browser_session(&req, &state)
        .await
        .map_err(Problem::from)?;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie_removal())
        .json(done))
}
