//! The OpenID Connect / OAuth 2.0 endpoints. Their errors are RFC 6749 error JSON
//! (or redirects carrying it), never problem+json.

pub mod access;
pub mod access_claims;
pub mod authorize;
pub mod browser;
pub mod client_auth;
pub mod client_cache;
pub mod codes;
pub mod discovery;
pub mod dpop;
pub mod end_session;
pub mod error;
pub mod forms;
pub mod par;
pub mod presented;
pub mod redirect;
pub mod revoke;
pub mod token;
pub mod tokens;
pub mod userinfo;
pub mod verified_tokens;
