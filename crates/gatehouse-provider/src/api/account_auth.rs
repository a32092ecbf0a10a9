//! Who calls the account API: a bearer access token this server issued, with the
//! account scope (`account_api.scope`), to a first-party client, for an account that
//! may log in. Handlers take an [`AccountCaller`] argument; sensitive changes also call
//! [`AccountCaller::require_recent_auth`].

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use gatehouse_core::ports::{AccountRepository, ClientRepository};
use gatehouse_core::{Account, ClientId, Subject};
use std::future::Future;
use std::pin::Pin;

pub use super::bearer::BearerRefused;
use super::bearer::{insufficient_scope, invalid_token, require_scope, state_of, unavailable};
use super::origin::Origin;
use crate::oidc::access::AccessClaims;
use crate::problem::{Problem, ProblemCode};
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

async fn authenticate(req: HttpRequest) -> Result<AccountCaller, BearerRefused> {
    let state = state_of(&req)?;
    let scope = state.config.account_api.scope.clone();
    let claims = require_scope(&req, &state, &scope).await?;
    let invalid = invalid_token;
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
    .map_err(|e| {
        tracing::error!(error = %e, "blocking work did not finish");
        unavailable()
    })?
    .map_err(|e| {
        tracing::warn!(error = %e, "the database failed a request");
        unavailable()
    })?;
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
    let Origin { ip, user_agent } = Origin::of(&req, &state);
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
                ProblemCode::ReauthenticationRequired,
                "Sign in again to make this change",
            )
            .with_detail("Log in again (authorize with max_age) and retry with the new token")
            .with_extension("max_age", window.into())),
        }
    }
}
