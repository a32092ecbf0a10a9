//! `POST /par` (RFC 9126): a client pushes its authorization request, authenticated
//! as at `/token`, and gets a short-lived, single-use `request_uri` for `/authorize`.
//! The parameters are checked here as `/authorize` checks them (all but the browser's
//! part) and again when `/authorize` takes them.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::TimeDelta;
use gatehouse_core::authorization::{self, AuthorizationParams, PushedRequest, Rejection};
use gatehouse_core::ports::PushedRequestRepository;
use serde::Serialize;
use utoipa::ToSchema;

use super::client_auth::authenticate;
use super::error::{OAuthError, OAuthErrorCode, blocking};
use super::forms::form;
use crate::crypto::random;
use crate::state::AppState;

/// RFC 9126 §2.2: what a pushed request's `request_uri` starts with.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The authorization parameters a pushed request keeps (`client_id` is the
/// authenticated client's; client authentication and unknown parameters are dropped).
const KEPT: [&str; 14] = [
    "response_type",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "acr_values",
    "login_hint",
    "ui_locales",
    "response_mode",
    "claims",
];

/// RFC 9126 §2.2 answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushedAuthorizationResponse {
    /// `urn:ietf:params:oauth:request_uri:…`: send it to `/authorize` with `client_id`.
    pub request_uri: String,
    /// Seconds the `request_uri` stays usable (once).
    pub expires_in: u32,
}

/// A refusal of `validate` as the PAR endpoint answers it: JSON, never a redirect.
fn refused(rejection: Rejection) -> OAuthError {
    let (error, description) = match rejection {
        Rejection::Show(e) => (e.error, e.description),
        Rejection::Redirect(e) => (e.error, e.description),
    };
    let code = OAuthErrorCode::parse(error).unwrap_or(OAuthErrorCode::InvalidRequest);
    OAuthError::new(code, description)
}

/// Pushes an authorization request (RFC 9126). The parameters of `/authorize`, form-
/// encoded, with the client's authentication as at `/token`.
#[utoipa::path(
    tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded", content = super::forms::AuthorizeForm,
        description = "The parameters of /authorize (no `request_uri`; `request` is not supported) and the client's authentication as registered (HTTP Basic, `client_secret`, `client_assertion`, or only `client_id` for a public client)"),
    responses(
        (status = 201, description = "Pushed: `request_uri` for /authorize, single use", body = PushedAuthorizationResponse),
        (status = 400, description = "`invalid_request`, `invalid_scope`, `unauthorized_client`, `unsupported_response_type`, `request_not_supported`", body = OAuthError),
        (status = 401, description = "`invalid_client`", body = OAuthError),
    )
)]
#[post("/par")]
pub async fn push(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form = form(&req, &body)?;
    let client = authenticate(&req, &form, &state).await?;
    if form.contains_key("request_uri") {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "request_uri cannot be pushed",
        ));
    }
    if form.contains_key("request") {
        return Err(OAuthError::new(
            OAuthErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    let mut params: Vec<(String, String)> = form
        .into_iter()
        .filter(|(name, _)| KEPT.contains(&name.as_str()))
        .collect();
    params.sort();
    params.push(("client_id".to_owned(), client.id.to_string()));
    let parsed = AuthorizationParams::from_pairs(params.iter().map(|(k, v)| (&**k, &**v)))
        .map_err(|name| OAuthError::new(OAuthErrorCode::InvalidRequest, name))?;
    authorization::validate(&parsed, Some(&client)).map_err(refused)?;
    let random = random::token()?;
    let ttl = state.config.par.request_ttl_seconds;
    let pushed = PushedRequest {
        id_hash: state.secrets.hasher.hash(&random),
        client_id: client.id.to_string(),
        params,
        expires_at: state.clock.now() + TimeDelta::seconds(ttl.into()),
    };
    let store = state.store.clone();
    blocking(move || store.insert_pushed_request(&pushed)).await?;
    Ok(HttpResponse::Created()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(PushedAuthorizationResponse {
            request_uri: format!("{REQUEST_URI_PREFIX}{random}"),
            expires_in: ttl,
        }))
}

/// The parameters pushed under `request_uri` by `client_id`, taken (so never again).
/// Unknown, taken, expired or another client's: `invalid_request_uri`, shown to the
/// user (RFC 9126 §4), never redirected.
pub async fn take(
    state: &AppState,
    client_id: Option<&str>,
    request_uri: &str,
) -> Result<AuthorizationParams, OAuthError> {
    let invalid = || {
        OAuthError::new(
            OAuthErrorCode::InvalidRequestUri,
            "request_uri is unknown, used or expired",
        )
    };
    let client_id = client_id.ok_or_else(|| {
        OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "client_id is required with request_uri",
        )
    })?;
    let random = request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .ok_or_else(invalid)?;
    let id_hash = state.secrets.hasher.hash(random);
    let store = state.store.clone();
    let pushed = blocking(move || store.take_pushed_request(&id_hash))
        .await?
        .filter(|p| p.client_id == client_id && state.clock.now() < p.expires_at)
        .ok_or_else(invalid)?;
    AuthorizationParams::from_pairs(pushed.params.iter().map(|(k, v)| (&**k, &**v)))
        .map_err(|_| invalid())
}
