//! Checking access tokens this server issued: signature (any published key), `typ`
//! `at+jwt` (RFC 9068 §4), issuer, audience, expiry, then revocation: the token's own
//! `jti`, and the session it was issued under.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use actix_web::web;
use gatehouse_core::ports::{AccessTokenRevocations, SessionRepository};

pub use super::access_claims::AccessClaims;
use crate::state::AppState;

/// The database did not answer: whether a token is live is unknown (never "no": an
/// RP that hears "revoked" throws its tokens away).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unknown;

/// Signature and claims, without the database (a token verified before is not
/// verified again until it expires). A token signed by a key this instance has not
/// loaded yet (another instance made it a moment ago) makes it reload its keys first,
/// at most once per `KeyRing::MISS_RELOAD_EVERY`.
pub async fn decode(state: &AppState, token: &str) -> Option<AccessClaims> {
    let now = state.clock.now().timestamp();
    if let Some(claims) = state
        .verified_tokens
        .get(token, now, |kid| state.keys.knows(kid))
    {
        return Some(claims);
    }
    let (kid, claims) = match verify_signature(state, token, now) {
        Verified::Valid(kid, claims) => (kid, claims),
        Verified::Invalid => return None,
        Verified::UnknownKey => {
            if !state.keys.may_reload_for_unknown_key() {
                return None;
            }
            let keys = state.keys.clone();
            match web::block(move || keys.reload()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "reloading signing keys for an unknown kid failed");
                    return None;
                }
                Err(e) => {
                    tracing::error!(error = %e, "the blocking pool lost a signing key reload");
                    return None;
                }
            }
            match verify_signature(state, token, now) {
                Verified::Valid(kid, claims) => (kid, claims),
                Verified::Invalid | Verified::UnknownKey => return None,
            }
        }
    };
    state.verified_tokens.put(token, &kid, &claims, now);
    Some(*claims)
}

enum Verified {
    Valid(String, Box<AccessClaims>),
    /// Signed by no key this instance knows (yet).
    UnknownKey,
    Invalid,
}

/// The key id and claims of a token whose signature and claims check out, and that
/// has not expired at `now` (Unix seconds).
fn verify_signature(state: &AppState, token: &str, now: i64) -> Verified {
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return Verified::Invalid;
    };
    if header.typ.as_deref() != Some("at+jwt") {
        return Verified::Invalid;
    }
    let Some(kid) = header.kid else {
        return Verified::Invalid;
    };
    let Some((key, alg)) = state.keys.verifier(&kid) else {
        return Verified::UnknownKey;
    };
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_issuer(&[&state.config.server.issuer]);
    validation.set_audience(&[&state.config.server.issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 0;
    // Expiry by the server's clock, as everywhere else (and as the cache of verified
    // tokens does), not by the library's reading of the system time.
    validation.validate_exp = false;
    match jsonwebtoken::decode::<AccessClaims>(token, &key, &validation) {
        Ok(data) if data.claims.exp > now => Verified::Valid(kid, Box::new(data.claims)),
        Ok(_) | Err(_) => Verified::Invalid,
    }
}

/// A live access token: valid, not revoked, and its session (if any) not ended;
/// `Err(Unknown)` when the database could not say.
pub async fn verify(
    state: &web::Data<AppState>,
    token: &str,
) -> Result<Option<AccessClaims>, Unknown> {
    match decode(state, token).await {
        Some(claims) => live(state, claims).await,
        None => Ok(None),
    }
}

/// The claims of a token already decoded, if it is still alive: neither revoked by its
/// `jti` nor dead with its session. `Err(Unknown)` when the database did not answer.
pub async fn live(
    state: &web::Data<AppState>,
    claims: AccessClaims,
) -> Result<Option<AccessClaims>, Unknown> {
    let store = state.store.clone();
    let (jti, sid) = (claims.jti.clone(), claims.sid.clone());
    let live = web::block(
        move || -> Result<bool, gatehouse_core::ports::RepositoryError> {
            if store.is_access_token_revoked(&jti)? {
                return Ok(false);
            }
            match sid {
                Some(sid) => Ok(store
                    .session_by_id(&sid)?
                    .is_some_and(|s| s.revoked_at.is_none())),
                None => Ok(true),
            }
        },
    )
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "the blocking pool lost a revocation check");
        Unknown
    })?
    .map_err(|e| {
        tracing::warn!(error = %e, "checking an access token's revocation failed");
        Unknown
    })?;
    Ok(live.then_some(claims))
}

/// The bearer token of a request (RFC 6750 §2.1 header, or §2.2 form body).
pub fn bearer(req: &HttpRequest) -> Option<String> {
    credentials(req, "Bearer").map(str::to_owned)
}

/// What `req`'s `Authorization` header carries under `scheme`, whatever the scheme's
/// case (RFC 9110 §11.1: `bearer`, `BASIC` and `Bearer` are one scheme).
pub fn credentials<'r>(req: &'r HttpRequest, scheme: &str) -> Option<&'r str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}
