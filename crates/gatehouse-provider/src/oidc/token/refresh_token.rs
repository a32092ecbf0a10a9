//! `refresh_token` (RFC 6749 §6): rotation on every use; a reused token revokes its
//! whole family and its session (OAuth 2.0 Security BCP §4.14.2). The token's rules
//! are `RefreshToken::redeem`; the session and the account are checked here, in the
//! same transaction.

use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::grant::{RefreshRefusal, RefreshToken};
use gatehouse_core::ports::{
    AccountRepository, RefreshTokenRepository, RepositoryResult, SessionRepository,
};
use gatehouse_core::{Account, Client};
use gatehouse_store::Tx;
use std::collections::HashMap;

use crate::crypto::random;
use crate::metrics::Metrics;
use crate::oidc::dpop::{self, Proof, Spend};
use crate::oidc::error::{OAuthError, blocking};
use crate::oidc::forms::required;
use crate::oidc::tokens::{Authentication, TokenResponse, user_tokens};
use crate::state::AppState;

/// What the request presents, checked against the stored token in the transaction.
struct Presented {
    token_hash: String,
    client_id: String,
    scope: Option<String>,
    /// The rotated token's hash and lifetime.
    next_hash: String,
    ttl: TimeDelta,
    /// The key the request's DPoP proof was made with.
    jkt: Option<String>,
}

/// A rotation: the account, the token used, and the new access token's scopes.
type Rotated = (Account, RefreshToken, Vec<String>);

pub(super) async fn refresh(
    params: &HashMap<String, String>,
    client: &Client,
    state: &AppState,
    proof: Option<&Proof>,
) -> Result<TokenResponse, OAuthError> {
    let presented = required(params, "refresh_token")?;
    let next = random::token()?;
    let presented = Presented {
        token_hash: state.secrets.hasher.hash(presented),
        client_id: client.id.to_string(),
        scope: params.get("scope").cloned(),
        next_hash: state.secrets.hasher.hash(&next),
        ttl: TimeDelta::seconds(client.lifetimes.refresh_token.into()),
        jkt: proof.map(|p| p.jkt.clone()),
    };
    let now = state.clock.now();
    let metrics = state.metrics.clone();
    let (store, spent) = (state.store.clone(), proof.cloned());
    let (account, stored, scopes) = blocking(move || {
        store.transaction_with(|tx| -> Result<_, Spend> {
            let rotated = rotate(tx, &presented, now, &metrics)?;
            // A replayed proof rolls the rotation back: the token stays good.
            if rotated.is_ok() {
                dpop::spend(tx, spent.as_ref())?;
            }
            Ok(rotated)
        })
    })
    .await??;
    let authentication = Authentication {
        scopes,
        claims: None,
        nonce: None,
        auth_time: stored.auth_time,
        amr: stored.amr.clone(),
        acr: stored.acr.clone(),
        sid: stored.session_id.clone(),
    };
    let jkt = proof.map(|p| p.jkt.as_str());
    user_tokens(
        state,
        client,
        &account,
        &authentication,
        Some(next),
        jkt,
        now,
    )
}

/// The rotation, in one transaction: a refusal commits too (the token stays spent, a
/// reuse's revocations stand).
fn rotate(
    tx: &Tx<'_>,
    presented: &Presented,
    now: DateTime<Utc>,
    metrics: &Metrics,
) -> RepositoryResult<Result<Rotated, RefreshRefusal>> {
    let Some(stored) = tx.refresh_token_by_hash(&presented.token_hash)? else {
        return Ok(Err(RefreshRefusal::Unknown));
    };
    // Bound to a key (RFC 9449 §5): refused before it is spent, it stays usable.
    if let Some(bound) = &stored.dpop_jkt
        && presented.jkt.as_ref() != Some(bound)
    {
        return Ok(Err(RefreshRefusal::OtherDpopKey));
    }
    let verdict = stored.redeem(
        &presented.client_id,
        presented.scope.as_deref(),
        now,
        || tx.mark_refresh_token_used(&presented.token_hash, now),
    )?;
    let scopes = match verdict {
        Ok(scopes) => scopes,
        Err(RefreshRefusal::Reused) => {
            // Someone holds a copy. End the whole family and its session.
            tx.revoke_refresh_family(&stored.family_id, now)?;
            if let Some(mut session) = tx.session_by_id(&stored.session_id)? {
                session.revoked_at.get_or_insert(now);
                tx.update_session(&session)?;
            }
            tracing::warn!(client_id = %stored.client_id, "refresh token reuse: family revoked");
            metrics.refresh_reuse.inc();
            return Ok(Err(RefreshRefusal::Reused));
        }
        Err(refusal) => return Ok(Err(refusal)),
    };
    let Some(mut session) = tx
        .session_by_id(&stored.session_id)?
        .filter(|s| s.revoked_at.is_none())
    else {
        return Ok(Err(RefreshRefusal::SessionEnded));
    };
    // The account's session list shows when each device was last seen.
    session.last_seen_at = now;
    tx.update_session(&session)?;
    let Some(account) = tx
        .account_by_id(stored.account_id)?
        .filter(|a| a.status.can_log_in())
    else {
        return Ok(Err(RefreshRefusal::AccountCannotSignIn));
    };
    tx.insert_refresh_token(&RefreshToken {
        token_hash: presented.next_hash.clone(),
        created_at: now,
        expires_at: now + presented.ttl,
        used_at: None,
        revoked_at: None,
        ..stored.clone()
    })?;
    Ok(Ok((account, stored, scopes)))
}
