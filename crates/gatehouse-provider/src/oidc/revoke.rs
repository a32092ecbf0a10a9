//! `POST /revoke` (RFC 7009) and `POST /introspect` (RFC 7662), both for
//! authenticated clients, each only about the client's own tokens.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::DateTime;
use gatehouse_core::grant::RefreshToken;
use gatehouse_core::ports::{
    AccessTokenRevocations, AccountRepository, RefreshTokenRepository, SessionRepository,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::access::{self, AccessClaims};
use super::client_auth::authenticate;
use super::error::{OAuthError, OAuthErrorCode, blocking};
use super::forms::form;
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
            blocking(move || store.revoke_access_token(&claims.jti, expires)).await?;
        }
    } else {
        let hash = state.secrets.hasher.hash(&token);
        let store = state.store.clone();
        let client_id = client.id.to_string();
        blocking(
            move || -> Result<(), gatehouse_core::ports::RepositoryError> {
                if let Some(refresh) = store.refresh_token_by_hash(&hash)?
                    && refresh.client_id == client_id
                {
                    store.revoke_refresh_family(&refresh.family_id, now)?;
                }
                Ok(())
            },
        )
        .await?;
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
        .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidRequest, "token is required"))?;
    Ok((client, token))
}

/// What a token introspection answers (RFC 7662 §2.2): `active`, and for a live
/// token of the asking client what it says. An inactive token (unknown, expired,
/// revoked, or another client's) gets `active: false` and nothing else.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Introspection {
    /// Whether the token is live: issued here, to the asking client, not expired, not
    /// revoked, its session not ended.
    pub active: bool,
    /// `Bearer` (or `DPoP`) for an access token, `refresh_token` for a refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub token_type: Option<IntrospectedTokenType>,
    /// The client the token was issued to (the asking client).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    /// The user's subject, or for a `client_credentials` token the client id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sub: Option<String>,
    /// The granted scopes, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub scope: Option<String>,
    /// Issued at (seconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub iat: Option<i64>,
    /// Expires at (seconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub exp: Option<i64>,
    /// The session the token belongs to, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sid: Option<String>,
    /// Access tokens: the issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub iss: Option<String>,
    /// Access tokens: the audience (this issuer).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub aud: Option<String>,
    /// Access tokens: the token's unique id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub jti: Option<String>,
    /// Access tokens of a user: when the user authenticated (seconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub auth_time: Option<i64>,
    /// Access tokens of a user: the authentication context class reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub acr: Option<String>,
    /// Access tokens of a user: the authentication methods used (RFC 8176).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub amr: Option<Vec<String>>,
    /// DPoP-bound access tokens: the key's thumbprint (RFC 9449 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub cnf: Option<super::access_claims::Confirmation>,
}

/// The `token_type` of a live token.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub enum IntrospectedTokenType {
    #[serde(rename = "Bearer")]
    Bearer,
    /// A DPoP-bound access token (RFC 9449 §6.2).
    #[serde(rename = "DPoP")]
    DPoP,
    #[serde(rename = "refresh_token")]
    RefreshToken,
}

impl Introspection {
    fn inactive() -> Self {
        Self::default()
    }

    /// A live access token: its claims (RFC 9068 §2.2).
    fn access(claims: AccessClaims) -> Self {
        Self {
            active: true,
            token_type: Some(if claims.cnf.is_some() {
                IntrospectedTokenType::DPoP
            } else {
                IntrospectedTokenType::Bearer
            }),
            client_id: Some(claims.client_id),
            sub: Some(claims.sub),
            scope: Some(claims.scope),
            iat: Some(claims.iat),
            exp: Some(claims.exp),
            sid: claims.sid,
            iss: Some(claims.iss),
            aud: Some(claims.aud),
            jti: Some(claims.jti),
            auth_time: claims.auth_time,
            acr: claims.acr,
            amr: claims.amr,
            cnf: claims.cnf,
        }
    }

    /// A live refresh token of the user with `subject`.
    fn refresh(refresh: RefreshToken, subject: &str) -> Self {
        Self {
            active: true,
            token_type: Some(IntrospectedTokenType::RefreshToken),
            sub: Some(subject.to_owned()),
            scope: Some(refresh.scopes.join(" ")),
            iat: Some(refresh.created_at.timestamp()),
            exp: Some(refresh.expires_at.timestamp()),
            sid: Some(refresh.session_id),
            client_id: Some(refresh.client_id),
            ..Self::default()
        }
    }

    fn answer(&self) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header(CacheControl(vec![CacheDirective::NoStore]))
            .json(self)
    }
}

/// Is this token live, and what does it say? Only about the asking client's tokens.
#[utoipa::path(
    tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded", content = super::forms::TokenAboutForm),
    responses(
        (status = 200, description = "RFC 7662 introspection response (`active` and, when active, the token's claims)", body = Introspection),
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
                Introspection::access(claims).answer()
            }
            _ => Introspection::inactive().answer(),
        });
    }
    let hash = state.secrets.hasher.hash(&token);
    let store = state.store.clone();
    let now = state.clock.now();
    let found = blocking(
        move || -> Result<Option<Introspection>, gatehouse_core::ports::RepositoryError> {
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
            Ok(Some(Introspection::refresh(
                refresh,
                account.subject.as_str(),
            )))
        },
    )
    .await?;
    Ok(match found {
        Some(live) if live.client_id.as_deref() == Some(client.id.as_str()) => live.answer(),
        _ => Introspection::inactive().answer(),
    })
}
