//! RFC 9457 problem details: every REST API error, with a stable machine-readable `code`.

pub mod codes;

pub use codes::ProblemCode;

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use gatehouse_core::ports::RepositoryError;
use gatehouse_store::TransactionError;
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer of the REST API (`application/problem+json`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:gatehouse:problem:{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short, human-readable summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for a human.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub detail: Option<String>,
    /// Stable machine-readable code, e.g. `password_policy`, `factor_retired`, `not_found`;
    /// each answer lists the ones it gives.
    pub code: ProblemCode,
    /// Problem-specific members (RFC 9457 §3.2), e.g. `attempts_left`.
    // Boxed: most problems have none, and errors travel by value. The document shows
    // the members `with_extension` sets as `ProblemMembers`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = ProblemMembers)]
    pub extensions: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

/// The problem-specific members (RFC 9457 §3.2) the server sets, each only on the
/// problems named. A client ignores a member it does not know.
#[derive(Debug, ToSchema)]
pub struct ProblemMembers {
    /// `otp_invalid`, `current_password_invalid`, `push_number_mismatch`: wrong
    /// answers left before the code, the factor or the login is refused.
    #[schema(nullable = false)]
    pub attempts_left: Option<u32>,
    /// `rate_limited`, `otp_send_limit`, `push_send_limit`, `database_unavailable`, `busy`:
    /// seconds to wait before trying again (also in `Retry-After`).
    #[schema(nullable = false)]
    pub retry_after: Option<i64>,
    /// `invalid_fields`: every refused field of the request.
    #[schema(nullable = false)]
    pub fields: Option<Vec<InvalidField>>,
    /// `password_policy`: the codes of every rule the password breaks (`too_short`,
    /// `too_long`, `needs_uppercase`, `needs_lowercase`, `needs_digit`,
    /// `needs_special`, `forbidden_character`, `mismatch`).
    #[schema(nullable = false)]
    pub violations: Option<Vec<String>>,
    /// `factor_not_available`: the second-factor kinds that can be chosen (and `later`).
    #[schema(nullable = false)]
    pub choices: Option<Vec<String>>,
    /// `reauthentication_required`: how recent (seconds) the login behind the token
    /// must be; authorize again with this `max_age`.
    #[schema(nullable = false)]
    pub max_age: Option<i64>,
    /// `insufficient_scope`: the scope the token lacks.
    #[schema(nullable = false)]
    pub scope: Option<String>,
    /// `payload_too_large` of an import: the largest body taken, in bytes.
    #[schema(nullable = false)]
    pub limit: Option<u64>,
    /// `factor_not_enrollable`: why this kind cannot be added.
    #[schema(nullable = false)]
    pub reason: Option<String>,
    /// `login_request_expired`, `login_request_completed`: the way back to the
    /// application, the client's redirect URI with `error=access_denied`,
    /// `error_description`, the request's `state` and `iss` (RFC 9207). Absent when
    /// the client or its redirect URI is no longer registered.
    #[schema(nullable = false, format = "uri")]
    pub return_to: Option<String>,
}

/// A refused member of a request body.
#[derive(Debug, ToSchema)]
pub struct InvalidField {
    /// The member, e.g. `given_name`, `email`.
    pub field: String,
    /// Why: `name_invalid`, `locale_invalid`, `zoneinfo_invalid`, `type_invalid`,
    /// `read_only`, `unknown_field`, `email_invalid`, `email_missing`, `email_unchanged`.
    pub code: String,
}

/// When to try again after the database did not answer.
pub const RETRY_UNAVAILABLE_SECONDS: u64 = 2;

impl Problem {
    /// A problem with its code's status.
    pub fn new(code: ProblemCode, title: &str) -> Self {
        Self {
            kind: format!("urn:gatehouse:problem:{code}"),
            title: title.to_owned(),
            status: code.status().as_u16(),
            detail: None,
            code,
            extensions: None,
        }
    }

    pub fn with_extension(mut self, name: &str, value: serde_json::Value) -> Self {
        self.extensions
            .get_or_insert_with(Default::default)
            .insert(name.to_owned(), value);
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn not_found() -> Self {
        Self::new(ProblemCode::NotFound, "Not found")
    }

    pub fn internal() -> Self {
        Self::new(ProblemCode::InternalError, "Internal server error")
    }

    /// 503 `database_unavailable`: the store did not answer. The answer is unknown,
    /// never "no": retry after `Retry-After` seconds.
    pub fn database_unavailable() -> Self {
        Self::new(
            ProblemCode::DatabaseUnavailable,
            "The database cannot be reached",
        )
        .with_extension("retry_after", RETRY_UNAVAILABLE_SECONDS.into())
    }

    /// The problem a bare framework error response stands for.
    fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::not_found(),
            StatusCode::METHOD_NOT_ALLOWED => {
                Self::new(ProblemCode::MethodNotAllowed, "Method not allowed")
            }
            StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(ProblemCode::PayloadTooLarge, "Request body too large")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Self::new(ProblemCode::UnsupportedMediaType, "Unsupported media type")
            }
            s if s.is_server_error() => Self::internal(),
            // The one code whose status is not its own: a rarer 4xx of the framework
            // (408, 414, 431, …) keeps its status and reads as a bad request.
            s => Self {
                status: s.as_u16(),
                ..Self::new(
                    ProblemCode::InvalidRequest,
                    s.canonical_reason().unwrap_or("Bad request"),
                )
            },
        }
    }

    fn response(&self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut answer = HttpResponse::build(status);
        answer.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        // A throttled answer says when to come back in the header too (RFC 9110 §10.2.3).
        if let Some(seconds) = self
            .extensions
            .as_ref()
            .and_then(|e| e.get("retry_after"))
            .and_then(serde_json::Value::as_u64)
        {
            answer.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        answer.json(self)
    }
}

/// How a handler's work ends when it does not commit: a refusal, answered as it is,
/// or a store failure, retried by `Store::transaction_with` when it lost a race and
/// otherwise answered 503 with its cause logged once, here at the edge.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Refused(Box<Problem>),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl Failure {
    pub fn refused(code: ProblemCode, title: &str) -> Self {
        Self::Refused(Box::new(Problem::new(code, title)))
    }
}

impl From<Problem> for Failure {
    fn from(problem: Problem) -> Self {
        Self::Refused(Box::new(problem))
    }
}

impl TransactionError for Failure {
    fn into_repository(self) -> Result<RepositoryError, Self> {
        match self {
            Self::Repository(e) => Ok(e),
            refused @ Self::Refused(_) => Err(refused),
        }
    }
}

impl From<Failure> for Problem {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Refused(problem) => *problem,
            Failure::Repository(e) => e.into(),
        }
    }
}

/// The database did not answer as it should: the cause goes to the log (in the
/// request's span), the client hears 503 and when to retry.
impl From<RepositoryError> for Problem {
    fn from(e: RepositoryError) -> Self {
        tracing::warn!(error = %e, "the database failed a request");
        Self::database_unavailable()
    }
}

/// The blocking pool dropped the work (it panicked, or the server is stopping): the
/// cause goes to the log, the client hears 500.
impl From<actix_web::error::BlockingError> for Problem {
    fn from(e: actix_web::error::BlockingError) -> Self {
        tracing::error!(error = %e, "blocking work did not finish");
        Self::internal()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.title, self.code)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.response()
    }
}

/// Error-handler middleware: an error answer without a JSON body (actix's own 404,
/// 405, 413, …) is rewritten as problem+json, so clients always get a parseable error.
/// JSON answers pass untouched: problem+json from the REST API, and RFC 6749 error
/// JSON from the OAuth endpoints.
pub fn rewrite_error_response<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == PROBLEM_JSON || v.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let problem = Problem::for_status(res.status());
    let (req, _) = res.into_parts();
    let res = ServiceResponse::new(req, problem.response()).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}
