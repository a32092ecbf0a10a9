//! `GET /jwks.json`: the public keys relying parties verify tokens with.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, get, web};

use crate::state::AppState;

/// The JSON Web Key Set: the active signing key of each algorithm, the next one
/// (published before it signs) and retired ones whose tokens may still be valid.
#[utoipa::path(
    tag = "oidc",
    responses((status = 200, description = "RFC 7517 JSON Web Key Set", content_type = "application/json",
        body = Object, example = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "…", "y": "…",
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
