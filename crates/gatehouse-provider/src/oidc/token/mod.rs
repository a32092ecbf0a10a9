//! `POST /token` (RFC 6749 §3.2): the endpoint reads the form, authenticates the
//! client and hands the request to its grant's module. The rules of redeeming a code
//! or a refresh token are core's (`gatehouse_core::grant`); each module runs them in
//! one transaction and mints the tokens.

mod authorization_code;
mod client_credentials;
mod refresh_token;

use actix_web::{HttpRequest, HttpResponse, post, web};
use gatehouse_core::GrantType;

use super::client_auth::authenticate;
use super::error::{OAuthError, OAuthErrorCode};
use super::forms::{form, required};
use super::tokens::TokenResponse;
use crate::state::AppState;

/// The token endpoint. Grants: `authorization_code` (PKCE S256 required),
/// `refresh_token` (rotated on every use) and `client_credentials`.
#[utoipa::path(
    tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded", content = super::forms::TokenForm,
        description = "grant_type=authorization_code&code=…&redirect_uri=…&code_verifier=…, or grant_type=refresh_token&refresh_token=…[&scope=…], or grant_type=client_credentials[&scope=…]; client authentication as registered"),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "`invalid_request`, `invalid_grant`, `invalid_scope`, `unsupported_grant_type`, `unauthorized_client`", body = OAuthError),
        (status = 401, description = "`invalid_client`", body = OAuthError),
    )
)]
#[post("/token")]
pub async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let params = form(&req, &body)?;
    let grant_type = required(&params, "grant_type")?.to_owned();
    let client = authenticate(&req, &params, &state).await?;
    let Ok(grant) = grant_type.parse::<GrantType>() else {
        return Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            "this grant type is not supported",
        ));
    };
    if !client.allows_grant(grant) {
        return Err(OAuthError::unauthorized_client());
    }
    let response = match grant {
        GrantType::AuthorizationCode => {
            authorization_code::exchange(&params, &client, &state).await
        }
        GrantType::RefreshToken => refresh_token::refresh(&params, &client, &state).await,
        GrantType::ClientCredentials => client_credentials::issue(&params, &client, &state),
    }?;
    Ok(response.answer())
}
