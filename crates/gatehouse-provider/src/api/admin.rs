//! `/api/v1/admin/…`: operating Gatehouse without touching the database. Every call
//! needs a `client_credentials` token with the `gatehouse:admin` scope and is audited.

use actix_web::{HttpResponse, get, post, web};
use futures_util::StreamExt as _;
use gatehouse_core::ports::{AccountRepository, AuditLog, RepositoryError};
use gatehouse_core::{AccountId, AccountStatus, AuditKind, NewAuditEvent};
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use utoipa::{IntoParams, ToSchema};

use super::bearer::AdminCaller;
use crate::migration::invitations::LinkMailer;
use crate::migration::status::{MigrationStatus, migration_status};
use crate::migration::{ImportError, ImportFormat, ImportOptions, RowReport, import};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Validate and report without writing.
    #[serde(default)]
    pub dry_run: bool,
    /// Apply rows that changed since an earlier import.
    #[serde(default)]
    pub update: bool,
}

/// The end of an import run.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub rows: u64,
    pub dry_run: bool,
    /// Rows per outcome (`created`, `unchanged`, `changed`, `updated`, `email_shared`, …,
    /// as a row's `outcome`); outcomes no row had are left out.
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    pub outcomes: std::collections::BTreeMap<&'static str, u64>,
    /// Every row not `created`, `unchanged` or `updated`, in input order: the ones that
    /// need a look (at most 10,000).
    pub problems: Vec<RowReport>,
    pub problems_truncated: bool,
}

const MAX_PROBLEMS: usize = 10_000;

pub(crate) fn audit_admin(
    state: &AppState,
    kind: AuditKind,
    account: Option<AccountId>,
    client: &str,
) -> NewAuditEvent {
    NewAuditEvent::new(kind, account, state.clock.now())
        .with_detail("admin_client", client.to_owned())
}

/// The import's spool file could not be made or written: logged, answered 500.
fn spool_failed(e: std::io::Error) -> Problem {
    tracing::error!(error = %e, "spooling an import body failed");
    Problem::internal()
}

/// Imports accounts from a JSON Lines body (one record per line, fields as the CLI's
/// import). The body is spooled to a temporary file, so it may be large
/// (`migration.max_import_bytes`), and the same streaming importer as the CLI runs.
#[utoipa::path(
    tag = "admin",
    params(ImportQuery),
    request_body(content = Option<String>, content_type = "application/x-ndjson", description = "One JSON object per line (none: nothing to import): legacy_subject, email, username, given_name, family_name, locale, zoneinfo, email_verified, created_at, password_hash, sms_phone, totp_secret"),
    responses(
        (status = 200, body = ImportResult),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/admin/accounts/import")]
pub async fn import_accounts(
    admin: AdminCaller,
    query: web::Query<ImportQuery>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let spool = spool(body, state.config.migration.max_import_bytes).await?;
    let (dry_run, update) = (query.dry_run, query.update);
    let client = admin.client_id().to_owned();
    let shared = state.clone();
    let result = web::block(move || run_import(&shared, &spool, dry_run, update, &client))
        .await?
        .map_err(import_failed)?;
    Ok(HttpResponse::Ok().json(result))
}

/// The body, written to a temporary file as it arrives (an import may be larger than
/// is wise to hold in memory), refused once it passes `limit` bytes.
async fn spool(mut body: web::Payload, limit: u64) -> Result<tempfile::NamedTempFile, Problem> {
    let mut spool = tempfile::NamedTempFile::new().map_err(spool_failed)?;
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            Problem::new(ProblemCode::InvalidRequest, "The body could not be read")
                .with_detail(e.to_string())
        })?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(
                Problem::new(ProblemCode::PayloadTooLarge, "Request body too large")
                    .with_extension("limit", serde_json::json!(limit)),
            );
        }
        // Small synchronous writes to a local temporary file.
        spool.write_all(&chunk).map_err(spool_failed)?;
    }
    Ok(spool)
}

/// Imports the spooled JSON lines (blocking) and audits the run with its counts;
/// keeps the first `MAX_PROBLEMS` rows that were not imported.
fn run_import(
    state: &AppState,
    spool: &tempfile::NamedTempFile,
    dry_run: bool,
    update: bool,
    client: &str,
) -> Result<ImportResult, ImportError> {
    let migration = &state.config.migration;
    let options = ImportOptions {
        dry_run,
        update,
        keep_passwords: migration.keep_passwords,
        totp_sealer: migration
            .import_totp_secrets
            .then_some(&state.secrets.sealer),
        batch_size: migration.import_batch_size as usize,
    };
    let mut problems = Vec::new();
    let mut truncated = false;
    let mut on_row = |row: &RowReport| {
        if !matches!(row.outcome, "created" | "unchanged" | "updated") {
            if problems.len() < MAX_PROBLEMS {
                problems.push(row.clone());
            } else {
                truncated = true;
            }
        }
    };
    let summary = import(
        &state.store,
        spool.path(),
        ImportFormat::Jsonl,
        options,
        state.clock.now(),
        &mut on_row,
        &mut |_, _, _| {},
    )?;
    let mut event = audit_admin(state, AuditKind::AccountImported, None, client)
        .with_detail("rows", summary.rows.to_string())
        .with_detail("dry_run", summary.dry_run.to_string());
    for (outcome, count) in &summary.outcomes {
        event = event.with_detail(outcome, count.to_string());
    }
    state.store.record(&event)?;
    Ok(ImportResult {
        rows: summary.rows,
        dry_run: summary.dry_run,
        outcomes: summary.outcomes,
        problems,
        problems_truncated: truncated,
    })
}

/// 400 `import_invalid` for input that cannot be read; a store failure as any other.
fn import_failed(error: ImportError) -> Problem {
    match error {
        ImportError::Input(e) => {
            Problem::new(ProblemCode::ImportInvalid, "The import cannot be read")
                .with_detail(e.to_string())
        }
        ImportError::Database(e) => e.into(),
    }
}

/// Accounts per migration state, and per state by age.
#[utoipa::path(
    tag = "admin",
    responses(
        (status = 200, body = MigrationStatus),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/admin/migration/status")]
pub async fn get_migration_status(
    _admin: AdminCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let shared = state.clone();
    let status = web::block(move || migration_status(&shared.store, shared.clock.now()))
        .await?
        .map_err(Problem::from)?;
    Ok(HttpResponse::Ok().json(status))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkSent {
    /// `sent`.
    pub status: String,
}

/// Mails a pending account a new registration link (older links stop working).
#[utoipa::path(
    tag = "admin",
    params(("account_id" = String, Path)),
    responses(
        (status = 202, body = LinkSent),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`account_not_pending`: registration is already complete", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/admin/accounts/{account_id}/registration-link")]
pub async fn resend_registration_link(
    admin: AdminCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = uuid::Uuid::parse_str(&path.into_inner())
        .map(AccountId)
        .map_err(|_| Problem::not_found())?;
    let shared = state.clone();
    let sent = web::block(move || {
        let state = shared.as_ref();
        let now = state.clock.now();
        let mailer = LinkMailer {
            hasher: &state.secrets.hasher,
            outbox: &state.outbox,
            config: &state.config.migration,
        };
        state.store.transaction(|tx| {
            let account = tx.account_by_id(id)?.ok_or(RepositoryError::NotFound)?;
            if account.status != AccountStatus::PendingRegistration {
                return Ok(false);
            }
            mailer.send_link(
                tx,
                &account,
                now,
                now,
                &format!("admin:{}", admin.client_id()),
            )?;
            Ok(true)
        })
    })
    .await?
    .map_err(|e| match e {
        RepositoryError::NotFound => Problem::not_found(),
        _ => Problem::database_unavailable(),
    })?;
    if !sent {
        return Err(Problem::new(
            ProblemCode::AccountNotPending,
            "This account has completed registration",
        ));
    }
    state.outbox.wake();
    Ok(HttpResponse::Accepted().json(LinkSent {
        status: "sent".to_owned(),
    }))
}
