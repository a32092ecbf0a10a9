//! CORS for a UI on another origin of the same site (`[cors] allowed_origins`): the
//! REST API and the endpoints a browser-based application calls (`/token`,
//! `/userinfo`, `/revoke`, discovery, JWKS) answer preflights and carry
//! `Access-Control-Allow-Origin` (with credentials) for the listed origins only, never
//! `*`. Any other origin gets no CORS headers at all: its request is served as ever,
//! and the browser keeps the answer from the page.

use actix_cors::Cors;
use actix_web::http::header;

/// How long a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE_SECONDS: usize = 600;

/// The CORS middleware for `origins` (already validated: `scheme://host[:port]`).
pub fn middleware(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            header::HeaderName::from_static("x-request-id"),
            // RFC 9449: a browser-based client's proofs.
            header::HeaderName::from_static("dpop"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
            header::LOCATION,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("dpop-nonce"),
        ])
        .supports_credentials()
        .max_age(PREFLIGHT_MAX_AGE_SECONDS)
        // Another origin's request is served without CORS headers rather than refused
        // with 400: same-origin and non-browser clients never send a listed Origin.
        .block_on_origin_mismatch(false);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}
