//! The access token a request to a protected resource presents: `Authorization:
//! Bearer` (RFC 6750 §2.1), or `Authorization: DPoP` with a `DPoP` proof of the key
//! the token is bound to (RFC 9449 §7). A bound token is never good as a plain
//! bearer token, nor an unbound one as a DPoP token.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use actix_web::web;

use super::access::{self, AccessClaims};
use super::dpop::{self, Refusal, Spend};
use crate::state::AppState;

/// Why a request's token is not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// No token at all.
    Missing,
    /// Invalid, expired or revoked, sent as `Bearer`.
    InvalidToken,
    /// Invalid, expired or revoked, or unbound, sent as `DPoP` (the challenge is DPoP's).
    InvalidDpopToken,
    /// A DPoP-bound token sent as `Bearer`.
    BoundAsBearer,
    /// The proof is missing, invalid, used before, or lacks the server's nonce.
    Proof(Refusal),
    /// The database did not answer.
    Unknown,
}

/// The `algs` a `DPoP` challenge names (RFC 9449 §7.1).
pub fn dpop_challenge(error: &str) -> String {
    format!("DPoP error=\"{error}\", algs=\"{}\"", dpop::ALGS.join(" "))
}

/// The token and whether it came with the `DPoP` scheme.
fn token(req: &HttpRequest) -> Option<(String, bool)> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Some((token.trim().to_owned(), false));
    }
    value
        .strip_prefix("DPoP ")
        .map(|token| (token.trim().to_owned(), true))
}

/// The live access token of `req`, checked with its DPoP proof when it is bound.
pub async fn verify(
    state: &web::Data<AppState>,
    req: &HttpRequest,
) -> Result<AccessClaims, Refused> {
    let (token, with_dpop) = token(req).ok_or(Refused::Missing)?;
    let claims = access::verify(state, &token)
        .await
        .map_err(|access::Unknown| Refused::Unknown)?
        .ok_or(if with_dpop {
            Refused::InvalidDpopToken
        } else {
            Refused::InvalidToken
        })?;
    let bound = claims.cnf.as_ref().map(|c| c.jkt.clone());
    let Some(bound) = bound else {
        return if with_dpop {
            Err(Refused::InvalidDpopToken)
        } else {
            Ok(claims)
        };
    };
    if !with_dpop {
        return Err(Refused::BoundAsBearer);
    }
    let proof = dpop::header(req)
        .map_err(Refused::Proof)?
        .ok_or(Refused::Proof(Refusal::Invalid("a DPoP proof is required")))?;
    let htu = dpop::htu_of(state, req);
    let proof = dpop::verify(state, &proof, req.method().as_str(), &htu, Some(&token))
        .map_err(Refused::Proof)?;
    if proof.jkt != bound {
        return Err(Refused::Proof(Refusal::Invalid(
            "the proof's key is not the token's",
        )));
    }
    let store = state.store.clone();
    match web::block(move || dpop::spend(&store, Some(&proof))).await {
        Ok(Ok(())) => Ok(claims),
        Ok(Err(Spend::Replayed)) => Err(Refused::Proof(Refusal::Invalid(
            "the DPoP proof was used before",
        ))),
        Ok(Err(Spend::Store(e))) => {
            tracing::warn!(error = %e, "recording a DPoP proof failed");
            Err(Refused::Unknown)
        }
        Err(e) => {
            tracing::error!(error = %e, "the blocking pool lost a DPoP proof");
            Err(Refused::Unknown)
        }
    }
}
