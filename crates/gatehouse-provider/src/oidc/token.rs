//! `POST /token` (RFC 6749 §3.2): exchanging an authorization code (with PKCE) for tokens.

use actix_web::http::header::{CONTENT_TYPE, CacheControl, CacheDirective, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, post, web};
use gatehouse_core::grant::AuthorizationCode;
use gatehouse_core::ports::{AccountRepository, AuthorizationCodeRepository, SessionRepository};
use gatehouse_core::{Account, Client, GrantType};
use std::collections::HashMap;

use super::client_auth::authenticate;
use super::error::OAuthError;
use super::pkce;
use super::tokens::{self, Authentication, TokenResponse};
use crate::state::AppState;

fn form(req: &HttpRequest, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
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

/// The token endpoint. Grants: `authorization_code` (PKCE S256 required).
#[utoipa::path(
    tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded", content = String,
        description = "grant_type=authorization_code&code=…&redirect_uri=…&code_verifier=… (client authentication as registered)"),
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
            match tx.account_by_id(code.account_id)? {
                Some(account) if account.status.can_log_in() => {
                    Ok(Exchange::Issued(Box::new((account, code))))
                }
                _ => Ok(Exchange::Invalid("the account can no longer sign in")),
            }
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
    let authentication = Authentication {
        scopes: code.scopes.clone(),
        nonce: code.nonce.clone(),
        auth_time: code.auth_time,
        amr: code.amr.clone(),
        acr: code.acr.clone(),
        sid: code.session_id.clone(),
    };
    let subject = account.subject.to_string();
    let access_token = tokens::access_token(
        state,
        &client,
        &subject,
        &code.scopes,
        Some(&authentication),
        now,
    )?;
    let id_token = tokens::id_token(
        state,
        &client,
        &account,
        &authentication,
        &access_token,
        now,
    )?;
    Ok(tokens_json(&TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.lifetimes.access_token,
        scope: code.scopes.join(" "),
        id_token: Some(id_token),
        refresh_token: None,
    }))
}
