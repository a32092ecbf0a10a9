//! `/api/v1/registration/…`: a migrated user follows the mailed link, sets a new
//! password under the policy, picks a second factor (or "later" = e-mail codes), and
//! the account becomes active with the `sub` it always had.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::password::RuleDescription;
use gatehouse_core::ports::{
    AccountRepository, AuditLog, MigrationRepository, RateLimits, RegistrationTokenRepository,
    RepositoryError,
};
use gatehouse_core::registration::{LinkStatus, RegistrationToken};
use gatehouse_core::{Account, AccountStatus, AuditKind, Email, NewAuditEvent};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::migration::invitations::LinkMailer;
use crate::password_pool::PoolError;
use crate::problem::Problem;
use crate::state::AppState;

/// What the "Set your password" screen needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationView {
    /// `valid`, `expired` (offer a resend) or `used`.
    pub status: String,
    /// The address the link was sent to, masked: `r***@example.com`.
    pub email: Option<String>,
    /// The next step when valid: `password`, then `second_factor`.
    pub next: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// The password policy as a checklist, in the order violations are reported.
    #[schema(value_type = Vec<Object>)]
    pub password_policy: Vec<RuleDescription>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    pub password: String,
    /// The same password again ("passwords match" on the checklist).
    pub password_confirmation: String,
}

/// The second-factor step of registration.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondFactorChoice {
    /// `second_factor`.
    pub next: String,
    /// What `POST …/complete` accepts as `second_factor`; `later` makes e-mail codes
    /// the account's second factor.
    pub choices: Vec<String>,
    pub default: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRegistration {
    /// `later` (or `email_otp`): one-time codes by e-mail.
    pub second_factor: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationCompleted {
    /// `registered`.
    pub status: String,
    /// The second factor the account now signs in with.
    pub second_factor: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResendAccepted {
    /// `accepted`, whatever the address.
    pub status: String,
    pub detail: String,
}

fn link_unknown() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "registration_link_unknown",
        "This registration link is not valid",
    )
    .with_detail("Ask for a new link")
}

fn status_name(status: LinkStatus) -> &'static str {
    match status {
        LinkStatus::Valid => "valid",
        LinkStatus::Expired => "expired",
        LinkStatus::Used => "used",
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RepositoryError> + Send + 'static,
) -> Result<T, Problem> {
    web::block(work)
        .await
        .map_err(|_| Problem::internal())?
        .map_err(|e| match e {
            RepositoryError::NotFound => link_unknown(),
            _ => Problem::database_unavailable(),
        })
}

/// The link and its account, whatever the link's status.
async fn load(
    state: &web::Data<AppState>,
    token: &str,
) -> Result<(RegistrationToken, Account), Problem> {
    if token.len() > 128 {
        return Err(link_unknown());
    }
    let hash = state.secrets.hasher.hash(token);
    let store = state.store.clone();
    blocking(move || {
        let link = store
            .registration_token(&hash)?
            .ok_or(RepositoryError::NotFound)?;
        let account = store
            .account_by_id(link.account_id)?
            .ok_or(RepositoryError::NotFound)?;
        Ok((link, account))
    })
    .await
}

/// The link and its account, refusing a link that is not valid.
async fn load_valid(
    state: &web::Data<AppState>,
    token: &str,
) -> Result<(RegistrationToken, Account), Problem> {
    let (link, account) = load(state, token).await?;
    match link.status(state.clock.now()) {
        LinkStatus::Valid if account.status == AccountStatus::PendingRegistration => {
            Ok((link, account))
        }
        LinkStatus::Valid | LinkStatus::Used => Err(Problem::new(
            StatusCode::CONFLICT,
            "registration_link_used",
            "Registration is already complete",
        )
        .with_detail("Sign in with your e-mail address and password")),
        LinkStatus::Expired => Err(Problem::new(
            StatusCode::GONE,
            "registration_link_expired",
            "This registration link has expired",
        )
        .with_detail("Ask for a new link")),
    }
}

/// The state of a registration link, the masked address and the password checklist.
#[utoipa::path(
    tag = "registration",
    params(("token" = String, Path, description = "From the mailed link's `token` parameter")),
    responses(
        (status = 200, body = RegistrationView),
        (status = 404, description = "`registration_link_unknown`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/registration/{token}")]
pub async fn get_registration(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (link, account) = load(&state, &path.into_inner()).await?;
    let mut status = link.status(state.clock.now());
    if status == LinkStatus::Valid && account.status != AccountStatus::PendingRegistration {
        status = LinkStatus::Used;
    }
    let next = (status == LinkStatus::Valid).then(|| {
        if account.password_hash.is_some() {
            "second_factor"
        } else {
            "password"
        }
        .to_owned()
    });
    Ok(HttpResponse::Ok().json(RegistrationView {
        status: status_name(status).to_owned(),
        email: account.email.as_ref().map(Email::masked),
        next,
        expires_at: link.expires_at,
        password_policy: state.config.password_policy.describe(),
    }))
}

/// Sets the new password. Every broken rule is reported at once (422 `password_policy`
/// with `violations`), so the checklist can mark them all.
#[utoipa::path(
    tag = "registration",
    params(("token" = String, Path)),
    request_body = SetPassword,
    responses(
        (status = 200, description = "Accepted: choose a second factor", body = SecondFactorChoice),
        (status = 404, description = "`registration_link_unknown`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`registration_link_used`", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`registration_link_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`password_policy`, with `violations`: the codes of every broken rule", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`busy`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/registration/{token}/password")]
pub async fn set_password(
    path: web::Path<String>,
    body: web::Json<SetPassword>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let (_, mut account) = load_valid(&state, &path.into_inner()).await?;
    let SetPassword {
        password,
        password_confirmation,
    } = body.into_inner();
    let broken = state
        .config
        .password_policy
        .check(&password, &password_confirmation);
    if !broken.is_empty() {
        let codes: Vec<&str> = broken.iter().map(|r| r.code()).collect();
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "password_policy",
            "The password does not meet the policy",
        )
        .with_extension("violations", json!(codes)));
    }
    let hash = match state.passwords.hash(password).await {
        Ok(hash) => hash,
        Err(PoolError::Busy) => {
            return Err(Problem::unavailable("busy", "Too many requests at once")
                .with_detail("Try again in a moment"));
        }
        Err(_) => return Err(Problem::internal()),
    };
    account.password_hash = Some(hash);
    account.updated_at = state.clock.now();
    let store = state.store.clone();
    blocking(move || store.update_account(&account)).await?;
    Ok(HttpResponse::Ok().json(SecondFactorChoice {
        next: "second_factor".to_owned(),
        choices: vec!["later".to_owned(), "email_otp".to_owned()],
        default: "later".to_owned(),
    }))
}

/// Finishes registration: the second factor (`later` = e-mail codes), the account
/// becomes active, the link is used up, and an audit event is written.
#[utoipa::path(
    tag = "registration",
    params(("token" = String, Path)),
    request_body = CompleteRegistration,
    responses(
        (status = 200, body = RegistrationCompleted),
        (status = 404, description = "`registration_link_unknown`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`registration_link_used`, `password_required` (set the password first)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`registration_link_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`factor_not_available`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/registration/{token}/complete")]
pub async fn complete(
    path: web::Path<String>,
    body: web::Json<CompleteRegistration>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let token = path.into_inner();
    let (link, mut account) = load_valid(&state, &token).await?;
    if !matches!(body.second_factor.as_str(), "later" | "email_otp") {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "factor_not_available",
            "That second factor cannot be chosen here",
        )
        .with_extension("choices", json!(["later", "email_otp"])));
    }
    if account.password_hash.is_none() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "password_required",
            "Set a password first",
        ));
    }
    let now = state.clock.now();
    account
        .apply(now, AccountStatus::complete_registration)
        .map_err(|_| Problem::internal())?;
    // The link reached this address, so the address is proven.
    account.email_verified = true;
    let store = state.store.clone();
    let won = blocking(move || {
        store.transaction(|tx| {
            if !tx.use_registration_token(&link.token_hash, now)? {
                return Ok(false);
            }
            tx.update_account(&account)?;
            if let Some(mut migration) = tx.migration_of(account.id)? {
                migration.registered(now);
                tx.update_migration(&migration)?;
            }
            tx.record(
                &NewAuditEvent::new(AuditKind::RegistrationCompleted, Some(account.id), now)
                    .with_detail("second_factor", "email_otp"),
            )?;
            Ok(true)
        })
    })
    .await?;
    if !won {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "registration_link_used",
            "Registration is already complete",
        ));
    }
    Ok(HttpResponse::Ok().json(RegistrationCompleted {
        status: "registered".to_owned(),
        second_factor: "email_otp".to_owned(),
    }))
}

/// The start of the current fixed window of `length`.
pub(crate) fn window_start(now: DateTime<Utc>, length: TimeDelta) -> DateTime<Utc> {
    let len = length.num_milliseconds().max(1);
    let start = now.timestamp_millis() - now.timestamp_millis().rem_euclid(len);
    DateTime::from_timestamp_millis(start).unwrap_or(now)
}

/// Asks for a new registration link. The answer is always 202 with the same body,
/// given before any lookup, so neither body nor timing tells whether the address is
/// known or pending; only a pending account is mailed a new link (which voids the old
/// one). Limited per address (silently) and per client IP (429).
#[utoipa::path(
    tag = "registration",
    request_body = ResendRequest,
    responses(
        (status = 202, body = ResendAccepted),
        (status = 429, description = "`rate_limited`: too many requests from this client", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/registration/resend")]
pub async fn resend(
    req: HttpRequest,
    body: web::Json<ResendRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let config = &state.config.migration;
    let now = state.clock.now();
    let window = TimeDelta::seconds(i64::from(config.resend_window_seconds));
    let start = window_start(now, window);
    // The peer address, not X-Forwarded-For: a client must not choose its own bucket.
    let ip = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    let ip_key = state.secrets.hasher.hash(&format!("resend:ip:{ip}"));
    let store = state.store.clone();
    let hits = blocking(move || store.transaction(|tx| tx.hit(&ip_key, start))).await?;
    if hits > config.resend_per_ip {
        let retry = (start + window - now).num_seconds().max(1);
        let mut res = actix_web::ResponseError::error_response(
            &Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
            )
            .with_detail("Try again later"),
        );
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&retry.to_string()) {
            res.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
        return Ok(res);
    }
    if let Ok(email) = Email::parse(body.email.trim()) {
        let shared = state.clone();
        // After the answer: the lookup and the mail must not shape its timing.
        actix_web::rt::spawn(async move {
            let work = move || resend_link(&shared, &email, start);
            match web::block(work).await {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "resending a registration link failed"),
                Err(e) => tracing::warn!(error = %e, "resending a registration link failed"),
            }
        });
    }
    Ok(HttpResponse::Accepted().json(ResendAccepted {
        status: "accepted".to_owned(),
        detail: "If this address belongs to an account awaiting registration, a new link \
                 is on its way."
            .to_owned(),
    }))
}

/// Mails a new link if `email` names a pending account and its limit allows; true
/// when a mail was queued.
fn resend_link(
    state: &AppState,
    email: &Email,
    window_start: DateTime<Utc>,
) -> Result<bool, RepositoryError> {
    let now = state.clock.now();
    let key = state
        .secrets
        .hasher
        .hash(&format!("resend:address:{}", email.normalized()));
    let mailer = LinkMailer {
        hasher: &state.secrets.hasher,
        outbox: &state.outbox,
        config: &state.config.migration,
    };
    let limit = state.config.migration.resend_per_address;
    let sent = state.store.transaction(|tx| {
        if tx.hit(&key, window_start)? > limit {
            return Ok(false);
        }
        match tx.account_by_email(email)? {
            Some(account) if account.status == AccountStatus::PendingRegistration => {
                mailer.send_link(tx, &account, now, now, "resend")?;
                Ok(true)
            }
            _ => Ok(false),
        }
    })?;
    if sent {
        state.outbox.wake();
    }
    Ok(sent)
}
