//! `GET|POST /end_session` (OpenID Connect RP-Initiated Logout 1.0): ends the
//! browser's session at the provider, revokes what it issued, and sends the browser
//! back to a registered post-logout URI.
//!
//! Only a request with a valid `id_token_hint` logs out at once. Without one, anyone's
//! page could sign the user out (a cross-site GET carries the session cookie), so the
//! browser goes to the UI's logout confirmation (`login.logout_ui_url?logout_challenge=…`),
//! which asks the user and confirms through `/api/v1/logout/{logout_challenge}`.

use actix_web::cookie::Cookie;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, LOCATION};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::ClientId;
use gatehouse_core::ports::{
    ClientRepository, RefreshTokenRepository, RepositoryError, SessionRepository,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;

use super::browser::SESSION_COOKIE;
use super::error::{OAuthError, OAuthErrorCode, blocking};
use crate::state::AppState;

/// How long the user has to confirm a logout.
pub const LOGOUT_REQUEST_TTL: TimeDelta = TimeDelta::minutes(10);
/// What a logout challenge is sealed for (no other sealed value opens as one).
const SEALED_FOR: &str = "logout-request";

/// A logout waiting for the user's word. It travels sealed with the master key in the
/// challenge itself, so any instance can serve it and nothing is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutRequest {
    pub client_id: Option<String>,
    /// Registered for the client; `state` is added when the browser goes there.
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl LogoutRequest {
    fn seal(&self, state: &AppState) -> Result<String, OAuthError> {
        let json = serde_json::to_vec(self).map_err(|e| {
            tracing::error!(error = %e, "a logout request would not serialize");
            OAuthError::server_error()
        })?;
        let sealed = state.secrets.sealer.seal(&json, SEALED_FOR)?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The request a challenge carries; `None` for anything this server did not seal.
    pub fn open(state: &AppState, challenge: &str) -> Option<Self> {
        let sealed = URL_SAFE_NO_PAD.decode(challenge).ok()?;
        let json = state.secrets.sealer.open(&sealed, SEALED_FOR).ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// Where the browser goes once the user has answered.
    pub fn return_to(&self) -> Option<String> {
        post_logout_location(
            self.post_logout_redirect_uri.as_deref()?,
            self.state.as_deref(),
        )
    }
}

fn post_logout_location(uri: &str, state: Option<&str>) -> Option<String> {
    let mut url = url::Url::parse(uri).ok()?;
    if let Some(state) = state {
        url.query_pairs_mut().append_pair("state", state);
    }
    Some(url.into())
}

/// Ends the session the browser's cookie names (and the refresh tokens it issued).
pub async fn end_browser_session(
    req: &HttpRequest,
    state: &AppState,
) -> Result<(), RepositoryError> {
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(());
    };
    let token_hash = state.secrets.hasher.hash(cookie.value());
    let store = state.store.clone();
    let now = state.clock.now();
    web::block(move || {
        store.transaction(|tx| {
            if let Some(mut session) = tx.session_by_token_hash(&token_hash)?
                && session.revoked_at.is_none()
            {
                session.revoked_at = Some(now);
                tx.update_session(&session)?;
                tx.revoke_refresh_for_session(&session.id, now)?;
            }
            Ok(())
        })
    })
    .await
    .map_err(|e| RepositoryError::Unavailable(format!("blocking pool: {e}")))?
}

/// The cookie that drops the browser's session cookie.
pub fn session_cookie_removal() -> Cookie<'static> {
    let mut removal = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    removal.make_removal();
    removal
}

#[derive(Debug, Deserialize)]
struct HintClaims {
    aud: Audience,
    sub: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The client an ID token we issued was for. Expired hints are fine (§2): the user
/// is logging out, possibly long after the token expired.
fn hinted_client(state: &AppState, id_token: &str) -> Option<(String, String)> {
    let header = jsonwebtoken::decode_header(id_token).ok()?;
    let (key, alg) = state.keys.verifier(header.kid.as_deref()?)?;
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_issuer(&[&state.config.server.issuer]);
    validation.set_required_spec_claims(&["iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<HintClaims>(id_token, &key, &validation)
        .ok()?
        .claims;
    let client = match claims.aud {
        Audience::One(aud) => aud,
        Audience::Many(auds) => auds.into_iter().next()?,
    };
    Some((client, claims.sub))
}

/// A `post_logout_redirect_uri` registered for the client named; never an unregistered
/// URI (shown, like /authorize's errors).
async fn registered_redirect(
    state: &AppState,
    client_id: Option<&str>,
    uri: &str,
) -> Result<String, OAuthError> {
    let id = client_id
        .and_then(|id| ClientId::parse(id).ok())
        .ok_or_else(|| {
            OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "post_logout_redirect_uri needs id_token_hint or client_id",
            )
        })?;
    let store = state.store.clone();
    match blocking(move || store.client_by_id(&id)).await? {
        Some(client) if client.allows_post_logout_redirect(uri) => Ok(uri.to_owned()),
        _ => Err(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "post_logout_redirect_uri is not registered",
        )),
    }
}

/// The browser goes to the UI's logout confirmation, the request sealed in the challenge.
fn to_confirmation(state: &AppState, request: &LogoutRequest) -> Result<HttpResponse, OAuthError> {
    let mut ui = url::Url::parse(&state.config.login.logout_ui_url).map_err(|e| {
        tracing::error!(error = %e, "login.logout_ui_url is not a URL");
        OAuthError::server_error()
    })?;
    ui.query_pairs_mut()
        .append_pair("logout_challenge", &request.seal(state)?);
    Ok(HttpResponse::Found()
        .insert_header((LOCATION, ui.as_str()))
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .finish())
}

async fn end_session(
    req: HttpRequest,
    params: HashMap<String, String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let hinted = match params.get("id_token_hint") {
        Some(hint) => Some(hinted_client(&state, hint).ok_or_else(|| {
            OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "id_token_hint is not an ID token issued here",
            )
        })?),
        None => None,
    };
    let client_id = match (&hinted, params.get("client_id")) {
        (Some((aud, _)), Some(named)) if aud != named => {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "client_id does not match id_token_hint",
            ));
        }
        (Some((aud, _)), _) => Some(aud.clone()),
        (None, named) => named.cloned(),
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => Some(registered_redirect(&state, client_id.as_deref(), uri).await?),
    };
    if hinted.is_none() {
        // Nobody proved which login this is: the user is asked first.
        let request = LogoutRequest {
            client_id,
            post_logout_redirect_uri: redirect,
            state: params.get("state").cloned(),
            expires_at: state.clock.now() + LOGOUT_REQUEST_TTL,
        };
        return to_confirmation(&state, &request);
    }
    end_browser_session(&req, &state).await?;
    let mut res = match redirect {
        Some(uri) => {
            let location = post_logout_location(&uri, params.get("state").map(String::as_str))
                .ok_or_else(OAuthError::server_error)?;
            HttpResponse::Found()
                .insert_header((LOCATION, location))
                .finish()
        }
        None => HttpResponse::Ok().json(json!({"logged_out": true})),
    };
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let _ = res.add_cookie(&session_cookie_removal());
    Ok(res)
}

/// Logs the browser out. `id_token_hint`, `client_id`, `post_logout_redirect_uri`
/// (registered, exact match) and `state` as in RP-Initiated Logout 1.0. Without a valid
/// `id_token_hint`, the browser is sent to the logout confirmation
/// (`login.logout_ui_url?logout_challenge=…`) instead: see `/api/v1/logout/{logout_challenge}`.
#[utoipa::path(
    tag = "oidc",
    params(
        ("id_token_hint" = Option<String>, Query),
        ("client_id" = Option<String>, Query),
        ("post_logout_redirect_uri" = Option<String>, Query),
        ("state" = Option<String>, Query),
    ),
    responses(
        (status = 302, description = "With a valid `id_token_hint`: logged out, to the registered post-logout URI with `state`. Without one: to the logout confirmation, `login.logout_ui_url?logout_challenge=…`"),
        (status = 200, description = "Logged out (valid `id_token_hint`, no redirect URI given)"),
        (status = 400, description = "Bad hint or unregistered post-logout URI: shown, never redirected", body = OAuthError),
    )
)]
#[get("/end_session")]
pub async fn end_session_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let params = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    end_session(req, params, state).await
}

/// The same as `GET /end_session`, form-encoded.
#[utoipa::path(
    tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded", content = super::forms::EndSessionForm),
    responses(
        (status = 302, description = "As for GET"),
        (status = 200, description = "As for GET"),
        (status = 400, description = "As for GET; also `invalid_request` when not a form or a parameter is given twice", body = OAuthError),
    )
)]
#[post("/end_session")]
pub async fn end_session_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let params = super::forms::form(&req, &body)?;
    end_session(req, params, state).await
}
