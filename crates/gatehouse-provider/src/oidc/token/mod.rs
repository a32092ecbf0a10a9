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
use super::dpop;
use super::error::{OAuthError, OAuthErrorCode};
use super::forms::{form, required};
use super::tokens::TokenResponse;
use crate::state::AppState;

/// The token endpoint. Grants: `authorization_code` (PKCE S256 required),
/// `refresh_token` (rotated on every use) and `client_credentials`. With a `DPoP`
/// proof (RFC 9449) the access token is bound to its key (`token_type` `DPoP`,
/// `cnf.jkt`), and so are a public client's refresh tokens.
#[utoipa::path(
    tag = "oidc",
    params(("DPoP" = Option<String>, Header, description = "A DPoP proof (RFC 9449 §4) for `POST` at this URL")),
    request_body(content_type = "application/x-www-form-urlencoded", content = super::forms::TokenForm,
        description = "grant_type=authorization_code&code=…&redirect_uri=…&code_verifier=…, or grant_type=refresh_token&refresh_token=…[&scope=…], or grant_type=client_credentials[&scope=…]; client authentication as registered"),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "`invalid_request`, `invalid_grant`, `invalid_scope`, `unsupported_grant_type`, `unauthorized_client`, `invalid_dpop_proof`, `use_dpop_nonce` (with `DPoP-Nonce`)", body = OAuthError),
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
    let proof = dpop::at_token(&state, &req)?;
    if proof.is_none() && client.dpop_bound_access_tokens {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "this client's tokens are DPoP-bound: send a DPoP proof",
        ));
    }
    let proof = proof.as_ref();
    let response = match grant {
        GrantType::AuthorizationCode => {
            authorization_code::exchange(&params, &client, &state, proof).await
        }
        GrantType::RefreshToken => refresh_token::refresh(&params, &client, &state, proof).await,
        GrantType::ClientCredentials => {
            client_credentials::issue(&params, &client, &state, proof).await
        }
    }?;
    let mut answer = response.answer();
    // RFC 9449 §8: the next proof's nonce, ahead of time.
    if state.config.dpop.require_nonce
        && let Ok(value) =
            actix_web::http::header::HeaderValue::from_str(&dpop::fresh_nonce(&state))
    {
        answer.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("dpop-nonce"),
            value,
        );
    }
    Ok(answer)
}
