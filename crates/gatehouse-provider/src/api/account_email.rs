//! `/api/v1/account/email`: changing the sign-in address (scenario B, with the new
//! address proving itself first). A code goes to the new address only; the switch
//! happens when it comes back; then the old address is told it no longer signs in,
//! with a single-use link that undoes the change for 72 hours, the new address gets
//! the login instructions, and every other session ends. An address that belongs to
//! another account gets the same answer as a free one, and its owner a notice.

use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use gatehouse_core::email_change::{self, EmailChange, EmailUndo};
use gatehouse_core::ports::{
    AccountRepository, AuditLog, EmailChangeRepository, RepositoryError, SessionRepository,
};
use gatehouse_core::{AuditKind, Email, NewAuditEvent, otp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::account::{
    EMAIL_CHANGE_REQUESTS, EMAIL_CHANGE_WINDOW, Throttle, answer, blocking, body_as, event,
    hit_throttle, in_tx, no_store, rate_limited,
};
use super::account_auth::AccountCaller;
use crate::crypto::random;
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeRequest {
    /// The new address.
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailChangeStarted {
    /// `code_sent`, whatever the address.
    pub status: String,
    /// The new address, masked: `n***@example.com`.
    pub sent_to: String,
    pub expires_at: DateTime<Utc>,
    pub code_length: usize,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeConfirmation {
    /// The code mailed to the new address.
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailChanged {
    /// `changed`.
    pub status: String,
    pub email: String,
    /// How many other sessions were signed out.
    pub sessions_revoked: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailUndoRequest {
    /// The `token` of the link mailed to the old address.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailRestored {
    /// `restored`: the old address signs in again; every session was signed out.
    pub status: String,
    pub email: String,
}

/// The code is bound to its request, so a code of one request proves no other.
fn bound(id: &str, code: &str) -> String {
    format!("email-change:{id}:{code}")
}

fn unavailable<E: std::fmt::Display>(e: E) -> RepositoryError {
    RepositoryError::Unavailable(e.to_string())
}

/// Starts a change: mails a code to the new address (or, when another account holds
/// it, a notice to that account instead; the answer is the same). A new request
/// replaces an older one. Needs a recent login; five requests per 15 minutes.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    request_body = EmailChangeRequest,
    responses(
        (status = 202, body = EmailChangeStarted),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`, `reauthentication_required` (with `max_age`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_fields`, with `fields` naming `email`: its code is email_invalid, email_missing or email_unchanged", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited` (with `retry_after`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/account/email")]
pub async fn request_change(
    caller: AccountCaller,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let request: EmailChangeRequest = body_as(body.into_inner())?;
    caller.require_recent_auth(&state)?;
    let field = |code: &str| {
        Problem::new(ProblemCode::InvalidFields, "Some fields are not valid").with_extension(
            "fields",
            serde_json::json!([{"field": "email", "code": code}]),
        )
    };
    let new = Email::parse(request.email.trim()).map_err(|e| field(e.code()))?;
    if caller.account.email.as_ref() == Some(&new) {
        return Err(field("email_unchanged"));
    }
    let outcome = blocking(&state, move |state| {
        let now = state.clock.now();
        let templates = state.outbox.templates();
        let account = &caller.account;
        in_tx(state, |tx| {
            if let Throttle::Refused { retry_after } = hit_throttle(
                tx,
                state,
                "email_change",
                account.id,
                EMAIL_CHANGE_REQUESTS,
                EMAIL_CHANGE_WINDOW,
                now,
            )? {
                return Ok(Err(rate_limited("Too many address changes", retry_after)));
            }
            tx.close_email_changes(account.id, now)?;
            let id = random::token().map_err(unavailable)?;
            let code = random::one_time_code().map_err(unavailable)?;
            let holder = tx.account_by_email(&new)?.filter(|a| a.id != account.id);
            let code_hash = match &holder {
                // Nothing typed can match: the change can never complete.
                Some(_) => state
                    .secrets
                    .hasher
                    .hash(&bound(&id, &random::token().map_err(unavailable)?)),
                None => state.secrets.hasher.hash(&bound(&id, &code)),
            };
            let change = EmailChange {
                id,
                account_id: account.id,
                new_email: new.as_str().to_owned(),
                code_hash,
                attempts: 0,
                created_at: now,
                expires_at: now + email_change::CODE_TTL,
                closed_at: None,
            };
            tx.insert_email_change(&change)?;
            let message = match &holder {
                Some(other) => other.email.as_ref().map(|to| {
                    templates.email_change_address_taken(to, other.locale.as_deref(), now)
                }),
                None => Some(templates.email_change_code(
                    &new,
                    account.locale.as_deref(),
                    &code,
                    email_change::CODE_TTL,
                )),
            };
            if let Some(message) = message {
                state.outbox.enqueue_in(tx, &message, now)?;
            }
            tx.record(&event(&caller, AuditKind::EmailChangeRequested, now))?;
            Ok(Ok(EmailChangeStarted {
                status: "code_sent".to_owned(),
                sent_to: new.masked(),
                expires_at: change.expires_at,
                code_length: otp::CODE_DIGITS,
            }))
        })
    })
    .await;
    match outcome {
        Ok(started) => {
            state.outbox.wake();
            Ok(HttpResponse::Accepted().json(started))
        }
        Err(problem) => Ok(answer(problem)),
    }
}

/// The "undo" URL for a token.
fn undo_link(state: &AppState, token: &str) -> Result<String, RepositoryError> {
    let mut url = url::Url::parse(&state.config.account_api.email_undo_url)
        .map_err(|e| RepositoryError::Unavailable(format!("email_undo_url: {e}")))?;
    url.query_pairs_mut().append_pair("token", token);
    Ok(url.into())
}

/// Confirms the change with the code mailed to the new address: the address
/// switches, the old one is told (with an undo link), the new one gets the login
/// instructions, and every other session ends. Five wrong codes end the request.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    request_body = EmailChangeConfirmation,
    responses(
        (status = 200, body = EmailChanged),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`, `reauthentication_required`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_change_not_pending`, `otp_expired`, `otp_exhausted` (ask again)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`otp_invalid` (with `attempts_left`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/account/email/confirm")]
pub async fn confirm_change(
    caller: AccountCaller,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let EmailChangeConfirmation { code } = body_as(body.into_inner())?;
    caller.require_recent_auth(&state)?;
    let undo_token = random::token()?;
    let changed = blocking(&state, move |state| {
        let now = state.clock.now();
        let templates = state.outbox.templates();
        let hasher = &state.secrets.hasher;
        in_tx(state, |tx| {
            let refused = |code, title: &str| {
                Ok(Err(
                    Problem::new(code, title).with_detail("Ask for a new code")
                ))
            };
            // Codes sent at once take turns: each counts against the tries the one
            // before left (a read, then a write, let nine of ten be checked).
            tx.account_row_for_update(caller.account.id)?;
            let Some(mut change) = tx
                .latest_email_change(caller.account.id)?
                .filter(|c| c.closed_at.is_none())
            else {
                return refused(
                    ProblemCode::EmailChangeNotPending,
                    "No address change is waiting for a code",
                );
            };
            if now >= change.expires_at {
                return refused(ProblemCode::OtpExpired, "The code has expired");
            }
            if change.attempts >= email_change::MAX_TRIES {
                return refused(ProblemCode::OtpExhausted, "Too many wrong codes");
            }
            let typed = code.trim();
            if !hasher.verify(&bound(&change.id, typed), &change.code_hash) {
                change.attempts += 1;
                tx.update_email_change(&change)?;
                return Ok(Err(Problem::new(
                    ProblemCode::OtpInvalid,
                    "The code was not accepted",
                )
                .with_extension(
                    "attempts_left",
                    email_change::MAX_TRIES
                        .saturating_sub(change.attempts)
                        .into(),
                )));
            }
            let new = Email::parse(&change.new_email)
                .map_err(|e| RepositoryError::Corrupt(e.to_string()))?;
            let mut account = tx
                .account_by_id(caller.account.id)?
                .ok_or(RepositoryError::NotFound)?;
            let old = account.email.clone();
            let old_verified = account.email_verified;
            account.email = Some(new.clone());
            account.email_verified = true;
            account.updated_at = now;
            match tx.update_account(&account) {
                Ok(()) => {}
                // Taken since the code was sent.
                Err(RepositoryError::Conflict(_)) => {
                    change.closed_at = Some(now);
                    tx.update_email_change(&change)?;
                    return Ok(Err(Problem::new(
                        ProblemCode::EmailChangeNotPending,
                        "This address can no longer be used",
                    )));
                }
                Err(e) => return Err(e.into()),
            }
            change.closed_at = Some(now);
            tx.update_email_change(&change)?;
            let locale = account.locale.as_deref();
            if let Some(old) = &old {
                tx.insert_email_undo(&EmailUndo {
                    token_hash: hasher.hash(&undo_token),
                    account_id: account.id,
                    old_email: old.as_str().to_owned(),
                    old_email_verified: old_verified,
                    new_email: new.as_str().to_owned(),
                    created_at: now,
                    expires_at: now + email_change::UNDO_TTL,
                    used_at: None,
                })?;
                let notice = templates.email_changed_old_address(
                    old,
                    locale,
                    &new.masked(),
                    &undo_link(state, &undo_token)?,
                    email_change::UNDO_TTL,
                    now,
                );
                state.outbox.enqueue_in(tx, &notice, now)?;
            }
            let instructions = templates.email_changed_new_address(
                &new,
                locale,
                &state.config.account_api.sign_in_url,
            );
            state.outbox.enqueue_in(tx, &instructions, now)?;
            let revoked = tx.end_sessions_of(account.id, caller.claims.sid.as_deref(), now)?;
            tx.record(
                &event(&caller, AuditKind::EmailChanged, now)
                    .with_detail("sessions_revoked", revoked.to_string()),
            )?;
            Ok(Ok(EmailChanged {
                status: "changed".to_owned(),
                email: new.as_str().to_owned(),
                sessions_revoked: revoked,
            }))
        })
    })
    .await?;
    state.outbox.wake();
    Ok(HttpResponse::Ok().insert_header(no_store()).json(changed))
}

/// Undoes an e-mail change with the link mailed to the old address (no sign-in
/// needed: whoever changed the address may hold the account). The old address signs
/// in again, and every session of the account ends. Single use, 72 hours.
#[utoipa::path(
    tag = "account",
    request_body = EmailUndoRequest,
    responses(
        (status = 200, body = EmailRestored),
        (status = 404, description = "`undo_link_unknown`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`undo_link_used`, `email_taken` (the old address belongs to another account now)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`undo_link_expired`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/account/email/undo")]
pub async fn undo_change(
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let EmailUndoRequest { token } = body_as(body.into_inner())?;
    if token.len() > 128 {
        return Err(Problem::new(
            ProblemCode::UndoLinkUnknown,
            "This link is not valid",
        ));
    }
    let restored = blocking(&state, move |state| {
        let now = state.clock.now();
        let hash = state.secrets.hasher.hash(&token);
        in_tx(state, |tx| {
            let Some(undo) = tx.email_undo(&hash)? else {
                return Ok(Err(Problem::new(
                    ProblemCode::UndoLinkUnknown,
                    "This link is not valid",
                )));
            };
            if undo.used_at.is_some() {
                return Ok(Err(Problem::new(
                    ProblemCode::UndoLinkUsed,
                    "This link was already used",
                )));
            }
            if now >= undo.expires_at {
                return Ok(Err(Problem::new(
                    ProblemCode::UndoLinkExpired,
                    "This link has expired",
                )));
            }
            let old = Email::parse(&undo.old_email)
                .map_err(|e| RepositoryError::Corrupt(e.to_string()))?;
            let Some(mut account) = tx
                .account_by_id(undo.account_id)?
                .filter(|a| a.deleted_at.is_none())
            else {
                return Ok(Err(Problem::new(
                    ProblemCode::UndoLinkUnknown,
                    "This link is not valid",
                )));
            };
            if tx
                .account_by_email(&old)?
                .is_some_and(|other| other.id != account.id)
            {
                return Ok(Err(Problem::new(
                    ProblemCode::EmailTaken,
                    "The old address belongs to another account now",
                )));
            }
            if !tx.use_email_undo(&hash, now)? {
                return Ok(Err(Problem::new(
                    ProblemCode::UndoLinkUsed,
                    "This link was already used",
                )));
            }
            account.email = Some(old.clone());
            account.email_verified = undo.old_email_verified;
            account.updated_at = now;
            tx.update_account(&account)?;
            tx.close_email_changes(account.id, now)?;
            let revoked = tx.end_sessions_of(account.id, None, now)?;
            tx.record(
                &NewAuditEvent::new(AuditKind::EmailChangeUndone, Some(account.id), now)
                    .with_detail("sessions_revoked", revoked.to_string()),
            )?;
            Ok(Ok(EmailRestored {
                status: "restored".to_owned(),
                email: old.as_str().to_owned(),
            }))
        })
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(restored))
}
