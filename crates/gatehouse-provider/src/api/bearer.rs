//! Bearer tokens on the REST API: an access token this server issued, with a scope.
//! One set of answers for every protected endpoint (RFC 6750 §3): no token → 401
//! `unauthorized`; a bad, expired or revoked one → 401 `invalid_token`; a missing
//! scope → 403 `insufficient_scope` with the scope; each with `WWW-Authenticate`.
//! The account API ([`super::account_auth::AccountCaller`]) and the admin API
//! ([`AdminCaller`]) are built on it.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue, WWW_AUTHENTICATE};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use std::future::Future;
use std::pin::Pin;

use super::origin::Origin;
use crate::oidc::access::AccessClaims;
use crate::oidc::dpop::Refusal;
use crate::oidc::presented::{self, Refused, dpop_challenge};
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
    /// `DPoP-Nonce` (RFC 9449 §9) when the proof lacked the server's nonce.
    dpop_nonce: Option<String>,
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
        if let Some(Ok(value)) = self.dpop_nonce.as_deref().map(HeaderValue::from_str) {
            res.headers_mut()
                .insert(HeaderName::from_static("dpop-nonce"), value);
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
        dpop_nonce: None,
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
        dpop_nonce: None,
    }
}

pub(crate) fn unavailable() -> BearerRefused {
    BearerRefused {
        problem: Box::new(Problem::database_unavailable()),
        challenge: "Bearer".to_owned(),
        dpop_nonce: None,
    }
}

/// The state of the app serving `req`.
pub(crate) fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, BearerRefused> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(unavailable)
}

/// A refused token (RFC 6750 §3, RFC 9449 §7.1): DPoP's refusals are `invalid_token`
/// problems whose challenge names the DPoP error (a client retries on
/// `use_dpop_nonce` with the `DPoP-Nonce` it got).
fn refused(refusal: Refused) -> BearerRefused {
    let dpop = |error: &str, detail: &str, dpop_nonce: Option<String>| BearerRefused {
        problem: Box::new(
            Problem::new(
                ProblemCode::InvalidToken,
                "The access token is invalid, expired or revoked",
            )
            .with_detail(detail),
        ),
        challenge: dpop_challenge(error),
        dpop_nonce,
    };
    match refusal {
        Refused::Missing => unauthorized(
            ProblemCode::Unauthorized,
            "A bearer access token is required",
        ),
        Refused::InvalidToken => invalid_token(),
        Refused::BoundAsBearer => dpop(
            "invalid_token",
            "The token is DPoP-bound: send it as DPoP with a proof",
            None,
        ),
        Refused::InvalidDpopToken => dpop(
            "invalid_token",
            "The token is invalid, expired, revoked or not DPoP-bound",
            None,
        ),
        Refused::Proof(Refusal::Invalid(why)) => dpop("invalid_dpop_proof", why, None),
        Refused::Proof(Refusal::UseNonce(nonce)) => dpop(
            "use_dpop_nonce",
            "Send the DPoP-Nonce in the proof",
            Some(nonce),
        ),
        Refused::Unknown => unavailable(),
    }
}

/// The live access token of `req`, if it carries `scope`.
pub async fn require_scope(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    scope: &str,
) -> Result<AccessClaims, BearerRefused> {
    let claims = presented::verify(state, req).await.map_err(refused)?;
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
