//! RFC 6749 §5.2 error answers.

use actix_web::http::StatusCode;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// An OAuth 2.0 error (RFC 6749 §5.2, RFC 6750 §3.1 for bearer tokens).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OAuthError {
    #[schema(value_type = OAuthErrorCode)]
    pub error: String,
    /// What went wrong, for the developer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error_description: Option<String>,
    #[serde(skip)]
    status: u16,
    /// `WWW-Authenticate` for 401 answers.
    #[serde(skip)]
    challenge: Option<&'static str>,
}

/// The `error` codes this server answers: RFC 6749 §5.2 at the token endpoint (and
/// the others that authenticate clients), RFC 6750 §3.1 at `/userinfo`, and
/// `server_error` / `temporarily_unavailable` (RFC 6749 §4.1.2.1) anywhere.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
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
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &str, description: impl Into<String>) -> Self {
        Self {
            error: error.to_owned(),
            error_description: Some(description.into()),
            status: status.as_u16(),
            challenge: None,
        }
    }

    pub fn with_challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = Some(challenge);
        self
    }

    pub fn bad_request(error: &str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, description)
    }

    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server could not complete the request",
        )
    }

    pub fn temporarily_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "try again shortly",
        )
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        // RFC 6749 §5.1: responses carrying tokens or errors are never cached.
        res.insert_header(CacheControl(vec![CacheDirective::NoStore]));
        if let Some(challenge) = self.challenge {
            res.insert_header((actix_web::http::header::WWW_AUTHENTICATE, challenge));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE.as_u16() {
            // The answer is unknown, not "no": the client comes back.
            res.insert_header((
                actix_web::http::header::RETRY_AFTER,
                crate::problem::RETRY_UNAVAILABLE_SECONDS.to_string(),
            ));
        }
        res.json(self)
    }
}
