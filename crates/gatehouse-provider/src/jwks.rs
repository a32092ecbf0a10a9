//! `GET /jwks.json`: the public keys relying parties verify tokens with.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::state::AppState;

/// A JSON Web Key Set (RFC 7517 §5) of this server's token-signing keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// The public half of a signing key (RFC 7517 §4), as stored when the key was made.
/// Its members depend on `kty` (RFC 7518 §6, RFC 8037 §2): `RSA` has `n` and `e`,
/// `EC` has `crv`, `x` and `y`, `OKP` has `crv` and `x`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    pub kty: JwkKeyType,
    /// The curve of an `EC` or `OKP` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub crv: Option<JwkCurve>,
    /// `EC`: the point's x coordinate; `OKP`: the public key (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub x: Option<String>,
    /// `EC`: the point's y coordinate (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub y: Option<String>,
    /// `RSA`: the modulus (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub n: Option<String>,
    /// `RSA`: the public exponent (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub e: Option<String>,
    /// The key's RFC 7638 thumbprint: the `kid` in the header of the tokens it signs.
    pub kid: String,
    /// Always `sig`: these keys only sign.
    #[serde(rename = "use")]
    pub key_use: JwkUse,
    /// The one JWS algorithm the key signs with.
    pub alg: SigningAlgName,
}

/// `kty`: the key types of the signing algorithms (RS256, ES256, EdDSA).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
pub enum JwkKeyType {
    #[serde(rename = "RSA")]
    Rsa,
    #[serde(rename = "EC")]
    Ec,
    #[serde(rename = "OKP")]
    Okp,
}

/// `crv`: P-256 for ES256, Ed25519 for EdDSA.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
pub enum JwkCurve {
    #[serde(rename = "P-256")]
    P256,
    #[serde(rename = "Ed25519")]
    Ed25519,
}

/// `use`: what the key is for.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
pub enum JwkUse {
    #[serde(rename = "sig")]
    Sig,
}

/// A JWS `alg` this server signs with: of a key in the JWKS, of a client's ID tokens
/// (`id_token_signed_response_alg`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
pub enum SigningAlgName {
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "ES256")]
    Es256,
    #[serde(rename = "EdDSA")]
    EdDsa,
}

/// The JSON Web Key Set: the active signing key of each algorithm, the next one
/// (published before it signs) and retired ones whose tokens may still be valid.
#[utoipa::path(
    tag = "oidc",
    responses((status = 200, description = "RFC 7517 JSON Web Key Set", content_type = "application/json",
        body = JwkSet, example = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "…", "y": "…",
            "kid": "…", "use": "sig", "alg": "ES256"}]})))
)]
#[get("/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        // Short enough that a rotation reaches caches before the next key signs.
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(300),
        ]))
        .body(state.keys.jwks_json().to_string())
}
