//! DPoP proofs (RFC 9449): checking one (§4.3), the server's nonces (§8), and the
//! ledger of used proofs (`jti`), shared by every instance through the database.

use actix_web::HttpRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use gatehouse_core::ports::{ClientAssertionLedger, RepositoryError};
use gatehouse_store::TransactionError;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, ThumbprintHash};
use serde::Deserialize;

use super::error::{OAuthError, OAuthErrorCode};
use crate::state::AppState;

/// The proof header (RFC 9449 §4.1) and the nonce header (§8).
pub const DPOP_HEADER: &str = "DPoP";
pub const NONCE_HEADER: &str = "DPoP-Nonce";

/// The algorithms a proof may be signed with (discovery's
/// `dpop_signing_alg_values_supported`): asymmetric ones only (§4.2).
pub const ALGS: [&str; 9] = [
    "ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA",
];

/// Members of a JWK that only a private or symmetric key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Longest accepted `jti` (the ledger keeps a hash, the proof is read whole anyway).
const MAX_JTI: usize = 256;

/// Why a proof is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `invalid_dpop_proof`, saying why.
    Invalid(&'static str),
    /// `use_dpop_nonce`: send this nonce in the proof.
    UseNonce(String),
}

/// A proof that passed every check but the replay ledger (§4.3).
#[derive(Clone, Debug)]
pub struct Proof {
    /// RFC 7638 SHA-256 thumbprint of the proof's key (`cnf.jkt`).
    pub jkt: String,
    /// The ledger's key for this proof, and how long it must be remembered.
    pub ledger_key: String,
    pub ledger_until: DateTime<chrono::Utc>,
}

#[derive(Debug, Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// The one `DPoP` header of a request: `Ok(None)` without one, `Err` with several.
pub fn header(req: &HttpRequest) -> Result<Option<String>, Refusal> {
    let mut values = req.headers().get_all(DPOP_HEADER);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Refusal::Invalid("send one DPoP header"));
    }
    first
        .to_str()
        .map(|v| Some(v.trim().to_owned()))
        .map_err(|_| Refusal::Invalid("the DPoP header is not a JWT"))
}

/// The server's URL for the endpoint `req` reached: the issuer and the path (§4.3:
/// `htu` without query and fragment).
pub fn htu_of(state: &AppState, req: &HttpRequest) -> String {
    format!("{}{}", state.config.server.issuer, req.path())
}

/// `htu` as compared: query and fragment dropped, scheme and host normalised.
fn normalised(url: &str) -> Option<String> {
    let mut parsed = url::Url::parse(url).ok()?;
    parsed.set_query(None);
    parsed.set_fragment(None);
    Some(parsed.to_string())
}

/// base64url(SHA-256(access token)): a proof's `ath` at a resource (§4.2).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        access_token.as_bytes(),
    ))
}

/// The nonce of the time bucket `bucket`: the bucket and its MAC.
fn nonce_of(state: &AppState, bucket: i64) -> String {
    format!(
        "{bucket}.{}",
        state.secrets.dpop_nonces.hash(&bucket.to_string())
    )
}

fn bucket_now(state: &AppState) -> i64 {
    let ttl = i64::from(state.config.dpop.nonce_ttl_seconds.max(1));
    state.clock.now().timestamp().div_euclid(ttl)
}

/// A fresh nonce (§8): good for this bucket and the next.
pub fn fresh_nonce(state: &AppState) -> String {
    nonce_of(state, bucket_now(state))
}

/// Whether `nonce` is one this server made for the current or the previous bucket.
fn nonce_valid(state: &AppState, nonce: &str) -> bool {
    let Some((bucket, mac)) = nonce.split_once('.') else {
        return false;
    };
    let Ok(bucket) = bucket.parse::<i64>() else {
        return false;
    };
    let now = bucket_now(state);
    (bucket == now || bucket == now - 1)
        && state.secrets.dpop_nonces.verify(&bucket.to_string(), mac)
}

/// The proof's header as sent, to see members the JWK type drops (private parts).
fn raw_header(proof: &str) -> Option<serde_json::Value> {
    let head = proof.split('.').next()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).ok()?).ok()
}

/// Checks `proof` for a request with method `htm` to `htu` (§4.3) and, at a
/// resource, `access_token` (its `ath`). The replay ledger is the caller's (it goes
/// in the transaction that issues tokens).
pub fn verify(
    state: &AppState,
    proof: &str,
    htm: &str,
    htu: &str,
    access_token: Option<&str>,
) -> Result<Proof, Refusal> {
    use Refusal::Invalid;
    let header = jsonwebtoken::decode_header(proof).map_err(|_| Invalid("not a signed JWT"))?;
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err(Invalid("typ must be dpop+jwt"));
    }
    use jsonwebtoken::Algorithm::{ES256, ES384, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512};
    if !matches!(
        header.alg,
        ES256 | ES384 | RS256 | RS384 | RS512 | PS256 | PS384 | PS512 | EdDSA
    ) {
        return Err(Invalid("unsupported alg"));
    }
    let jwk: Jwk = header.jwk.ok_or(Invalid("the header has no jwk"))?;
    let raw = raw_header(proof).ok_or(Invalid("not a signed JWT"))?;
    let private = raw
        .get("jwk")
        .and_then(|j| j.as_object())
        .is_none_or(|j| PRIVATE_MEMBERS.iter().any(|m| j.contains_key(*m)));
    if private || matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return Err(Invalid("the jwk must be a public key"));
    }
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|_| Invalid("bad jwk"))?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
        .map_err(|_| Invalid("the signature or the claims do not check out"))?
        .claims;
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI {
        return Err(Invalid("jti is missing or too long"));
    }
    if claims.htm != htm {
        return Err(Invalid("htm does not match the request"));
    }
    if normalised(&claims.htu).is_none() || normalised(&claims.htu) != normalised(htu) {
        return Err(Invalid("htu does not match the request"));
    }
    let window = i64::from(state.config.dpop.proof_max_age_seconds);
    let now = state.clock.now().timestamp();
    if (claims.iat - now).abs() > window {
        return Err(Invalid("iat is too far from the server's time"));
    }
    if let Some(token) = access_token {
        let expected = ath(token);
        if claims.ath.as_deref() != Some(expected.as_str()) {
            return Err(Invalid("ath does not match the access token"));
        }
    }
    if state.config.dpop.require_nonce
        && !claims
            .nonce
            .as_deref()
            .is_some_and(|n| nonce_valid(state, n))
    {
        return Err(Refusal::UseNonce(fresh_nonce(state)));
    }
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| Invalid("bad jwk"))?;
    let ledger_until = DateTime::from_timestamp(claims.iat + window + 1, 0)
        .ok_or(Invalid("iat is too far from the server's time"))?;
    Ok(Proof {
        ledger_key: format!(
            "dpop:{}",
            state.secrets.hasher.hash(&format!("{jkt}.{}", claims.jti))
        ),
        jkt,
        ledger_until,
    })
}

/// A refusal as `/token` answers it (400, RFC 9449 §5, §8).
pub fn token_error(refusal: Refusal) -> OAuthError {
    match refusal {
        Refusal::Invalid(why) => OAuthError::new(OAuthErrorCode::InvalidDpopProof, why),
        Refusal::UseNonce(nonce) => OAuthError::new(
            OAuthErrorCode::UseDpopNonce,
            "send the DPoP-Nonce in the proof",
        )
        .with_dpop_nonce(nonce),
    }
}

/// The proof of a request to `/token`, checked (not yet spent), if it has one.
pub fn at_token(state: &AppState, req: &HttpRequest) -> Result<Option<Proof>, OAuthError> {
    let Some(proof) = header(req).map_err(token_error)? else {
        return Ok(None);
    };
    verify(state, &proof, "POST", &htu_of(state, req), None)
        .map(Some)
        .map_err(token_error)
}

/// What a transaction that spends a proof may end with besides success.
#[derive(Debug)]
pub enum Spend {
    Store(RepositoryError),
    /// The proof was seen before (§11.1).
    Replayed,
}

impl From<RepositoryError> for Spend {
    fn from(e: RepositoryError) -> Self {
        Self::Store(e)
    }
}

impl TransactionError for Spend {
    fn into_repository(self) -> Result<RepositoryError, Self> {
        match self {
            Self::Store(e) => Ok(e),
            Self::Replayed => Err(self),
        }
    }
}

impl From<Spend> for OAuthError {
    fn from(spend: Spend) -> Self {
        match spend {
            Spend::Store(e) => e.into(),
            Spend::Replayed => replayed(),
        }
    }
}

pub fn replayed() -> OAuthError {
    OAuthError::new(
        OAuthErrorCode::InvalidDpopProof,
        "the DPoP proof was used before",
    )
}

/// Records the proof in the ledger (through `ledger`: a transaction or the store);
/// `Spend::Replayed` when it was there already. Last in a transaction: on PostgreSQL
/// the refused insert ends the transaction, which then rolls back.
pub fn spend(ledger: &impl ClientAssertionLedger, proof: Option<&Proof>) -> Result<(), Spend> {
    match proof {
        Some(p) if !ledger.use_client_assertion(&p.ledger_key, p.ledger_until)? => {
            Err(Spend::Replayed)
        }
        _ => Ok(()),
    }
}
