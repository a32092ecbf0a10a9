//! `POST /revoke` (RFC 7009) and `POST /introspect` (RFC 7662), both for
//! authenticated clients, each only about the client's own tokens.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::DateTime;
use gatehouse_core::ports::{
    AccessTokenRevocations, AccountRepository, RefreshTokenRepository, SessionRepository,
};
use serde_json::json;

use super::access;
use super::client_auth::authenticate;
use super::error::OAuthError;
use super::token::form;
use crate::state::AppState;

/// Revokes an access or refresh token the client holds. Always 200, also for tokens
/// that are unknown or not the client's (RFC 7009 §2.2).
#[utoipa::path(
    tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded", content = super::forms::TokenAboutForm),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 400, description = "`invalid_request`: not a form, no `token`, a parameter given twice", body = OAuthError),
        (status = 401, description = "`invalid_client`", body = OAuthError),
    )
)]
#[post("/revoke")]
pub async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (client, token) = client_and_token(&req, &body, &state).await?;
    let now = state.clock.now();
    if let Some(claims) = access::decode(&state, &token).await {
        if claims.client_id == client.id.as_str() {
            let expires = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
            let store = state.store.clone();
            web::block(move || store.revoke_access_token(&claims.jti, expires))
                .await
                .map_err(|_| OAuthError::server_error())?
                .map_err(|_| OAuthError::temporarily_unavailable())?;
        }
    } else {
        let hash = state.secrets.hasher.hash(&token);
        let store = state.store.clone();
        let client_id = client.id.to_string();
        web::block(
            move || -> Result<(), gatehouse_core::ports::RepositoryError> {
                if let Some(refresh) = store.refresh_token_by_hash(&hash)?
                    && refresh.client_id == client_id
                {
                    store.revoke_refresh_family(&refresh.family_id, now)?;
                }
                Ok(())
            },
        )
        .await
        .map_err(|_| OAuthError::server_error())?
        .map_err(|_| OAuthError::temporarily_unavailable())?;
    }
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .finish())
}

/// Both endpoints: an authenticated client and the `token` it asks about.
async fn client_and_token(
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
) -> Result<(gatehouse_core::Client, String), OAuthError> {
    let params = form(req, body)?;
    let client = authenticate(req, &params, state).await?;
    let token = params
        .get("token")
        .cloned()
        .ok_or_else(|| OAuthError::bad_request("invalid_request", "token is required"))?;
    Ok((client, token))
}

fn inactive() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(json!({"active": false}))
}

/// Is this token live, and what does it say? Only about the asking client's tokens.
#[utoipa::path(
    tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded", content = super::forms::TokenAboutForm),
    responses(
        (status = 200, description = "RFC 7662 introspection response (`active` and, when active, the token's claims)", body = Object),
        (status = 400, description = "`invalid_request`: not a form, no `token`, a parameter given twice", body = OAuthError),
        (status = 401, description = "`invalid_client`", body = OAuthError),
    )
)]
#[post("/introspect")]
pub async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (client, token) = client_and_token(&req, &body, &state).await?;
    // Decoded (and its signature checked) once, then checked for revocation.
    if let Some(claims) = access::decode(&state, &token).await {
        // Unknown is not inactive: an RP told `active: false` throws the token away.
        let live = access::live(&state, claims)
            .await
            .map_err(|access::Unknown| OAuthError::temporarily_unavailable())?;
        return Ok(match live {
            Some(claims) if claims.client_id == client.id.as_str() => {
                let mut body = serde_json::to_value(&claims).unwrap_or_else(|_| json!({}));
                if let Some(map) = body.as_object_mut() {
                    map.insert("active".to_owned(), true.into());
                    map.insert("token_type".to_owned(), "Bearer".into());
                }
                HttpResponse::Ok()
                    .insert_header(CacheControl(vec![CacheDirective::NoStore]))
                    .json(body)
            }
            _ => inactive(),
        });
    }
    let hash = state.secrets.hasher.hash(&token);
    let store = state.store.clone();
    let now = state.clock.now();
    let found = web::block(
        move || -> Result<Option<serde_json::Value>, gatehouse_core::ports::RepositoryError> {
            let Some(refresh) = store.refresh_token_by_hash(&hash)? else {
                return Ok(None);
            };
            let live = refresh.used_at.is_none()
                && refresh.revoked_at.is_none()
                && now < refresh.expires_at
                && store
                    .session_by_id(&refresh.session_id)?
                    .is_some_and(|s| s.revoked_at.is_none());
            if !live {
                return Ok(None);
            }
            let Some(account) = store.account_by_id(refresh.account_id)? else {
                return Ok(None);
            };
            Ok(Some(json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": refresh.client_id,
                "sub": account.subject.as_str(),
                "scope": refresh.scopes.join(" "),
                "iat": refresh.created_at.timestamp(),
                "exp": refresh.expires_at.timestamp(),
                "sid": refresh.session_id,
            })))
        },
    )
    .await
    .map_err(|_| OAuthError::server_error())?
    .map_err(|_| OAuthError::temporarily_unavailable())?;
    Ok(match found {
        Some(body) if body["client_id"] == client.id.as_str() => HttpResponse::Ok()
            .insert_header(CacheControl(vec![CacheDirective::NoStore]))
            .json(body),
        _ => inactive(),
    })
}
