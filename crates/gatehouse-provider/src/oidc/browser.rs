//! The browser-binding cookie: a random id that ties a login request (and later the
//! session) to the browser that started it, so a `login_challenge` copied to another
//! browser is useless there.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration};

use crate::crypto::{CryptoError, random};

pub const COOKIE: &str = "gatehouse_browser";

/// The provider's own session, set when a login finishes.
pub const SESSION_COOKIE: &str = "gatehouse_session";

/// The browser's id: the one it sent, or a fresh one (with the cookie to set).
pub fn identify(
    req: &HttpRequest,
    secure: bool,
) -> Result<(String, Option<Cookie<'static>>), CryptoError> {
    if let Some(existing) = presented(req) {
        return Ok((existing, None));
    }
    let id = random::token()?;
    let cookie = Cookie::build(COOKIE, id.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(Duration::days(400))
        .finish();
    Ok((id, Some(cookie)))
}

/// The id the browser presents, if any.
pub fn presented(req: &HttpRequest) -> Option<String> {
    req.cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| well_formed(v))
}

/// Our ids are 43 base64url characters; anything else is ignored.
fn well_formed(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
