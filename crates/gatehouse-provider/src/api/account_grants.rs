//! `/api/v1/account/grants`: what the user granted third-party clients, and taking it
//! back; `/api/v1/admin/accounts/{account_id}/grants`: the same, read by an operator.

use actix_web::{HttpResponse, delete, get, web};
use chrono::{DateTime, Utc};
use gatehouse_core::consent::ConsentGrant;
use gatehouse_core::ports::{AccountRepository, AuditLog, ClientRepository, ConsentRepository};
use gatehouse_core::{AccountId, AuditKind, ClientId};
use serde::Serialize;
use utoipa::ToSchema;

use super::account::{blocking, event, in_tx, no_store};
use super::account_auth::AccountCaller;
use super::bearer::AdminCaller;
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

/// One client the user granted access to.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    pub client_id: String,
    pub client_name: String,
    /// The scopes granted (`openid` included).
    pub scopes: Vec<String>,
    pub granted_at: DateTime<Utc>,
    /// When scopes were last added.
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantList {
    pub grants: Vec<GrantView>,
}

fn grant_list(state: &AppState, account: AccountId) -> Result<GrantList, Problem> {
    let grants = state
        .store
        .consent_grants_of(account)
        .map_err(Problem::from)?;
    let mut views = Vec::with_capacity(grants.len());
    for ConsentGrant {
        client_id,
        scopes,
        granted_at,
        updated_at,
        ..
    } in grants
    {
        let name = ClientId::parse(&client_id)
            .ok()
            .map(|id| state.store.client_by_id(&id))
            .transpose()
            .map_err(Problem::from)?
            .flatten()
            .map_or_else(|| client_id.clone(), |c| c.name);
        views.push(GrantView {
            client_id,
            client_name: name,
            scopes,
            granted_at,
            updated_at,
        });
    }
    Ok(GrantList { grants: views })
}

/// The third-party clients the user granted access to, most recently changed first.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, body = GrantList),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/account/grants")]
pub async fn list_grants(
    caller: AccountCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let list = blocking(&state, move |state| grant_list(state, caller.account.id)).await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(list))
}

/// Takes a grant back: the client's refresh tokens for this account stop working, and
/// its next sign-in asks for consent again.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "A client id from the list")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`grant_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/account/grants/{client_id}")]
pub async fn revoke_grant(
    caller: AccountCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let client_id = path.into_inner();
    blocking(&state, move |state| {
        let now = state.clock.now();
        in_tx(state, |tx| {
            if !tx.revoke_consent_grant(caller.account.id, &client_id, now)? {
                return Ok(Err(Problem::new(
                    ProblemCode::GrantNotFound,
                    "No grant to this client",
                )));
            }
            // `client_id` of the event is the caller's client; the revoked one is named apart.
            tx.record(
                &event(&caller, AuditKind::ConsentRevoked, now)
                    .with_detail("revoked_client_id", client_id.clone()),
            )?;
            Ok(Ok(()))
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The clients the account granted access to.
#[utoipa::path(
    tag = "admin",
    params(("account_id" = String, Path)),
    responses(
        (status = 200, body = GrantList),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/admin/accounts/{account_id}/grants")]
pub async fn admin_grants(
    _admin: AdminCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = uuid::Uuid::parse_str(&path.into_inner())
        .map(AccountId)
        .map_err(|_| Problem::not_found())?;
    let list = blocking(&state, move |state| {
        state
            .store
            .account_by_id(id)
            .map_err(Problem::from)?
            .ok_or_else(Problem::not_found)?;
        grant_list(state, id)
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(list))
}
