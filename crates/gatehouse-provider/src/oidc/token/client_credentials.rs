//! `client_credentials` (RFC 6749 §4.4): a confidential client acting for itself.

use gatehouse_core::Client;
use gatehouse_core::grant::narrowed;
use std::collections::HashMap;

use crate::oidc::dpop::{self, Proof};
use crate::oidc::error::{OAuthError, OAuthErrorCode, blocking};
use crate::oidc::tokens::{self, TokenResponse};
use crate::state::AppState;

pub(super) async fn issue(
    params: &HashMap<String, String>,
    client: &Client,
    state: &AppState,
    proof: Option<&Proof>,
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
    if let Some(proof) = proof.cloned() {
        let store = state.store.clone();
        blocking(move || dpop::spend(&store, Some(&proof))).await?;
    }
    let now = state.clock.now();
    let jkt = proof.map(|p| p.jkt.as_str());
    let access_token =
        tokens::access_token(state, client, client.id.as_str(), &scopes, None, jkt, now)?;
    Ok(TokenResponse {
        access_token,
        token_type: tokens::token_type(jkt),
        expires_in: client.lifetimes.access_token,
        scope: scopes.join(" "),
        id_token: None,
        refresh_token: None,
    })
}
