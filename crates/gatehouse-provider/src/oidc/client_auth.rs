//! Client authentication at the token endpoint, and the others that authenticate
//! clients (`/revoke`, `/introspect`, `/par`) (RFC 6749 §2.3, OIDC Core §9):
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523, signed
//! with a key from the client's registered JWKS) and `none` for public clients, each
//! accepted only when it is the method the client registered.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::ports::ClientAssertionLedger;
use gatehouse_core::{Client, ClientId, TokenEndpointAuthMethod};
use std::collections::HashMap;

use super::error::{OAuthError, OAuthErrorCode, blocking};
use crate::state::AppState;

/// The credentials a request presents.
#[derive(Debug)]
struct Presented {
    client_id: String,
    secret: Option<String>,
    assertion: Option<String>,
    method: TokenEndpointAuthMethod,
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug, serde::Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: i64,
    iat: i64,
    jti: String,
}

/// Longest an assertion may live, from its `iat` to its `exp`: it is made for one
/// request, and the replay ledger keeps each one until it expires.
const MAX_ASSERTION_LIFETIME: i64 = 300;
/// Clock skew allowed around `iat` and `exp` (jsonwebtoken's default leeway).
const LEEWAY: i64 = 60;

/// The client an assertion names (its `sub`), read before the signature is checked
/// only to find the client whose keys will check it.
fn assertion_subject(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("sub")?.as_str().map(str::to_owned)
}

/// RFC 7523 §3: signed by one of the client's keys, `iss` = `sub` = client id, our
/// token endpoint (or issuer) in `aud`, not expired, issued (`iat`) at most
/// `MAX_ASSERTION_LIFETIME` before its `exp`, and never seen before. `Err` when the
/// replay ledger did not answer: whether the assertion was seen is unknown, and a
/// client told `invalid_client` would think its key is wrong.
async fn verify_assertion(
    client: &Client,
    assertion: &str,
    state: &AppState,
) -> Result<bool, OAuthError> {
    let Some(claims) = verified_claims(client, assertion, state) else {
        return Ok(false);
    };
    // Kept in the ledger as long as the assertion could still be accepted.
    let Some(expires) = chrono::DateTime::from_timestamp(claims.exp + LEEWAY, 0) else {
        return Ok(false);
    };
    let store = state.store.clone();
    blocking(move || store.use_client_assertion(&claims.jti, expires)).await
}

/// The claims of an assertion signed by one of the client's keys and valid now (all of
/// RFC 7523 §3 but the replay check).
fn verified_claims(client: &Client, assertion: &str, state: &AppState) -> Option<AssertionClaims> {
    let set = serde_json::from_str::<jsonwebtoken::jwk::JwkSet>(client.jwks.as_deref()?).ok()?;
    let header = jsonwebtoken::decode_header(assertion).ok()?;
    // Public-key algorithms only: a shared-secret MAC has no place in a client's JWKS.
    use jsonwebtoken::Algorithm::{ES256, ES384, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512};
    if !matches!(
        header.alg,
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 | ES256 | ES384 | EdDSA
    ) {
        return None;
    }
    let candidates: Vec<&jsonwebtoken::jwk::Jwk> = match header.kid.as_deref() {
        Some(kid) => set.find(kid).into_iter().collect(),
        None => set.keys.iter().collect(),
    };
    let issuer = &state.config.server.issuer;
    let audiences = [format!("{issuer}/token"), issuer.clone()];
    let claims = candidates.into_iter().find_map(|jwk| {
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).ok()?;
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&audiences);
        validation.set_issuer(&[client.id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        validation.leeway = LEEWAY.unsigned_abs();
        jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
            .ok()
            .map(|data| data.claims)
    })?;
    if claims.sub != client.id.as_str() || claims.iss != claims.sub || claims.jti.is_empty() {
        return None;
    }
    let lifetime = claims.exp.saturating_sub(claims.iat);
    let now = state.clock.now().timestamp();
    if lifetime <= 0 || lifetime > MAX_ASSERTION_LIFETIME || claims.iat > now + LEEWAY {
        return None;
    }
    Some(claims)
}

fn invalid_client(basic: bool) -> OAuthError {
    let mut error = OAuthError::new(
        OAuthErrorCode::InvalidClient,
        "client authentication failed",
    );
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
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
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
            assertion: None,
            method: TokenEndpointAuthMethod::ClientSecretBasic,
        });
    }
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER)
            || form.contains_key("client_secret")
        {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "client_assertion_type must be jwt-bearer",
            ));
        }
        let client_id = assertion_subject(assertion).ok_or_else(|| invalid_client(false))?;
        if form.get("client_id").is_some_and(|f| *f != client_id) {
            return Err(invalid_client(false));
        }
        return Ok(Presented {
            client_id,
            secret: None,
            assertion: Some(assertion.clone()),
            method: TokenEndpointAuthMethod::PrivateKeyJwt,
        });
    }
    let client_id = form.get("client_id").cloned().ok_or_else(|| {
        OAuthError::new(
            OAuthErrorCode::InvalidClient,
            "client authentication is required",
        )
    })?;
    match form.get("client_secret") {
        Some(secret) => Ok(Presented {
            client_id,
            secret: Some(secret.clone()),
            assertion: None,
            method: TokenEndpointAuthMethod::ClientSecretPost,
        }),
        None => Ok(Presented {
            client_id,
            secret: None,
            assertion: None,
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
    let client = state.clients.load(&state.store, id).await?;
    let Some(client) = client else {
        return Err(invalid_client(basic));
    };
    if client.auth_method != presented.method {
        return Err(invalid_client(basic));
    }
    if let Some(assertion) = &presented.assertion
        && !verify_assertion(&client, assertion, state).await?
    {
        return Err(invalid_client(false));
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
