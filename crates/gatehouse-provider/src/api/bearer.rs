//! Bearer tokens on the REST API: an access token this server issued, with a scope.
//! One set of answers for every protected endpoint (RFC 6750 §3): no token → 401
//! `unauthorized`; a bad, expired or revoked one → 401 `invalid_token`; a missing
//! scope → 403 `insufficient_scope` with the scope; each with `WWW-Authenticate`.
//! The account API ([`super::account_auth::AccountCaller`]) and the admin API
//! ([`AdminCaller`]) are built on it.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use std::future::Future;
use std::pin::Pin;

use super::origin::Origin;
use crate::oidc::access::{self, AccessClaims};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

/// The admin API's scope, granted to `client_credentials` clients registered with it.
pub const ADMIN_SCOPE: &str = "gatehouse:admin";

/// A refusal of the bearer token: problem+json plus `WWW-Authenticate` (RFC 6750 §3).
#[derive(Debug)]
pub struct BearerRefused {
    /// Boxed: refusals travel by value through `Result`s.
    problem: Box<Problem>,
    challenge: String,
}

impl std::fmt::Display for BearerRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.problem.fmt(f)
    }
}

impl ResponseError for BearerRefused {
    fn status_code(&self) -> StatusCode {
        self.problem.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = self.problem.error_response();
        if let Ok(value) = HeaderValue::from_str(&self.challenge) {
            res.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        res
    }
}

pub(crate) fn unauthorized(code: ProblemCode, title: &str) -> BearerRefused {
    let challenge = if code == ProblemCode::InvalidToken {
        "Bearer error=\"invalid_token\"".to_owned()
    } else {
        "Bearer".to_owned()
    };
    BearerRefused {
        problem: Box::new(Problem::new(code, title)),
        challenge,
    }
}

pub(crate) fn invalid_token() -> BearerRefused {
    unauthorized(
        ProblemCode::InvalidToken,
        "The access token is invalid, expired or revoked",
    )
}

pub(crate) fn insufficient_scope(scope: &str, detail: &str) -> BearerRefused {
    BearerRefused {
        problem: Box::new(
            Problem::new(
                ProblemCode::InsufficientScope,
                "The access token does not allow this",
            )
            .with_detail(detail)
            .with_extension("scope", scope.into()),
        ),
        challenge: format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
    }
}

pub(crate) fn unavailable() -> BearerRefused {
    BearerRefused {
        problem: Box::new(Problem::database_unavailable()),
        challenge: "Bearer".to_owned(),
    }
}

/// The state of the app serving `req`.
pub(crate) fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, BearerRefused> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(unavailable)
}

/// The live access token of `req`, if it carries `scope`.
pub async fn require_scope(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    scope: &str,
) -> Result<AccessClaims, BearerRefused> {
    let token = access::bearer(req).ok_or_else(|| {
        unauthorized(
            ProblemCode::Unauthorized,
            "A bearer access token is required",
        )
    })?;
    let claims = access::verify(state, &token)
        .await
        .map_err(|access::Unknown| unavailable())?
        .ok_or_else(invalid_token)?;
    if !claims.has_scope(scope) {
        return Err(insufficient_scope(
            scope,
            "The token lacks the scope this endpoint needs",
        ));
    }
    Ok(claims)
}

/// An operator's machine client behind an admin API request: a `client_credentials`
/// token (no user behind it) with the admin scope.
#[derive(Debug)]
pub struct AdminCaller {
    pub claims: AccessClaims,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl AdminCaller {
    /// The client acting, as the audit log names it.
    pub fn client_id(&self) -> &str {
        &self.claims.client_id
    }
}

async fn authenticate_admin(req: HttpRequest) -> Result<AdminCaller, BearerRefused> {
    let state = state_of(&req)?;
    let claims = require_scope(&req, &state, ADMIN_SCOPE).await?;
    // A token a user signed in for acts for that user, never as an operator.
    if claims.sid.is_some() || claims.auth_time.is_some() {
        return Err(insufficient_scope(
            ADMIN_SCOPE,
            "The admin API takes client_credentials tokens only",
        ));
    }
    let Origin { ip, user_agent } = Origin::of(&req, &state);
    Ok(AdminCaller {
        claims,
        ip,
        user_agent,
    })
}

impl FromRequest for AdminCaller {
    type Error = BearerRefused;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate_admin(req.clone()))
    }
}
