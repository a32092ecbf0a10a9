//! Issuing an authorization code for a session, as the last step of a login or at
//! once for a browser whose session already satisfies the request.

use gatehouse_core::authorization::AuthorizationRequest;
use gatehouse_core::consent::{self, ConsentDecision, ConsentGrant};
use gatehouse_core::grant::{self, AuthorizationCode, Session};
use gatehouse_core::ports::{AuthorizationCodeRepository, ConsentRepository, RepositoryError};
use gatehouse_core::{AccountId, Client, ClientId};
use gatehouse_store::Tx;

use super::client_cache::ClientCache;
use super::redirect::redirect_location;
use super::tokens::ACR_MFA;
use crate::state::AppState;

/// Stores the code (hashed) and returns where to send the browser: the client's
/// redirect URI with `code`, `state` and `iss`.
pub fn issue_code(
    tx: &Tx<'_>,
    state: &AppState,
    request: &AuthorizationRequest,
    session: &Session,
    code: &str,
) -> Result<String, RepositoryError> {
    let now = state.clock.now();
    tx.insert_code(&AuthorizationCode {
        code_hash: state.secrets.hasher.hash(code),
        client_id: request.client_id.clone(),
        account_id: session.account_id,
        session_id: session.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scopes: request.scopes.clone(),
        nonce: request.nonce.clone(),
        claims: request.claims.clone(),
        code_challenge: request.code_challenge.clone(),
        auth_time: session.auth_time,
        amr: session.amr.clone(),
        acr: session.acr.clone(),
        created_at: now,
        expires_at: now + grant::CODE_TTL,
        used_at: None,
    })?;
    redirect_location(
        &request.redirect_uri,
        &[("code", Some(code)), ("state", request.state.as_deref())],
        &state.config.server.issuer,
    )
    .ok_or_else(|| RepositoryError::Corrupt("stored redirect_uri is not a URL".to_owned()))
}

/// Whether a session meets the request without the user: not asked to log in again,
/// recent enough for `max_age`, and of an `acr` the client accepts.
pub fn session_satisfies(
    session: &Session,
    request: &AuthorizationRequest,
    now: chrono::DateTime<chrono::Utc>,
    phishing_resistant_acr: &str,
) -> bool {
    session.is_live(now)
        && !request.prompt.login
        && session.satisfies_max_age(request.max_age, now)
        && acr_satisfies(&session.acr, &request.acr_values, phishing_resistant_acr)
}

/// Whether a login of `acr` meets `requested`: any when none is asked; a
/// phishing-resistant login is also a multi-factor one.
pub fn acr_satisfies(acr: &str, requested: &[String], phishing_resistant_acr: &str) -> bool {
    requested.is_empty()
        || requested.iter().any(|r| r == acr)
        || (acr == phishing_resistant_acr && requested.iter().any(|r| r == ACR_MFA))
}

/// The `acr` a finished login reports: `phr` when a WebAuthn credential proved it,
/// unless the client asked for the multi-factor value and not for `phr` (then it gets
/// what it asked for, which the login satisfies too); else multi-factor.
pub fn established_acr(
    phishing_resistant_proof: bool,
    request: &AuthorizationRequest,
    phr: &str,
) -> String {
    let asked = |v: &str| request.acr_values.iter().any(|a| a == v);
    if phishing_resistant_proof && (asked(phr) || !asked(ACR_MFA)) {
        phr.to_owned()
    } else {
        ACR_MFA.to_owned()
    }
}

/// Whether a login request asks for phishing resistance without also accepting an
/// ordinary multi-factor login: then only WebAuthn factors may finish it.
pub fn requires_phishing_resistance(request: &AuthorizationRequest, phr: &str) -> bool {
    request.acr_values.iter().any(|v| v == phr) && !request.acr_values.iter().any(|v| v == ACR_MFA)
}

/// The client a stored request names, and what to do about consent for `account`:
/// the grant is read in the caller's transaction, so it cannot change before the code
/// is issued; the client comes from the cache the authorization request was checked
/// against (a round trip less in every login).
pub fn consent_for(
    tx: &Tx<'_>,
    clients: &ClientCache,
    request: &AuthorizationRequest,
    account: AccountId,
) -> Result<(Client, Option<ConsentGrant>, ConsentDecision), RepositoryError> {
    let client_id = ClientId::parse(&request.client_id)
        .map_err(|e| RepositoryError::Corrupt(format!("login request client_id: {e}")))?;
    let client = clients
        .load_in(tx, &client_id)?
        .ok_or(RepositoryError::NotFound)?;
    let grant = tx.consent_grant(account, client_id.as_str())?;
    let decision = consent::decide(&client, &request.scopes, request.prompt, grant.as_ref());
    Ok((client, grant, decision))
}
