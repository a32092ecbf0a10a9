//! `/api/v1/login/{login_challenge}`: the login the UI is driving.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use gatehouse_core::ClientId;
use gatehouse_core::login::LoginRequest;
use gatehouse_core::ports::{ClientRepository, LoginRequestRepository};
use serde::Serialize;
use utoipa::ToSchema;

use crate::oidc::browser;
use crate::problem::Problem;
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
    /// The next step: `password` (later: the second factor, or done).
    pub next: String,
    pub expires_at: DateTime<Utc>,
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
    let store = state.store.clone();
    let unavailable =
        || Problem::unavailable("database_unavailable", "The database cannot be reached");
    let login = web::block(move || store.login_request(&challenge))
        .await
        .map_err(|_| unavailable())?
        .map_err(|_| unavailable())?
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                "login_request_not_found",
                "No such login request",
            )
        })?;
    // Checked before expiry, so another browser learns nothing about the request.
    let bound = browser::presented(req)
        .is_some_and(|id| state.secrets.hasher.verify(&id, &login.browser_hash));
    if !bound {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "browser_mismatch",
            "This login was started in another browser",
        ));
    }
    if login.is_expired(state.clock.now()) {
        return Err(Problem::new(
            StatusCode::GONE,
            "login_request_expired",
            "This login request has expired",
        )
        .with_detail("Start again from the application"));
    }
    if login.completed_at.is_some() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "login_request_completed",
            "This login is already complete",
        ));
    }
    Ok(login)
}

/// The login request: which application asks, for what, and the next step.
#[utoipa::path(
    tag = "login",
    params(("login_challenge" = String, Path, description = "From the login UI's URL")),
    responses(
        (status = 200, body = LoginView),
        (status = 403, description = "Started in another browser (`browser_mismatch`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown (`login_request_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already complete (`login_request_completed`)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Expired (`login_request_expired`)", body = Problem, content_type = "application/problem+json"),
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
    let client_id = ClientId::parse(&login.request.client_id).map_err(|_| Problem::internal())?;
    let client = web::block(move || store.client_by_id(&client_id))
        .await
        .map_err(|_| Problem::internal())?
        .map_err(|_| Problem::internal())?
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                "login_request_not_found",
                "No such login request",
            )
        })?;
    Ok(HttpResponse::Ok().json(LoginView {
        login_challenge: login.id,
        client: ClientSummary {
            client_id: client.id.to_string(),
            client_name: client.name,
        },
        scopes: login.request.scopes,
        login_hint: login.request.login_hint,
        ui_locales: login.request.ui_locales,
        next: "password".to_owned(),
        expires_at: login.expires_at,
    }))
}
