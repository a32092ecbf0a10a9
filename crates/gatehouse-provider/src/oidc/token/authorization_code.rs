//! `authorization_code` (RFC 6749 §4.1.3, PKCE RFC 7636 §4.5): a code for the user's
//! tokens, and a refresh token when the client may use one. The code's rules are
//! `AuthorizationCode::redeem`; a replayed code ends what its first exchange issued.

use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::grant::{AuthorizationCode, CodeExchange, CodeRefusal, RefreshToken};
use gatehouse_core::ports::{
    AccountRepository, AuthorizationCodeRepository, RefreshTokenRepository, RepositoryResult,
    SessionRepository,
};
use gatehouse_core::{Account, Client, GrantType};
use gatehouse_store::Tx;
use std::collections::HashMap;

use crate::crypto::random;
use crate::oidc::dpop::{self, Proof, Spend};
use crate::oidc::error::{OAuthError, OAuthErrorCode, blocking};
use crate::oidc::forms::required;
use crate::oidc::tokens::{Authentication, TokenResponse, user_tokens};
use crate::state::AppState;

/// What the request presents, checked against the stored code in the transaction.
struct Presented {
    code_hash: String,
    client_id: String,
    redirect_uri: String,
    verifier: String,
    /// The new refresh token's hash and lifetime, when the client gets one.
    refresh: Option<(String, TimeDelta)>,
    /// The key a public client's refresh token is bound to (RFC 9449 §5).
    refresh_jkt: Option<String>,
}

pub(super) async fn exchange(
    params: &HashMap<String, String>,
    client: &Client,
    state: &AppState,
    proof: Option<&Proof>,
) -> Result<TokenResponse, OAuthError> {
    let code = required(params, "code")?;
    let redirect_uri = required(params, "redirect_uri")?.to_owned();
    let verifier = params.get("code_verifier").cloned().unwrap_or_default();
    if verifier.is_empty() {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "code_verifier is required (PKCE)",
        ));
    }
    let refresh = new_refresh_token(client)?;
    let refresh_ttl = TimeDelta::seconds(client.lifetimes.refresh_token.into());
    let presented = Presented {
        code_hash: state.secrets.hasher.hash(code),
        client_id: client.id.to_string(),
        redirect_uri,
        verifier,
        refresh: refresh
            .as_ref()
            .map(|t| (state.secrets.hasher.hash(t), refresh_ttl)),
        // Confidential clients authenticate every refresh already (RFC 9449 §5).
        refresh_jkt: proof.filter(|_| client.is_public()).map(|p| p.jkt.clone()),
    };
    let now = state.clock.now();
    let (store, rules, spent) = (state.store.clone(), client.clone(), proof.cloned());
    let (account, code) = blocking(move || {
        store.transaction_with(|tx| -> Result<_, Spend> {
            let redeemed = redeem(tx, &presented, &rules, now)?;
            // A replayed proof rolls the whole exchange back: the code stays good.
            if redeemed.is_ok() {
                dpop::spend(tx, spent.as_ref())?;
            }
            Ok(redeemed)
        })
    })
    .await??;
    // Only with offline_access granted, unless the client is set to do without.
    let refresh = refresh.filter(|_| client.issues_refresh_token(&code.scopes));
    let authentication = Authentication {
        scopes: code.scopes.clone(),
        claims: code.claims.clone(),
        nonce: code.nonce.clone(),
        auth_time: code.auth_time,
        amr: code.amr.clone(),
        acr: code.acr.clone(),
        sid: code.session_id.clone(),
    };
    let jkt = proof.map(|p| p.jkt.as_str());
    user_tokens(state, client, &account, &authentication, refresh, jkt, now)
}

/// The code's exchange, in one transaction: a refusal commits too (the code stays
/// spent, a replay's revocations stand).
fn redeem(
    tx: &Tx<'_>,
    presented: &Presented,
    client: &Client,
    now: DateTime<Utc>,
) -> RepositoryResult<Result<(Account, AuthorizationCode), CodeRefusal>> {
    let Some(code) = tx.code_by_hash(&presented.code_hash)? else {
        return Ok(Err(CodeRefusal::Unknown));
    };
    let exchange = CodeExchange {
        client_id: &presented.client_id,
        redirect_uri: &presented.redirect_uri,
        code_verifier: &presented.verifier,
    };
    match code.redeem(&exchange, now, || {
        tx.mark_code_used(&presented.code_hash, now)
    })? {
        Ok(()) => {}
        Err(CodeRefusal::Replayed) => {
            // Revoke what the first exchange issued (its session, so its tokens die).
            if let Some(mut session) = tx.session_by_id(&code.session_id)? {
                session.revoked_at.get_or_insert(now);
                tx.update_session(&session)?;
            }
            tx.revoke_refresh_for_session(&code.session_id, now)?;
            return Ok(Err(CodeRefusal::Replayed));
        }
        Err(refusal) => return Ok(Err(refusal)),
    }
    let Some(account) = tx
        .account_by_id(code.account_id)?
        .filter(|a| a.status.can_log_in())
    else {
        return Ok(Err(CodeRefusal::AccountCannotSignIn));
    };
    let refresh =
        (presented.refresh.as_ref()).filter(|_| client.issues_refresh_token(&code.scopes));
    if let Some((token_hash, ttl)) = refresh {
        tx.insert_refresh_token(&RefreshToken {
            token_hash: token_hash.clone(),
            // One family per login: the code's own hash names it.
            family_id: presented.code_hash.clone(),
            client_id: code.client_id.clone(),
            account_id: account.id,
            session_id: code.session_id.clone(),
            scopes: code.scopes.clone(),
            auth_time: code.auth_time,
            amr: code.amr.clone(),
            acr: code.acr.clone(),
            created_at: now,
            expires_at: now + *ttl,
            used_at: None,
            revoked_at: None,
            dpop_jkt: presented.refresh_jkt.clone(),
        })?;
    }
    Ok(Ok((account, code)))
}

/// A fresh refresh token when the client may use one.
fn new_refresh_token(client: &Client) -> Result<Option<String>, OAuthError> {
    if !client.allows_grant(GrantType::RefreshToken) {
        return Ok(None);
    }
    Ok(Some(random::token()?))
}
