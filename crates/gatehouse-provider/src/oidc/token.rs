//! `POST /token` (RFC 6749 §3.2): exchanging an authorization code (with PKCE) for tokens.

use actix_web::http::header::{CONTENT_TYPE, CacheControl, CacheDirective, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::TimeDelta;
use gatehouse_core::grant::{AuthorizationCode, RefreshToken};
use gatehouse_core::ports::{
    AccountRepository, AuthorizationCodeRepository, RefreshTokenRepository, SessionRepository,
};
use gatehouse_core::{Account, Client, GrantType};
use std::collections::HashMap;

use super::client_auth::authenticate;
use super::error::OAuthError;
use super::pkce;
use super::tokens::{self, Authentication, TokenResponse};
use crate::crypto::random;
use crate::state::AppState;

pub fn form(req: &HttpRequest, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::bad_request(
            "invalid_request",
            "send application/x-www-form-urlencoded",
        ));
    }
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(OAuthError::bad_request(
                "invalid_request",
                format!("{name} was given more than once"),
            ));
        }
    }
    Ok(params)
}

fn required<'a>(params: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::bad_request("invalid_request", format!("{name} is required")))
}

fn invalid_grant(description: &str) -> OAuthError {
    OAuthError::bad_request("invalid_grant", description)
}

fn tokens_json(response: &TokenResponse) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header((PRAGMA, "no-cache"))
        .json(response)
}

/// The token endpoint. Grants: `authorization_code` (PKCE S256 required),
/// `refresh_token` (rotated on every use) and `client_credentials`.
#[utoipa::path(
    tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded", content = super::forms::TokenForm,
        description = "grant_type=authorization_code&code=…&redirect_uri=…&code_verifier=…, or grant_type=refresh_token&refresh_token=…[&scope=…], or grant_type=client_credentials[&scope=…]; client authentication as registered"),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "`invalid_request`, `invalid_grant`, `unsupported_grant_type`, `unauthorized_client`", body = OAuthError),
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
    match grant_type.as_str() {
        "authorization_code" => exchange_code(&params, client, &state).await,
        "refresh_token" => refresh(&params, client, &state).await,
        "client_credentials" => client_credentials(&params, client, &state),
        _ => Err(OAuthError::bad_request(
            "unsupported_grant_type",
            "this grant type is not supported",
        )),
    }
}

/// What a code exchange found.
enum Exchange {
    Issued(Box<(Account, AuthorizationCode)>),
    Replayed,
    Invalid(&'static str),
}

async fn exchange_code(
    params: &HashMap<String, String>,
    client: Client,
    state: &web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            "this client may not use this grant",
        ));
    }
    let code = required(params, "code")?;
    let redirect_uri = required(params, "redirect_uri")?.to_owned();
    let verifier = params.get("code_verifier").cloned().unwrap_or_default();
    if verifier.is_empty() {
        return Err(OAuthError::bad_request(
            "invalid_request",
            "code_verifier is required (PKCE)",
        ));
    }
    let code_hash = state.secrets.hasher.hash(code);
    let now = state.clock.now();
    let store = state.store.clone();
    let client_id = client.id.to_string();
    let refresh = new_refresh_token(&client)?;
    let refresh_hash = refresh.as_ref().map(|t| state.secrets.hasher.hash(t));
    let refresh_ttl = TimeDelta::seconds(client.lifetimes.refresh_token.into());
    let rules = client.clone();
    let outcome = web::block(move || {
        store.transaction(|tx| {
            let Some(code) = tx.code_by_hash(&code_hash)? else {
                return Ok(Exchange::Invalid("the code is invalid"));
            };
            if code.client_id != client_id {
                return Ok(Exchange::Invalid("the code was issued to another client"));
            }
            if !tx.mark_code_used(&code_hash, now)? {
                // A second use: whoever holds it is not the client that redeemed it first.
                // Revoke what the first exchange issued (its session, so its tokens die).
                if let Some(mut session) = tx.session_by_id(&code.session_id)? {
                    session.revoked_at.get_or_insert(now);
                    tx.update_session(&session)?;
                }
                tx.revoke_refresh_for_session(&code.session_id, now)?;
                return Ok(Exchange::Replayed);
            }
            if now >= code.expires_at {
                return Ok(Exchange::Invalid("the code has expired"));
            }
            if code.redirect_uri != redirect_uri {
                return Ok(Exchange::Invalid(
                    "redirect_uri does not match the authorization request",
                ));
            }
            if !pkce::verify_s256(&verifier, &code.code_challenge) {
                return Ok(Exchange::Invalid(
                    "code_verifier does not match the code_challenge",
                ));
            }
            let Some(account) = tx
                .account_by_id(code.account_id)?
                .filter(|a| a.status.can_log_in())
            else {
                return Ok(Exchange::Invalid("the account can no longer sign in"));
            };
            // Only with offline_access granted, unless the client is set to do without.
            let refresh_hash = refresh_hash
                .as_ref()
                .filter(|_| rules.issues_refresh_token(&code.scopes));
            if let Some(token_hash) = refresh_hash {
                tx.insert_refresh_token(&RefreshToken {
                    token_hash: token_hash.clone(),
                    // One family per login: the code's own hash names it.
                    family_id: code_hash.clone(),
                    client_id: code.client_id.clone(),
                    account_id: account.id,
                    session_id: code.session_id.clone(),
                    scopes: code.scopes.clone(),
                    auth_time: code.auth_time,
                    amr: code.amr.clone(),
                    acr: code.acr.clone(),
                    created_at: now,
                    expires_at: now + refresh_ttl,
                    used_at: None,
                    revoked_at: None,
                })?;
            }
            Ok(Exchange::Issued(Box::new((account, code))))
        })
    })
    .await
    .map_err(|_| OAuthError::server_error())?
    .map_err(|_| OAuthError::temporarily_unavailable())?;
    let (account, code) = match outcome {
        Exchange::Issued(issued) => *issued,
        Exchange::Replayed => return Err(invalid_grant("the code was already used")),
        Exchange::Invalid(why) => return Err(invalid_grant(why)),
    };
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
    user_tokens(state, &client, &account, &authentication, refresh, now)
}

/// Access and ID token (and the refresh token, if any) for a user's login.
fn user_tokens(
    state: &AppState,
    client: &Client,
    account: &Account,
    authentication: &Authentication,
    refresh_token: Option<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, OAuthError> {
    let subject = account.subject.to_string();
    let access_token = tokens::access_token(
        state,
        client,
        &subject,
        &authentication.scopes,
        Some(authentication),
        now,
    )?;
    let id_token = tokens::id_token(state, client, account, authentication, &access_token, now)?;
    Ok(tokens_json(&TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.lifetimes.access_token,
        scope: authentication.scopes.join(" "),
        id_token: Some(id_token),
        refresh_token,
    }))
}

/// A fresh refresh token when the client may use one.
fn new_refresh_token(client: &Client) -> Result<Option<String>, OAuthError> {
    if !client.allows_grant(GrantType::RefreshToken) {
        return Ok(None);
    }
    random::token()
        .map(Some)
        .map_err(|_| OAuthError::server_error())
}

/// A requested `scope` narrowed from what was granted (RFC 6749 §6), or all of it.
fn narrowed(requested: Option<&str>, granted: &[String]) -> Result<Vec<String>, OAuthError> {
    match requested {
        None => Ok(granted.to_vec()),
        Some(requested) => {
            let scopes: Vec<String> = requested
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if !scopes.is_empty() && scopes.iter().all(|s| granted.contains(s)) {
                Ok(scopes)
            } else {
                Err(OAuthError::bad_request(
                    "invalid_scope",
                    "scope exceeds what was granted",
                ))
            }
        }
    }
}

/// What a refresh found.
enum Refresh {
    Rotated(Box<(Account, RefreshToken, Vec<String>)>),
    Invalid(&'static str),
    /// Refused before the rotation: the presented token stays usable.
    Refused(OAuthError),
}

/// `refresh_token` (RFC 6749 §6): rotation on every use; a reused token revokes
/// its whole family and its session (OAuth 2.0 Security BCP §4.14.2).
async fn refresh(
    params: &HashMap<String, String>,
    client: Client,
    state: &web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    if !client.allows_grant(GrantType::RefreshToken) {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            "this client may not use this grant",
        ));
    }
    let presented = required(params, "refresh_token")?;
    let token_hash = state.secrets.hasher.hash(presented);
    let now = state.clock.now();
    let next = random::token().map_err(|_| OAuthError::server_error())?;
    let next_hash = state.secrets.hasher.hash(&next);
    let refresh_ttl = TimeDelta::seconds(client.lifetimes.refresh_token.into());
    let client_id = client.id.to_string();
    let requested_scope = params.get("scope").cloned();
    let metrics = state.metrics.clone();
    let store = state.store.clone();
    let outcome = web::block(move || {
        store.transaction(|tx| {
            let Some(stored) = tx.refresh_token_by_hash(&token_hash)? else {
                return Ok(Refresh::Invalid("the refresh token is invalid"));
            };
            if stored.client_id != client_id {
                return Ok(Refresh::Invalid(
                    "the refresh token was issued to another client",
                ));
            }
            if stored.revoked_at.is_some() {
                return Ok(Refresh::Invalid("the refresh token was revoked"));
            }
            // Checked before the token is marked used: a refused request must not burn
            // it (its next use would read as reuse and end the session).
            let scopes = match narrowed(requested_scope.as_deref(), &stored.scopes) {
                Ok(scopes) => scopes,
                Err(refusal) => return Ok(Refresh::Refused(refusal)),
            };
            if !tx.mark_refresh_token_used(&token_hash, now)? {
                // Used before: someone holds a copy. End the whole family and its session.
                tx.revoke_refresh_family(&stored.family_id, now)?;
                if let Some(mut session) = tx.session_by_id(&stored.session_id)? {
                    session.revoked_at.get_or_insert(now);
                    tx.update_session(&session)?;
                }
                tracing::warn!(client_id = %stored.client_id, "refresh token reuse: family revoked");
                metrics.refresh_reuse.inc();
                return Ok(Refresh::Invalid("the refresh token was already used"));
            }
            if now >= stored.expires_at {
                return Ok(Refresh::Invalid("the refresh token has expired"));
            }
            let Some(mut session) = tx
                .session_by_id(&stored.session_id)?
                .filter(|s| s.revoked_at.is_none())
            else {
                return Ok(Refresh::Invalid("the session has ended"));
            };
            // The account's session list shows when each device was last seen.
            session.last_seen_at = now;
            tx.update_session(&session)?;
            let Some(account) = tx
                .account_by_id(stored.account_id)?
                .filter(|a| a.status.can_log_in())
            else {
                return Ok(Refresh::Invalid("the account can no longer sign in"));
            };
            tx.insert_refresh_token(&RefreshToken {
                token_hash: next_hash.clone(),
                created_at: now,
                expires_at: now + refresh_ttl,
                used_at: None,
                revoked_at: None,
                ..stored.clone()
            })?;
            Ok(Refresh::Rotated(Box::new((account, stored, scopes))))
        })
    })
    .await
    .map_err(|_| OAuthError::server_error())?
    .map_err(|_| OAuthError::temporarily_unavailable())?;
    let (account, stored, scopes) = match outcome {
        Refresh::Rotated(rotated) => *rotated,
        Refresh::Invalid(why) => return Err(invalid_grant(why)),
        Refresh::Refused(refusal) => return Err(refusal),
    };
    let authentication = Authentication {
        scopes,
        claims: None,
        nonce: None,
        auth_time: stored.auth_time,
        amr: stored.amr.clone(),
        acr: stored.acr.clone(),
        sid: stored.session_id.clone(),
    };
    user_tokens(state, &client, &account, &authentication, Some(next), now)
}

/// `client_credentials` (RFC 6749 §4.4): a confidential client acting for itself.
fn client_credentials(
    params: &HashMap<String, String>,
    client: Client,
    state: &web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    if client.is_public() || !client.allows_grant(GrantType::ClientCredentials) {
        return Err(OAuthError::bad_request(
            "unauthorized_client",
            "this client may not use this grant",
        ));
    }
    let scopes = narrowed(params.get("scope").map(String::as_str), &client.scopes)?;
    let now = state.clock.now();
    let access_token =
        tokens::access_token(state, &client, client.id.as_str(), &scopes, None, now)?;
    Ok(tokens_json(&TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.lifetimes.access_token,
        scope: scopes.join(" "),
        id_token: None,
        refresh_token: None,
    }))
}
