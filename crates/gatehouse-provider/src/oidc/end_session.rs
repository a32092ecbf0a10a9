//! `GET|POST /end_session` (OpenID Connect RP-Initiated Logout 1.0): ends the
//! browser's session at the provider, revokes what it issued, and sends the browser
//! back to a registered post-logout URI.

use actix_web::cookie::Cookie;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, LOCATION};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use gatehouse_core::ClientId;
use gatehouse_core::ports::{ClientRepository, RefreshTokenRepository, SessionRepository};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

use super::browser::SESSION_COOKIE;
use super::error::OAuthError;
use crate::state::AppState;

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

async fn end_session(
    req: HttpRequest,
    params: HashMap<String, String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let hinted = match params.get("id_token_hint") {
        Some(hint) => Some(hinted_client(&state, hint).ok_or_else(|| {
            OAuthError::bad_request(
                "invalid_request",
                "id_token_hint is not an ID token issued here",
            )
        })?),
        None => None,
    };
    let client_id = match (&hinted, params.get("client_id")) {
        (Some((aud, _)), Some(named)) if aud != named => {
            return Err(OAuthError::bad_request(
                "invalid_request",
                "client_id does not match id_token_hint",
            ));
        }
        (Some((aud, _)), _) => Some(aud.clone()),
        (None, named) => named.cloned(),
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let id = client_id
                .as_deref()
                .and_then(|id| ClientId::parse(id).ok())
                .ok_or_else(|| {
                    OAuthError::bad_request(
                        "invalid_request",
                        "post_logout_redirect_uri needs id_token_hint or client_id",
                    )
                })?;
            let store = state.store.clone();
            let client = web::block(move || store.client_by_id(&id))
                .await
                .map_err(|_| OAuthError::server_error())?
                .map_err(|_| OAuthError::temporarily_unavailable())?;
            // Never redirect to an unregistered URI: shown, like /authorize's errors.
            match client {
                Some(client) if client.allows_post_logout_redirect(uri) => Some(uri.clone()),
                _ => {
                    return Err(OAuthError::bad_request(
                        "invalid_request",
                        "post_logout_redirect_uri is not registered",
                    ));
                }
            }
        }
    };
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
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
        .map_err(|_| OAuthError::server_error())?
        .map_err(|_| OAuthError::temporarily_unavailable())?;
    }
    let mut removal = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    removal.make_removal();
    let mut res = match redirect {
        Some(uri) => {
            let mut url = url::Url::parse(&uri).map_err(|_| OAuthError::server_error())?;
            if let Some(state_param) = params.get("state") {
                url.query_pairs_mut().append_pair("state", state_param);
            }
            HttpResponse::Found()
                .insert_header((LOCATION, url.as_str()))
                .finish()
        }
        None => HttpResponse::Ok().json(json!({"logged_out": true})),
    };
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let _ = res.add_cookie(&removal);
    Ok(res)
}

/// Logs the browser out. `id_token_hint`, `client_id`, `post_logout_redirect_uri`
/// (registered, exact match) and `state` as in RP-Initiated Logout 1.0.
#[utoipa::path(
    tag = "oidc",
    params(
        ("id_token_hint" = Option<String>, Query),
        ("client_id" = Option<String>, Query),
        ("post_logout_redirect_uri" = Option<String>, Query),
        ("state" = Option<String>, Query),
    ),
    responses(
        (status = 302, description = "To the registered post-logout URI, with `state`"),
        (status = 200, description = "Logged out (no redirect URI given)"),
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
    let params = super::token::form(&req, &body)?;
    end_session(req, params, state).await
}
