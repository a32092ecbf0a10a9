//! `client_credentials` (RFC 6749 §4.4): a confidential client acting for itself.

use gatehouse_core::Client;
use gatehouse_core::grant::narrowed;
use std::collections::HashMap;

use crate::oidc::error::{OAuthError, OAuthErrorCode};
use crate::oidc::tokens::{self, TokenResponse};
use crate::state::AppState;

pub(super) fn issue(
    params: &HashMap<String, String>,
    client: &Client,
    state: &AppState,
) -> Result<TokenResponse, OAuthError> {
    // A public client proves nothing about itself (registration refuses the pair too).
    if client.is_public() {
        return Err(OAuthError::unauthorized_client());
    }
    let scopes =
        narrowed(params.get("scope").map(String::as_str), &client.scopes).ok_or_else(|| {
            OAuthError::new(
                OAuthErrorCode::InvalidScope,
                "scope exceeds what was granted",
            )
        })?;
    let now = state.clock.now();
    let access_token = tokens::access_token(state, client, client.id.as_str(), &scopes, None, now)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.lifetimes.access_token,
        scope: scopes.join(" "),
        id_token: None,
        refresh_token: None,
    })
}
