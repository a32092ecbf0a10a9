//! `/api/v1/admin/accounts…`: operators find, inspect, disable, enable, unlock, sign
//! out and erase accounts without touching the database. Every action is an audit
//! event of the account, naming the admin client (`admin_client`) that acted.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use gatehouse_core::ports::{
    AccountRepository, AuditLog, FactorGuardRepository, FactorRepository, RateLimits,
    RepositoryError, SessionRepository,
};
use gatehouse_core::{Account, AccountId, AccountStatus, AuditKind, NewAuditEvent};
use gatehouse_store::Tx;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::account::{
    EventPage, EventsQuery, blocking, event_page, in_tx, invalid_cursor, no_store, page_limit,
    throttle_keys,
};
use super::bearer::AdminCaller;
use crate::factors::guard;
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

/// An account as operators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAccountView {
    pub id: String,
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub username: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub locale: Option<String>,
    pub zoneinfo: Option<String>,
    /// `pending_registration`, `active`, `locked`, `disabled`.
    pub status: String,
    /// Set when the account was erased (a tombstone without personal data).
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AdminAccountView {
    fn of(a: &Account) -> Self {
        Self {
            id: a.id.to_string(),
            sub: a.subject.to_string(),
            email: a.email.as_ref().map(|e| e.as_str().to_owned()),
            email_verified: a.email_verified,
            username: a.legacy_username.as_ref().map(|u| u.as_str().to_owned()),
            given_name: a.given_name.clone(),
            family_name: a.family_name.clone(),
            locale: a.locale.clone(),
            zoneinfo: a.zoneinfo.clone(),
            status: a.status.as_str().to_owned(),
            deleted_at: a.deleted_at,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// One factor of an account, as operators see it (no secrets).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminFactorView {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAccountDetail {
    #[serde(flatten)]
    pub account: AdminAccountView,
    pub factors: Vec<AdminFactorView>,
    /// Sessions neither ended nor expired.
    pub live_sessions: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// A prefix of the e-mail address, given name or family name (case-insensitive);
    /// every account when left out.
    pub q: Option<String>,
    /// At most this many (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountPage {
    pub accounts: Vec<AdminAccountView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminSessionsRevoked {
    pub revoked: u64,
}

fn account_id(raw: &str) -> Result<AccountId, Problem> {
    uuid::Uuid::parse_str(raw)
        .map(AccountId)
        .map_err(|_| Problem::not_found())
}

fn admin_event(
    state: &AppState,
    admin: &AdminCaller,
    kind: AuditKind,
    account: AccountId,
) -> NewAuditEvent {
    let mut event = NewAuditEvent::new(kind, Some(account), state.clock.now())
        .with_detail("admin_client", admin.client_id().to_owned());
    event.ip.clone_from(&admin.ip);
    event.user_agent.clone_from(&admin.user_agent);
    event
}

fn deleted() -> Problem {
    Problem::new(ProblemCode::AccountDeleted, "This account was erased")
}

/// The live (not erased) account `id` inside `tx`, or the problem to answer.
fn live_account(tx: &Tx<'_>, id: AccountId) -> Result<Result<Account, Problem>, RepositoryError> {
    Ok(match tx.account_by_id(id)? {
        None => Err(Problem::not_found()),
        Some(a) if a.deleted_at.is_some() => Err(deleted()),
        Some(a) => Ok(a),
    })
}

/// Finds accounts by a prefix of their address or names, paged by id.
#[utoipa::path(
    tag = "admin",
    params(SearchQuery),
    responses(
        (status = 200, body = AccountPage),
        (status = 400, description = "`invalid_cursor`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/admin/accounts")]
pub async fn search(
    _admin: AdminCaller,
    query: web::Query<SearchQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let SearchQuery { q, limit, cursor } = query.into_inner();
    let limit = page_limit(limit, 50, 200)?;
    let after = match cursor {
        None => None,
        // The hyphenated form only, as documented (`Uuid::parse_str` takes others too).
        Some(raw) if raw.len() != 36 => return Err(invalid_cursor()),
        Some(raw) => Some(account_id(&raw).map_err(|_| invalid_cursor())?),
    };
    let page = blocking(&state, move |state| {
        let mut found = state
            .store
            .search_accounts(q.as_deref().unwrap_or_default(), after, limit + 1)
            .map_err(Problem::from)?;
        let more = found.len() > limit as usize;
        found.truncate(limit as usize);
        Ok(AccountPage {
            next_cursor: more
                .then(|| found.last().map(|a| a.id.to_string()))
                .flatten(),
            accounts: found.iter().map(AdminAccountView::of).collect(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(page))
}

/// One account, with its factors and how many sessions are live.
#[utoipa::path(
    operation_id = "show_account",
    tag = "admin",
    params(("account_id" = String, Path)),
    responses(
        (status = 200, body = AdminAccountDetail),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/admin/accounts/{account_id}")]
pub async fn show(
    _admin: AdminCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = account_id(&path.into_inner())?;
    let detail = blocking(&state, move |state| {
        let account = state
            .store
            .account_by_id(id)
            .map_err(Problem::from)?
            .ok_or_else(Problem::not_found)?;
        let factors = state.store.factors_of(id).map_err(Problem::from)?;
        let sessions = state
            .store
            .live_sessions_of(id, state.clock.now())
            .map_err(Problem::from)?;
        Ok(AdminAccountDetail {
            account: AdminAccountView::of(&account),
            factors: factors
                .iter()
                .map(|f| AdminFactorView {
                    id: f.id.to_string(),
                    kind: f.kind.as_str().to_owned(),
                    status: format!("{:?}", state.config.factors.effective_status(f))
                        .to_lowercase(),
                    created_at: f.created_at,
                    last_used_at: f.last_used_at,
                })
                .collect(),
            live_sessions: sessions.len(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(detail))
}

/// The account's audit trail, newest first (as the owner sees it, and more).
#[utoipa::path(
    tag = "admin",
    params(("account_id" = String, Path), EventsQuery),
    responses(
        (status = 200, body = EventPage),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/admin/accounts/{account_id}/events")]
pub async fn events(
    _admin: AdminCaller,
    path: web::Path<String>,
    query: web::Query<EventsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = account_id(&path.into_inner())?;
    let query = query.into_inner();
    let page = blocking(&state, move |state| {
        state
            .store
            .account_by_id(id)
            .map_err(Problem::from)?
            .ok_or_else(Problem::not_found)?;
        event_page(state, id, &query)
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(page))
}

/// What an action does to an account, inside its transaction.
#[derive(Clone, Copy, Debug)]
enum Action {
    Disable,
    Enable,
    Unlock,
}

fn act(
    state: &AppState,
    admin: &AdminCaller,
    id: AccountId,
    action: Action,
) -> Result<AdminAccountView, Problem> {
    let now = state.clock.now();
    let throttles = throttle_keys(state, id);
    in_tx(state, |tx| {
        let mut account = match live_account(tx, id)? {
            Ok(a) => a,
            Err(problem) => return Ok(Err(problem)),
        };
        let has_password = account.password_hash.is_some();
        let (moved, kind) = match action {
            Action::Disable => (
                account.apply(now, AccountStatus::disable),
                AuditKind::AccountDisabled,
            ),
            Action::Enable => (
                account.apply(now, |s| s.enable(has_password)),
                AuditKind::AccountEnabled,
            ),
            // Unlocking an account that is not locked still clears its throttles.
            Action::Unlock => (
                match account.status {
                    AccountStatus::Locked => account.apply(now, AccountStatus::unlock),
                    _ => Ok(()),
                },
                AuditKind::AccountUnlocked,
            ),
        };
        if let Err(e) = moved {
            return Ok(Err(Problem::new(
                ProblemCode::IllegalTransition,
                "The account's status does not allow this",
            )
            .with_extension("status", e.from.as_str().into())));
        }
        tx.update_account(&account)?;
        let mut event = admin_event(state, admin, kind, id);
        match action {
            Action::Disable => {
                let revoked = tx.end_sessions_of(id, None, now)?;
                event = event.with_detail("sessions_revoked", revoked.to_string());
            }
            Action::Unlock => {
                for key in &throttles {
                    tx.clear_hits(key)?;
                    // Counts kept per client address under the account's key.
                    tx.clear_hits_under(key)?;
                }
                for factor in tx.factors_of(id)? {
                    tx.clear_attempts(factor.id)?;
                }
                guard::clear_account(tx, id)?;
            }
            Action::Enable => {}
        }
        tx.record(&event)?;
        Ok(Ok(AdminAccountView::of(&account)))
    })
}

async fn run_action(
    admin: AdminCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
    action: Action,
) -> Result<HttpResponse, Problem> {
    let id = account_id(&path.into_inner())?;
    let view = blocking(&state, move |state| act(state, &admin, id, action)).await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(view))
}

/// Disables the account: it can neither log in nor refresh tokens, and every session
/// ends at once.
#[utoipa::path(
    tag = "admin",
    params(("account_id" = String, Path)),
    responses(
        (status = 200, body = AdminAccountView),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition` (already disabled), `account_deleted`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/admin/accounts/{account_id}/disable")]
pub async fn disable(
    admin: AdminCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    run_action(admin, path, state, Action::Disable).await
}

/// Enables a disabled account (back to waiting for registration if it never set a
/// password).
#[utoipa::path(
    tag = "admin",
    params(("account_id" = String, Path)),
    responses(
        (status = 200, body = AdminAccountView),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition` (not disabled), `account_deleted`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/admin/accounts/{account_id}/enable")]
pub async fn enable(
    admin: AdminCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    run_action(admin, path, state, Action::Enable).await
}

/// Unlocks the account: a locked account becomes active, and every throttle on it
/// (wrong login passwords, wrong current passwords, e-mail change requests, wrong
/// codes of its factors) is cleared.
#[utoipa::path(
    tag = "admin",
    params(("account_id" = String, Path)),
    responses(
        (status = 200, body = AdminAccountView),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`account_deleted`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/admin/accounts/{account_id}/unlock")]
pub async fn unlock(
    admin: AdminCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    run_action(admin, path, state, Action::Unlock).await
}

/// Signs the account out everywhere: every session, its refresh and access tokens.
#[utoipa::path(
    tag = "admin",
    params(("account_id" = String, Path)),
    responses(
        (status = 200, body = AdminSessionsRevoked),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`account_deleted`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/admin/accounts/{account_id}/logout")]
pub async fn logout(
    admin: AdminCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = account_id(&path.into_inner())?;
    let revoked = blocking(&state, move |state| {
        let now = state.clock.now();
        in_tx(state, |tx| {
            if let Err(problem) = live_account(tx, id)? {
                return Ok(Err(problem));
            }
            let revoked = tx.end_sessions_of(id, None, now)?;
            tx.record(
                &admin_event(state, &admin, AuditKind::SessionsRevoked, id)
                    .with_detail("revoked", revoked.to_string()),
            )?;
            Ok(Ok(revoked))
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(AdminSessionsRevoked { revoked }))
}

/// Erases the account: its personal data (address, names, username, password,
/// factors and their secrets, sessions, pending changes, links, mails to it) goes;
/// the row stays as a disabled tombstone so its `sub` is never reused, and its audit
/// trail keeps its shape (events without IP and user agent).
#[utoipa::path(
    tag = "admin",
    params(("account_id" = String, Path)),
    responses(
        (status = 204, description = "Erased"),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`account_deleted`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/api/v1/admin/accounts/{account_id}")]
pub async fn erase(
    admin: AdminCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = account_id(&path.into_inner())?;
    blocking(&state, move |state| {
        let now = state.clock.now();
        in_tx(state, |tx| {
            if let Err(problem) = live_account(tx, id)? {
                return Ok(Err(problem));
            }
            tx.erase_account(id, now)?;
            let mut event = admin_event(state, &admin, AuditKind::AccountDeleted, id);
            // The trail of an erased account keeps no origin.
            event.ip = None;
            event.user_agent = None;
            tx.record(&event)?;
            Ok(Ok(()))
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
