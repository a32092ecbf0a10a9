//! RFC 6749 §5.2 (and RFC 6750 §3.1) error answers: the codes, the status each one
//! answers with, and where a lower error (the store, the blocking pool) becomes one,
//! its cause logged once, here, in the request's span (which carries the request id).

use actix_web::error::BlockingError;
use actix_web::http::StatusCode;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, ResponseError, web};
use gatehouse_core::grant::{CodeRefusal, RefreshRefusal};
use gatehouse_core::ports::RepositoryError;
use serde::Serialize;

use crate::crypto::CryptoError;
use std::borrow::Cow;
use utoipa::ToSchema;

/// An OAuth 2.0 error (RFC 6749 §5.2, RFC 6750 §3.1 for bearer tokens).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OAuthError {
    pub error: OAuthErrorCode,
    /// What went wrong, for the developer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error_description: Option<String>,
    #[serde(skip)]
    status: StatusCode,
    /// `WWW-Authenticate` for 401 (and RFC 6750's 403) answers.
    #[serde(skip)]
    challenge: Option<Cow<'static, str>>,
    /// `DPoP-Nonce` (RFC 9449 §8) for a `use_dpop_nonce` answer.
    #[serde(skip)]
    dpop_nonce: Option<String>,
}

/// The `error` codes this server answers: RFC 6749 §5.2 at the token endpoint (and
/// the others that authenticate clients), RFC 6750 §3.1 at `/userinfo`, and
/// `server_error` / `temporarily_unavailable` (RFC 6749 §4.1.2.1) anywhere; the
/// authorization errors RFC 9126 §2.3 lets the PAR endpoint answer, `invalid_request_uri`
/// (RFC 9126 §4) and DPoP's own (RFC 9449 §5, §7.1, §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    InvalidToken,
    InsufficientScope,
    ServerError,
    TemporarilyUnavailable,
    UnsupportedResponseType,
    RequestNotSupported,
    InvalidRequestUri,
    InvalidDpopProof,
    UseDpopNonce,
}

impl OAuthErrorCode {
    pub const ALL: &'static [Self] = &[
        Self::InvalidRequest,
        Self::InvalidClient,
        Self::InvalidGrant,
        Self::UnauthorizedClient,
        Self::UnsupportedGrantType,
        Self::InvalidScope,
        Self::InvalidToken,
        Self::InsufficientScope,
        Self::ServerError,
        Self::TemporarilyUnavailable,
        Self::UnsupportedResponseType,
        Self::RequestNotSupported,
        Self::InvalidRequestUri,
        Self::InvalidDpopProof,
        Self::UseDpopNonce,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::RequestNotSupported => "request_not_supported",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// The code named `name`, if it is one of these.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// The status each code answers with: RFC 6749 §5.2 (400, and 401 for a client
    /// that failed to authenticate; the caller adds the challenge when the client
    /// used HTTP Basic), RFC 6750 §3.1 (401 `invalid_token`, 403
    /// `insufficient_scope`), and 500 / 503 for the server's own failures.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InvalidRequest
            | Self::InvalidGrant
            | Self::UnauthorizedClient
            | Self::UnsupportedGrantType
            | Self::InvalidScope
            | Self::UnsupportedResponseType
            | Self::RequestNotSupported
            | Self::InvalidRequestUri
            | Self::InvalidDpopProof
            | Self::UseDpopNonce => StatusCode::BAD_REQUEST,
        }
    }
}

impl OAuthError {
    /// An error with its code's status and a description for the developer.
    pub fn new(error: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: Some(description.into()),
            status: error.status(),
            challenge: None,
            dpop_nonce: None,
        }
    }

    /// An error with no description (RFC 6750 §3.1 answers name the code only).
    pub fn bare(error: OAuthErrorCode) -> Self {
        Self {
            error_description: None,
            ..Self::new(error, "")
        }
    }

    pub fn with_dpop_nonce(mut self, nonce: String) -> Self {
        self.dpop_nonce = Some(nonce);
        self
    }

    pub fn with_challenge(mut self, challenge: impl Into<Cow<'static, str>>) -> Self {
        self.challenge = Some(challenge.into());
        self
    }

    /// RFC 6750 §3.1: a request with no credentials at all is answered 401 (with a
    /// bare `Bearer` challenge), whatever its code's own status.
    pub fn unauthenticated(mut self) -> Self {
        self.status = StatusCode::UNAUTHORIZED;
        self
    }

    /// The client is registered without this grant (RFC 6749 §5.2).
    pub fn unauthorized_client() -> Self {
        Self::new(
            OAuthErrorCode::UnauthorizedClient,
            "this client may not use this grant",
        )
    }

    pub fn server_error() -> Self {
        Self::new(
            OAuthErrorCode::ServerError,
            "the server could not complete the request",
        )
    }

    pub fn temporarily_unavailable() -> Self {
        Self::new(OAuthErrorCode::TemporarilyUnavailable, "try again shortly")
    }
}

/// A code that is not exchanged: `invalid_grant`, saying why.
impl From<CodeRefusal> for OAuthError {
    fn from(refusal: CodeRefusal) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, refusal.to_string())
    }
}

/// A refresh token that is not exchanged: `invalid_scope` for a scope wider than the
/// grant (RFC 6749 §5.2), `invalid_dpop_proof` without a proof of the key it is bound
/// to, `invalid_grant` for everything else, saying why.
impl From<RefreshRefusal> for OAuthError {
    fn from(refusal: RefreshRefusal) -> Self {
        let code = match refusal {
            RefreshRefusal::ScopeExceeded => OAuthErrorCode::InvalidScope,
            RefreshRefusal::OtherDpopKey => OAuthErrorCode::InvalidDpopProof,
            RefreshRefusal::Unknown
            | RefreshRefusal::OtherClient
            | RefreshRefusal::Revoked
            | RefreshRefusal::Reused
            | RefreshRefusal::Expired
            | RefreshRefusal::SessionEnded
            | RefreshRefusal::AccountCannotSignIn => OAuthErrorCode::InvalidGrant,
        };
        Self::new(code, refusal.to_string())
    }
}

/// The database did not answer: the cause goes to the log, the client hears 503 and
/// comes back (never a "no": the answer is unknown).
impl From<RepositoryError> for OAuthError {
    fn from(e: RepositoryError) -> Self {
        tracing::warn!(error = %e, "the database failed an OAuth request");
        Self::temporarily_unavailable()
    }
}

/// The crypto backend failed (no randomness, a seal that would not close): nothing a
/// client can change.
impl From<CryptoError> for OAuthError {
    fn from(e: CryptoError) -> Self {
        tracing::error!(error = %e, "the crypto backend failed an OAuth request");
        Self::server_error()
    }
}

/// The blocking pool lost the task (it panicked or the pool is shut down).
impl From<BlockingError> for OAuthError {
    fn from(e: BlockingError) -> Self {
        tracing::error!(error = %e, "a blocking task of an OAuth request failed");
        Self::server_error()
    }
}

/// Runs store work on the blocking pool: a store failure is 503
/// `temporarily_unavailable`, a lost task 500 `server_error`, each logged once.
pub async fn blocking<T: Send + 'static, E: Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, OAuthError>
where
    OAuthError: From<E>,
{
    Ok(web::block(work).await??)
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.error.as_str())
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        // RFC 6749 §5.1: responses carrying tokens or errors are never cached.
        res.insert_header(CacheControl(vec![CacheDirective::NoStore]));
        if let Some(challenge) = &self.challenge {
            res.insert_header((
                actix_web::http::header::WWW_AUTHENTICATE,
                challenge.as_ref(),
            ));
        }
        if let Some(nonce) = &self.dpop_nonce {
            res.insert_header((super::dpop::NONCE_HEADER, nonce.as_str()));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // The answer is unknown, not "no": the client comes back.
            res.insert_header((
                actix_web::http::header::RETRY_AFTER,
                crate::problem::RETRY_UNAVAILABLE_SECONDS.to_string(),
            ));
        }
        res.json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_written_as_its_name_and_parses_back() {
        for code in OAuthErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::Value::from(code.as_str()));
            assert_eq!(OAuthErrorCode::parse(code.as_str()), Some(*code));
        }
    }

    #[test]
    fn the_wire_format_is_rfc_6749s() {
        let error = OAuthError::new(OAuthErrorCode::InvalidGrant, "the code has expired");
        assert_eq!(
            serde_json::to_string(&error).unwrap(),
            r#"{"error":"invalid_grant","error_description":"the code has expired"}"#
        );
        assert_eq!(error.status_code(), StatusCode::BAD_REQUEST);
        let bare = OAuthError::bare(OAuthErrorCode::InsufficientScope);
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"error":"insufficient_scope"}"#
        );
        assert_eq!(bare.status_code(), StatusCode::FORBIDDEN);
    }
}
