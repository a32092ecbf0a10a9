//! Who calls the account API: a bearer access token this server issued, with the
//! account scope (`account_api.scope`), to a first-party client, for an account that
//! may log in. Handlers take an [`AccountCaller`] argument; sensitive changes also call
//! [`AccountCaller::require_recent_auth`].

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use gatehouse_core::ports::{AccountRepository, ClientRepository};
use gatehouse_core::{Account, ClientId, Subject};
use std::future::Future;
use std::pin::Pin;

use super::origin::Origin;
use crate::oidc::access::{self, AccessClaims};
use crate::problem::Problem;
use crate::state::AppState;

/// The signed-in user behind an account API request.
#[derive(Debug)]
pub struct AccountCaller {
    pub account: Account,
    pub claims: AccessClaims,
    /// Where the request came from, for the audit log.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A refusal of the bearer token: problem+json plus `WWW-Authenticate` (RFC 6750 §3).
#[derive(Debug)]
pub struct BearerRefused {
    problem: Problem,
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

fn unauthorized(code: &str, title: &str) -> BearerRefused {
    let challenge = if code == "invalid_token" {
        "Bearer error=\"invalid_token\"".to_owned()
    } else {
        "Bearer".to_owned()
    };
    BearerRefused {
        problem: Problem::new(StatusCode::UNAUTHORIZED, code, title),
        challenge,
    }
}

fn insufficient_scope(scope: &str, detail: &str) -> BearerRefused {
    BearerRefused {
        problem: Problem::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "The access token does not allow this",
        )
        .with_detail(detail)
        .with_extension("scope", scope.into()),
        challenge: format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
    }
}

fn unavailable() -> BearerRefused {
    BearerRefused {
        problem: Problem::database_unavailable(),
        challenge: "Bearer".to_owned(),
    }
}

async fn authenticate(req: HttpRequest) -> Result<AccountCaller, BearerRefused> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(unavailable)?;
    let token = access::bearer(&req)
        .ok_or_else(|| unauthorized("unauthorized", "A bearer access token is required"))?;
    let invalid = || {
        unauthorized(
            "invalid_token",
            "The access token is invalid, expired or revoked",
        )
    };
    let claims = access::verify(&state, &token).await.ok_or_else(invalid)?;
    let scope = state.config.account_api.scope.clone();
    if !claims.has_scope(&scope) {
        return Err(insufficient_scope(
            &scope,
            "The token lacks the account scope",
        ));
    }
    let subject = Subject::parse(&claims.sub).map_err(|_| invalid())?;
    let client_id = ClientId::parse(&claims.client_id).map_err(|_| invalid())?;
    let store = state.store.clone();
    let cached = state.clients.get(client_id.as_str());
    let (client, account) = web::block(move || {
        let client = match cached {
            Some(client) => Some(client),
            None => store.client_by_id(&client_id)?,
        };
        Ok::<_, gatehouse_core::ports::RepositoryError>((
            client,
            store.account_by_subject(&subject)?,
        ))
    })
    .await
    .map_err(|_| unavailable())?
    .map_err(|_| unavailable())?;
    // The account API acts with the user's full authority: only the product's own
    // applications may hold such a token, whatever scopes a client was registered with.
    match client {
        Some(client) if client.first_party => state.clients.put(&client),
        _ => {
            return Err(insufficient_scope(
                &scope,
                "Only first-party applications may use the account API",
            ));
        }
    }
    let account = account
        .filter(|a| a.status.can_log_in())
        .ok_or_else(invalid)?;
    let Origin { ip, user_agent } = Origin::of(&req);
    Ok(AccountCaller {
        account,
        claims,
        ip,
        user_agent,
    })
}

impl FromRequest for AccountCaller {
    type Error = BearerRefused;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

impl AccountCaller {
    /// Adding or removing a sign-in method needs a recent login: `auth_time` within
    /// `account_api.reauthentication_window_seconds`. Otherwise 403
    /// `reauthentication_required`, and the UI sends the user through `/authorize`
    /// with `max_age` (given in the problem).
    pub fn require_recent_auth(&self, state: &AppState) -> Result<(), Problem> {
        let window = i64::from(state.config.account_api.reauthentication_window_seconds);
        let now = state.clock.now().timestamp();
        match self.claims.auth_time {
            Some(at) if now - at <= window => Ok(()),
            _ => Err(Problem::new(
                StatusCode::FORBIDDEN,
                "reauthentication_required",
                "Sign in again to change your sign-in methods",
            )
            .with_detail("Log in again (authorize with max_age) and retry with the new token")
            .with_extension("max_age", window.into())),
        }
    }
}
