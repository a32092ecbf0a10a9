//! Client authentication at the token endpoint (RFC 6749 §2.3, OIDC Core §9):
//! `client_secret_basic`, `client_secret_post`, and `none` for public clients, each
//! accepted only when it is the method the client registered.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::ports::ClientRepository;
use gatehouse_core::{Client, ClientId, TokenEndpointAuthMethod};
use std::collections::HashMap;

use super::error::OAuthError;
use crate::state::AppState;

/// The credentials a request presents.
#[derive(Debug)]
struct Presented {
    client_id: String,
    secret: Option<String>,
    method: TokenEndpointAuthMethod,
}

fn invalid_client(basic: bool) -> OAuthError {
    let status = StatusCode::UNAUTHORIZED;
    let mut error = OAuthError::new(status, "invalid_client", "client authentication failed");
    if basic {
        error = error.with_challenge("Basic realm=\"gatehouse\"");
    }
    error
}

fn presented(req: &HttpRequest, form: &HashMap<String, String>) -> Result<Presented, OAuthError> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) {
        if form.contains_key("client_secret") {
            return Err(OAuthError::bad_request(
                "invalid_request",
                "use one client authentication method",
            ));
        }
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| invalid_client(true))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| invalid_client(true))?;
        // RFC 6749 §2.3.1: both halves are form-urlencoded before encoding.
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let client_id = decode(id);
        if form.get("client_id").is_some_and(|f| *f != client_id) {
            return Err(invalid_client(true));
        }
        return Ok(Presented {
            client_id,
            secret: Some(decode(secret)),
            method: TokenEndpointAuthMethod::ClientSecretBasic,
        });
    }
    let client_id = form.get("client_id").cloned().ok_or_else(|| {
        OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication is required",
        )
    })?;
    match form.get("client_secret") {
        Some(secret) => Ok(Presented {
            client_id,
            secret: Some(secret.clone()),
            method: TokenEndpointAuthMethod::ClientSecretPost,
        }),
        None => Ok(Presented {
            client_id,
            secret: None,
            method: TokenEndpointAuthMethod::None,
        }),
    }
}

/// The authenticated client, or `invalid_client`. Unknown clients and wrong secrets
/// get the same answer.
pub async fn authenticate(
    req: &HttpRequest,
    form: &HashMap<String, String>,
    state: &AppState,
) -> Result<Client, OAuthError> {
    let presented = presented(req, form)?;
    let basic = presented.method == TokenEndpointAuthMethod::ClientSecretBasic;
    let Ok(id) = ClientId::parse(&presented.client_id) else {
        return Err(invalid_client(basic));
    };
    let store = state.store.clone();
    let client = actix_web::web::block(move || store.client_by_id(&id))
        .await
        .map_err(|_| OAuthError::server_error())?
        .map_err(|_| OAuthError::temporarily_unavailable())?;
    let Some(client) = client else {
        return Err(invalid_client(basic));
    };
    if client.auth_method != presented.method {
        return Err(invalid_client(basic));
    }
    if presented.method.uses_secret() {
        let ok = match (&presented.secret, &client.secret_hash) {
            (Some(secret), Some(hash)) => state.secrets.hasher.verify(secret, hash),
            _ => false,
        };
        if !ok {
            return Err(invalid_client(basic));
        }
    }
    Ok(client)
}
