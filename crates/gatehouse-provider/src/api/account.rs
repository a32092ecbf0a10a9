//! `/api/v1/account`: the signed-in user's own account — the profile (scenario B's
//! settings page), the password, the signed-in sessions and the security events.
//! Bearer tokens as for the factor API ([`AccountCaller`]). Changes are audited, and
//! the ones the owner must hear about are mailed, in the same transaction.

use actix_web::http::header::{CacheControl, CacheDirective, HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError, delete, get, patch, post, web};
use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::factor::EffectiveStatus;
use gatehouse_core::ports::{
    AccountRepository, AuditLog, EmailChangeRepository, FactorRepository, RateLimits,
    RefreshTokenRepository, RepositoryError, SessionRepository,
};
use gatehouse_core::profile::{self, FieldError};
use gatehouse_core::{Account, AccountId, AuditEvent, AuditKind, FactorKind, NewAuditEvent};
use gatehouse_store::Tx;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::account_auth::AccountCaller;
use super::brute_force::PASSWORD_ALERT;
use super::password_rules::{PasswordRuleView, checklist};
use crate::problem::{Failure, Problem, ProblemCode};
use crate::state::AppState;
use gatehouse_core::factor_guard::window_start;

/// Wrong current passwords (at a password change) allowed per window.
pub const PASSWORD_ATTEMPTS: u32 = 5;
pub const PASSWORD_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// E-mail change requests and wrong confirmation codes allowed per window.
pub const EMAIL_CHANGE_REQUESTS: u32 = 5;
pub const EMAIL_CHANGE_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// The legacy username, kept only while usernames are retired.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsernameView {
    pub value: String,
    /// Always true: log in with the e-mail address instead.
    pub deprecated: bool,
}

/// What the account signs in with after the password.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaSummary {
    /// The kinds of the active methods, the e-mail code included (`email_otp`).
    pub methods: Vec<String>,
    /// Whether any method besides the e-mail code is set up ("Enable" on the
    /// settings page when false).
    pub enabled_beyond_email: bool,
    /// Whether recovery codes exist.
    pub recovery_codes: bool,
}

/// The settings page (scenario B).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    /// The OIDC `sub`.
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// The address waiting for its confirmation code, if a change is pending.
    pub pending_email: Option<String>,
    pub username: Option<UsernameView>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// BCP 47, e.g. `ja`.
    pub locale: Option<String>,
    /// IANA time zone, e.g. `Etc/UTC`.
    pub zoneinfo: Option<String>,
    pub analytics_consent: bool,
    pub mfa: MfaSummary,
    /// The password policy as a checklist, for the password change form.
    pub password_policy: Vec<PasswordRuleView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The editable fields (a JSON merge patch: leave a member out to keep it, `null`
/// clears it). The address changes through `POST /api/v1/account/email`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// At most 100 characters, no control characters; empty clears it, as `null` does.
    #[schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub given_name: Option<String>,
    /// As `given_name`.
    #[schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub family_name: Option<String>,
    /// A BCP 47 language tag, e.g. `ja` or `en-GB`.
    #[schema(max_length = 35, pattern = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")]
    pub locale: Option<String>,
    /// An IANA time zone name, e.g. `Asia/Tokyo` (its shape is checked, not the zone database).
    #[schema(
        max_length = 64,
        pattern = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z][A-Za-z0-9_+-]*)*$"
    )]
    pub zoneinfo: Option<String>,
    /// `true` or `false` (cannot be cleared).
    #[schema(nullable = false)]
    pub analytics_consent: Option<bool>,
}

/// Answers carry personal data or secrets (a TOTP key, recovery codes): never cached.
pub(crate) fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}

pub(crate) async fn blocking<T: Send + 'static>(
    state: &web::Data<AppState>,
    work: impl FnOnce(&AppState) -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    let shared = state.clone();
    web::block(move || work(shared.as_ref())).await?
}

/// A JSON body read as `T` once the caller is known (a body extractor would answer
/// before the bearer token was checked).
pub(crate) fn body_as<T: serde::de::DeserializeOwned>(mut body: Value) -> Result<T, Problem> {
    integral_floats_as_integers(&mut body);
    serde_json::from_value(body).map_err(|e| {
        Problem::new(
            ProblemCode::InvalidJson,
            "The request body is not valid JSON for this endpoint",
        )
        .with_detail(e.to_string())
    })
}

/// JSON Schema counts `3600.0` as an integer, as the document's `integer` fields
/// promise; serde would refuse it for a `u32`, so such numbers become integers first.
fn integral_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let integer = n.as_f64().and_then(|f| {
                // 2^63 and beyond are no i64; 9.2e18 is past every integer field.
                (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
            });
            if let Some(i) = integer {
                *value = Value::from(i);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(members) => members.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// Runs `work` in a transaction. `Ok(Err(problem))` commits and answers the problem
/// (a counted attempt); `Err` rolls back: a refusal is answered as it is, a store
/// failure as 503 (see [`Failure`]).
pub(crate) fn in_tx<T>(
    state: &AppState,
    work: impl FnMut(&Tx<'_>) -> Result<Result<T, Problem>, Failure>,
) -> Result<T, Problem> {
    state.store.transaction_with(work).map_err(Problem::from)?
}

/// An audit event about `account`, with where the request came from.
pub(crate) fn event(caller: &AccountCaller, kind: AuditKind, now: DateTime<Utc>) -> NewAuditEvent {
    let mut event = NewAuditEvent::new(kind, Some(caller.account.id), now)
        .with_detail("client_id", caller.claims.client_id.clone());
    event.ip.clone_from(&caller.ip);
    event.user_agent.clone_from(&caller.user_agent);
    event
}

/// 429 `rate_limited` with `retry_after` and `Retry-After`.
pub(crate) fn rate_limited(title: &str, retry_after: i64) -> Problem {
    Problem::new(ProblemCode::RateLimited, title)
        .with_detail("Wait before trying again")
        .with_extension("retry_after", retry_after.max(1).into())
}

/// A problem answer, with `Retry-After` when it says when to retry.
pub(crate) fn answer(problem: Problem) -> HttpResponse {
    let retry = problem
        .extensions
        .as_ref()
        .and_then(|e| e.get("retry_after"))
        .and_then(Value::as_i64);
    let mut res = problem.error_response();
    if let Some(seconds) = retry
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        res.headers_mut().insert(RETRY_AFTER, value);
    }
    res
}

/// The throttle on login passwords (see `api::brute_force`).
pub(crate) const PASSWORD_LOGIN: &str = "password_login";

/// The key of the `what` throttle of `subject` (an account id, or for login passwords
/// an identifier that names no account): a keyed hash, so none is stored in the clear.
pub(crate) fn throttle_key(
    state: &AppState,
    what: &str,
    subject: impl std::fmt::Display,
) -> String {
    state.secrets.hasher.hash(&format!("{what}:{subject}"))
}

/// The throttle counters that concern one account (cleared by an operator's unlock).
pub(crate) fn throttle_keys(state: &AppState, account: AccountId) -> Vec<String> {
    [
        "password_change",
        "email_change",
        PASSWORD_LOGIN,
        PASSWORD_ALERT,
    ]
    .iter()
    .map(|what| throttle_key(state, what, account))
    .collect()
}

/// Counts one hit on the `what` throttle of `subject`, and says whether it is over `limit`.
pub(crate) fn hit_throttle(
    tx: &Tx<'_>,
    state: &AppState,
    what: &str,
    subject: impl std::fmt::Display,
    limit: u32,
    window: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Throttle, RepositoryError> {
    let start = window_start(now, window);
    let hits = tx.hit(&throttle_key(state, what, subject), start)?;
    Ok(if hits > limit {
        Throttle::Refused {
            retry_after: (start + window - now).num_seconds(),
        }
    } else {
        Throttle::Admitted { left: limit - hits }
    })
}

/// What a counted attempt learnt from its throttle.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Throttle {
    /// Within the limit: `left` more attempts in this window after this one.
    Admitted { left: u32 },
    /// Over it: wait `retry_after` seconds.
    Refused { retry_after: i64 },
}

pub(crate) fn profile_view(state: &AppState, account: &Account) -> Result<ProfileView, Problem> {
    let factors = state.store.factors_of(account.id).map_err(Problem::from)?;
    let pending_email = state
        .store
        .latest_email_change(account.id)
        .map_err(Problem::from)?
        .filter(|c| c.is_open(state.clock.now()))
        .map(|c| c.new_email);
    let mut methods: Vec<String> = Vec::new();
    if account.email.is_some() {
        methods.push(FactorKind::EmailOtp.as_str().to_owned());
    }
    for factor in &factors {
        let kind = factor.kind.as_str().to_owned();
        if state.config.factors.effective_status(factor) == EffectiveStatus::Active
            && !methods.contains(&kind)
        {
            methods.push(kind);
        }
    }
    let email_otp = FactorKind::EmailOtp.as_str();
    Ok(ProfileView {
        sub: account.subject.to_string(),
        email: account.email.as_ref().map(|e| e.as_str().to_owned()),
        email_verified: account.email_verified,
        pending_email,
        username: account.legacy_username.as_ref().map(|u| UsernameView {
            value: u.as_str().to_owned(),
            deprecated: true,
        }),
        given_name: account.given_name.clone(),
        family_name: account.family_name.clone(),
        locale: account.locale.clone(),
        zoneinfo: account.zoneinfo.clone(),
        analytics_consent: account.analytics_consent,
        mfa: MfaSummary {
            enabled_beyond_email: methods.iter().any(|m| m != email_otp),
            recovery_codes: methods
                .iter()
                .any(|m| m == FactorKind::RecoveryCode.as_str()),
            methods,
        },
        password_policy: checklist(&state.config.password_policy),
        created_at: account.created_at,
        updated_at: account.updated_at,
    })
}

/// The signed-in user's profile: the settings page.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ProfileView),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/account")]
pub async fn get_profile(
    caller: AccountCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let view = blocking(&state, move |state| profile_view(state, &caller.account)).await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(view))
}

fn invalid_fields(errors: Vec<FieldError>) -> Problem {
    let fields: Vec<Value> = errors
        .into_iter()
        .map(|e| json!({"field": e.field, "code": e.code}))
        .collect();
    Problem::new(ProblemCode::InvalidFields, "Some fields are not valid")
        .with_extension("fields", Value::Array(fields))
}

/// Changes profile fields. Every refused field is reported at once: 422
/// `invalid_fields` with `fields: [{field, code}]` (`name_invalid`, `locale_invalid`,
/// `zoneinfo_invalid`, `type_invalid`, `read_only`, `unknown_field`); nothing changes then.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    request_body = ProfilePatch,
    responses(
        (status = 200, body = ProfileView),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_fields`, with `fields`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/account")]
pub async fn patch_profile(
    caller: AccountCaller,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let Value::Object(patch) = body.into_inner() else {
        return Err(Problem::new(ProblemCode::InvalidJson, "Send a JSON object"));
    };
    let changes = profile::parse_patch(&patch).map_err(invalid_fields)?;
    let view = blocking(&state, move |state| {
        let now = state.clock.now();
        let mut account = caller.account.clone();
        if profile::apply(&mut account, changes) {
            account.updated_at = now;
            let fields: Vec<&str> = patch.keys().map(String::as_str).collect();
            let event = event(&caller, AuditKind::AccountUpdated, now)
                .with_detail("fields", fields.join(" "));
            state
                .store
                .transaction(|tx| {
                    tx.update_account(&account)?;
                    tx.record(&event)
                })
                .map_err(Problem::from)?;
        }
        profile_view(state, &account)
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
    /// The new password again.
    pub new_password_confirmation: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChanged {
    /// `changed`.
    pub status: String,
    /// How many other sessions were signed out.
    pub sessions_revoked: u64,
}

/// Changes the password: the current one, then a new one under the policy (every
/// broken rule reported at once, as at registration). The owner is mailed, and every
/// other session (with its refresh tokens) ends. Wrong current passwords are
/// throttled: five per 15 minutes, then 429.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 200, body = PasswordChanged),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`password_policy` (with `violations`), `current_password_invalid` (with `attempts_left`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited` (with `retry_after`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`busy`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/account/password")]
pub async fn change_password(
    caller: AccountCaller,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let PasswordChange {
        current_password,
        new_password,
        new_password_confirmation,
    } = body_as(body.into_inner())?;
    let broken = state
        .config
        .password_policy
        .check(&new_password, &new_password_confirmation);
    if !broken.is_empty() {
        let codes: Vec<&str> = broken.iter().map(|r| r.code()).collect();
        return Err(Problem::new(
            ProblemCode::PasswordPolicy,
            "The new password does not meet the policy",
        )
        .with_extension("violations", json!(codes)));
    }
    let account_id = caller.account.id;
    // Count the attempt before checking it, so parallel guesses are counted too.
    let throttled = blocking(&state, move |state| {
        let now = state.clock.now();
        state
            .store
            .transaction(|tx| {
                hit_throttle(
                    tx,
                    state,
                    "password_change",
                    account_id,
                    PASSWORD_ATTEMPTS,
                    PASSWORD_WINDOW,
                    now,
                )
            })
            .map_err(Problem::from)
    })
    .await?;
    let left = match throttled {
        Throttle::Refused { retry_after } => {
            return Ok(answer(rate_limited(
                "Too many wrong passwords",
                retry_after,
            )));
        }
        Throttle::Admitted { left } => left,
    };
    let verdict = state
        .passwords
        .verify(current_password, caller.account.password_hash.clone())
        .await?;
    if !matches!(
        verdict,
        gatehouse_core::password::Verification::Match { .. }
    ) {
        let now = state.clock.now();
        let failed = event(&caller, AuditKind::PasswordChangeFailed, now);
        blocking(&state, move |state| {
            state
                .store
                .record(&failed)
                .map(|_| ())
                .map_err(Problem::from)
        })
        .await?;
        return Err(Problem::new(
            ProblemCode::CurrentPasswordInvalid,
            "The current password is wrong",
        )
        .with_extension("attempts_left", left.into()));
    }
    let hash = state.passwords.hash(new_password).await?;
    let answer = blocking(&state, move |state| {
        let now = state.clock.now();
        let mut account = caller.account.clone();
        account.password_hash = Some(hash);
        account.updated_at = now;
        let keys = throttle_keys(state, account.id);
        in_tx(state, |tx| {
            tx.update_account(&account)?;
            let revoked = tx.end_sessions_of(account.id, caller.claims.sid.as_deref(), now)?;
            tx.record(
                &event(&caller, AuditKind::PasswordChanged, now)
                    .with_detail("sessions_revoked", revoked.to_string()),
            )?;
            if let Some(email) = &account.email {
                let message = state.outbox.templates().password_changed(
                    email,
                    account.locale.as_deref(),
                    now,
                );
                state.outbox.enqueue_in(tx, &message, now)?;
            }
            if let Some(key) = keys.first() {
                tx.clear_hits(key)?;
            }
            Ok(Ok(PasswordChanged {
                status: "changed".to_owned(),
                sessions_revoked: revoked,
            }))
        })
    })
    .await?;
    state.outbox.wake();
    Ok(HttpResponse::Ok().json(answer))
}

/// A signed-in browser of the account.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The session id (the OIDC `sid`).
    pub id: String,
    /// The session the calling token was issued under.
    pub current: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub auth_time: DateTime<Utc>,
    /// How the user proved who they are (RFC 8176), e.g. `["pwd", "otp", "mfa"]`.
    pub amr: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// The account's live sessions, newest first; the caller's own is marked `current`.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, body = SessionList),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/account/sessions")]
pub async fn list_sessions(
    caller: AccountCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let list = blocking(&state, move |state| {
        let sessions = state
            .store
            .live_sessions_of(caller.account.id, state.clock.now())
            .map_err(Problem::from)?;
        Ok(SessionList {
            sessions: sessions
                .into_iter()
                .map(|s| SessionView {
                    current: caller.claims.sid.as_deref() == Some(s.id.as_str()),
                    id: s.id,
                    user_agent: s.user_agent,
                    ip: s.ip,
                    created_at: s.created_at,
                    last_seen_at: s.last_seen_at,
                    expires_at: s.expires_at,
                    auth_time: s.auth_time,
                    amr: s.amr,
                })
                .collect(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(list))
}

/// Signs one session out (the current one too: that is a logout); its refresh
/// tokens and access tokens stop working.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    params(("session" = String, Path, description = "A session id from the list")),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`session_not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/account/sessions/{session}")]
pub async fn revoke_session(
    caller: AccountCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    blocking(&state, move |state| {
        let now = state.clock.now();
        in_tx(state, |tx| {
            let session = tx
                .session_by_id(&id)?
                .filter(|s| s.account_id == caller.account.id && s.is_live(now));
            let Some(mut session) = session else {
                return Ok(Err(Problem::new(
                    ProblemCode::SessionNotFound,
                    "No such session",
                )));
            };
            session.revoked_at = Some(now);
            tx.update_session(&session)?;
            tx.revoke_refresh_for_session(&session.id, now)?;
            let current = caller.claims.sid.as_deref() == Some(session.id.as_str());
            tx.record(
                &event(&caller, AuditKind::SessionRevoked, now)
                    .with_detail("current", current.to_string()),
            )?;
            Ok(Ok(()))
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsRevoked {
    /// How many sessions were signed out.
    pub revoked: u64,
}

/// Signs out every session but the caller's.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, body = SessionsRevoked),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/account/sessions")]
pub async fn revoke_other_sessions(
    caller: AccountCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let revoked = blocking(&state, move |state| {
        let now = state.clock.now();
        in_tx(state, |tx| {
            let revoked =
                tx.end_sessions_of(caller.account.id, caller.claims.sid.as_deref(), now)?;
            tx.record(
                &event(&caller, AuditKind::SessionsRevoked, now)
                    .with_detail("revoked", revoked.to_string()),
            )?;
            Ok(Ok(revoked))
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(SessionsRevoked { revoked }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// At most this many (1–100, default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// The page size asked for, `default` when none: 400 `invalid_query` outside 1–`max`,
/// the bounds the document gives.
pub(crate) fn page_limit(asked: Option<u32>, default: u32, max: u32) -> Result<u32, Problem> {
    match asked {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(Problem::new(
            ProblemCode::InvalidQuery,
            "The query parameters are not valid for this endpoint",
        )
        .with_detail(format!("limit must be between 1 and {max}, not {n}"))),
    }
}

/// 400 `invalid_cursor`: not a `next_cursor` this API gave.
pub(crate) fn invalid_cursor() -> Problem {
    Problem::new(
        ProblemCode::InvalidCursor,
        "The cursor is not one this API gave",
    )
}

/// One entry of the account's security log.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: String,
    /// `login_succeeded`, `login_failed`, `password_changed`, `email_changed`,
    /// `factor_added`, `factor_removed`, `recovery_code_used`, `registration_completed`, …
    pub kind: String,
    pub at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Non-sensitive facts, free-form by nature: which ones depends on the event kind
    /// (the client, the factor kind, `amr`, …), each a string.
    pub detail: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Newest first.
    pub events: Vec<EventView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

pub(crate) fn event_view(e: AuditEvent) -> EventView {
    EventView {
        id: e.sequence.to_string(),
        kind: e.event.kind.as_str().to_owned(),
        at: e.event.at,
        ip: e.event.ip,
        user_agent: e.event.user_agent,
        detail: e.event.detail,
    }
}

/// One page of an account's audit trail, newest first.
pub(crate) fn event_page(
    state: &AppState,
    account: AccountId,
    query: &EventsQuery,
) -> Result<EventPage, Problem> {
    let limit = page_limit(query.limit, 20, 100)?;
    let before = match &query.cursor {
        None => None,
        // Digits only, as documented (`str::parse` would take a sign too).
        Some(raw)
            if raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) =>
        {
            return Err(invalid_cursor());
        }
        Some(raw) => Some(raw.parse::<i64>().map_err(|_| invalid_cursor())?),
    };
    // One more than asked tells whether another page follows.
    let mut events = state
        .store
        .events_of(account, before, limit + 1)
        .map_err(Problem::from)?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next_cursor = more
        .then(|| events.last().map(|e| e.sequence.to_string()))
        .flatten();
    Ok(EventPage {
        events: events.into_iter().map(event_view).collect(),
        next_cursor,
    })
}

/// The account's security events, newest first, paged with `cursor`.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    params(EventsQuery),
    responses(
        (status = 200, body = EventPage),
        (status = 400, description = "`invalid_cursor`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/account/events")]
pub async fn list_events(
    caller: AccountCaller,
    query: web::Query<EventsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let query = query.into_inner();
    let page = blocking(&state, move |state| {
        event_page(state, caller.account.id, &query)
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(page))
}
