//! The importer: streams an old user base through the core's migration planner into
//! the database, in batched transactions, reporting one outcome per row.
//!
//! Rows are keyed by `legacy_subject` (the OIDC `sub` here): a row whose account
//! exists with the same content is `unchanged`, so a second run changes nothing; a
//! changed row is `changed` (left alone) unless the run updates, then `updated`.
//! Conflicts and invalid rows are reported and skipped, never merged, never fatal.

use chrono::{DateTime, Utc};
use gatehouse_core::factor::PHONE_ENDING_LABEL;
use gatehouse_core::migration::{LegacyRecord, MigrationPlanner, PlannedIdentity, non_blank};
use gatehouse_core::ports::{
    AccountImport, AccountRepository as _, MigrationRepository as _, RepositoryError, UniqueField,
};
use gatehouse_core::registration::AccountMigration;
use gatehouse_core::{Account, AccountStatus, Factor, FactorId, FactorKind, FactorStatus};
use gatehouse_store::{Store, Tx};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use utoipa::ToSchema;

use super::reader::{ImportFormat, rows};
use crate::crypto::Sealer;
use crate::factors::totp;

/// How a run behaves.
#[derive(Clone, Copy, Debug)]
pub struct ImportOptions<'a> {
    /// Validate and report, write nothing.
    pub dry_run: bool,
    /// Apply changed rows to their accounts (otherwise they are reported as `changed`).
    pub update: bool,
    /// Keep `password_hash` (configuration `migration.keep_passwords`).
    pub keep_passwords: bool,
    /// Import `totp_secret` as an active TOTP factor sealed with this (configuration
    /// `migration.import_totp_secrets`); `None` leaves old secrets behind.
    pub totp_sealer: Option<&'a Sealer>,
    pub batch_size: usize,
}

/// One row's fate, as written to the report (and in the admin API's import result).
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct RowReport {
    /// The row's line in the input, from 1.
    pub line: u64,
    /// The row's subject; absent when the row could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub legacy_subject: Option<String>,
    /// `created`, `unchanged`, `changed`, `updated`; or why the row was skipped:
    /// `row_invalid`, `email_missing`, `email_invalid`, `email_shared`, `email_taken`,
    /// `duplicate_subject`, `subject_invalid`, `subject_taken`, `username_invalid`,
    /// `username_shared`, `username_taken`, `locale_invalid`, `zoneinfo_invalid`,
    /// `password_hash_invalid`, `totp_secret_invalid`.
    pub outcome: &'static str,
    /// The other records or accounts involved in a conflict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<String>,
    /// `row_invalid`: why the row could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<String>,
    /// `changed` and `updated` rows: the account fields the row differs in (`email`,
    /// `username`, `email_verified`, `given_name`, `family_name`, `locale`,
    /// `zoneinfo`). None listed: only fields an update never applies differ
    /// (`password_hash`, `sms_phone`, `totp_secret`, `created_at`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<&'static str>,
}

/// Counts per outcome for the end of a run.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ImportSummary {
    pub rows: u64,
    pub dry_run: bool,
    pub outcomes: BTreeMap<&'static str, u64>,
}

impl ImportSummary {
    fn count(&mut self, report: &RowReport) {
        self.rows += 1;
        *self.outcomes.entry(report.outcome).or_default() += 1;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the input: {0}")]
    Input(#[from] std::io::Error),
    #[error("the database failed: {0}")]
    Database(#[from] RepositoryError),
}

/// Where the run is, for a progress bar: the pass (1–3), rows read in it, and the
/// row count once the first pass has found it.
pub type Progress<'a> = &'a mut dyn FnMut(u8, u64, Option<u64>);

/// Digest of a record's content: an unchanged row is recognised on a later run.
fn fingerprint(record: &LegacyRecord) -> String {
    use base64::Engine as _;
    let canonical = serde_json::to_vec(record).unwrap_or_default();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &canonical);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

fn text(field: &Option<String>) -> Option<String> {
    non_blank(field).map(str::to_owned)
}

/// A row in a batch: decided by the planner already, or waiting for the database.
enum Entry {
    Decided(RowReport),
    Pending(Box<Pending>),
}

/// A planned row waiting for its batch.
struct Pending {
    line: u64,
    record: LegacyRecord,
    identity: PlannedIdentity,
}

/// Runs an import of `path`; `report` sees every row's outcome in input order.
pub fn import(
    store: &Store,
    path: &Path,
    format: ImportFormat,
    options: ImportOptions<'_>,
    now: DateTime<Utc>,
    report: &mut dyn FnMut(&RowReport),
    progress: Progress<'_>,
) -> Result<ImportSummary, ImportError> {
    let mut planner = MigrationPlanner::new();
    let mut total = 0;
    for (_, row) in rows(path, format)? {
        if let Ok(record) = row {
            planner.observe(&record);
        }
        tick(progress, 1, total, None);
        total += 1;
    }
    if planner.needs_suspect_pass() {
        for (n, (_, row)) in rows(path, format)?.enumerate() {
            if let Ok(record) = row {
                planner.observe_suspects(&record);
            }
            tick(progress, 2, n as u64, Some(total));
        }
    }
    let mut summary = ImportSummary {
        dry_run: options.dry_run,
        ..ImportSummary::default()
    };
    let mut emit = |r: RowReport, summary: &mut ImportSummary| {
        summary.count(&r);
        report(&r);
    };
    let mut batch = Vec::with_capacity(options.batch_size);
    for (n, (line, row)) in rows(path, format)?.enumerate() {
        tick(progress, 3, n as u64, Some(total));
        let record = match row {
            Ok(record) => record,
            Err(error) => {
                batch.push(Entry::Decided(RowReport {
                    line,
                    legacy_subject: None,
                    outcome: "row_invalid",
                    with: Vec::new(),
                    error: Some(error),
                    fields: Vec::new(),
                }));
                continue;
            }
        };
        let planned = planner.classify(&record);
        match planned.identity {
            Some(identity) => batch.push(Entry::Pending(Box::new(Pending {
                line,
                record,
                identity,
            }))),
            None => {
                let with = match planned.outcome {
                    gatehouse_core::migration::Outcome::EmailShared { ref with }
                    | gatehouse_core::migration::Outcome::UsernameShared { ref with } => {
                        with.clone()
                    }
                    _ => Vec::new(),
                };
                batch.push(Entry::Decided(RowReport {
                    line,
                    legacy_subject: Some(planned.legacy_subject),
                    outcome: planned.outcome.code(),
                    with,
                    error: None,
                    fields: Vec::new(),
                }));
            }
        }
        if batch.len() >= options.batch_size {
            for r in write_batch(store, std::mem::take(&mut batch), options, now)? {
                emit(r, &mut summary);
            }
        }
    }
    for r in write_batch(store, batch, options, now)? {
        emit(r, &mut summary);
    }
    progress(3, total, Some(total));
    Ok(summary)
}

fn tick(progress: Progress<'_>, pass: u8, n: u64, total: Option<u64>) {
    if n.is_multiple_of(10_000) {
        progress(pass, n, total);
    }
}

/// Decides and (unless dry) writes one batch in one transaction. The reports come
/// back in input order.
fn write_batch(
    store: &Store,
    batch: Vec<Entry>,
    options: ImportOptions<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<RowReport>, RepositoryError> {
    let pending: Vec<&Pending> = batch
        .iter()
        .filter_map(|entry| match entry {
            Entry::Pending(p) => Some(p.as_ref()),
            Entry::Decided(_) => None,
        })
        .collect();
    let mut decided = if pending.is_empty() {
        Vec::new()
    } else {
        store.transaction(|tx| decide_and_write(tx, &pending, options, now))?
    }
    .into_iter();
    Ok(batch
        .into_iter()
        .filter_map(|entry| match entry {
            Entry::Decided(report) => Some(report),
            Entry::Pending(_) => decided.next(),
        })
        .collect())
}

fn decide_and_write(
    tx: &Tx<'_>,
    batch: &[&Pending],
    options: ImportOptions<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<RowReport>, RepositoryError> {
    let subjects: Vec<String> = batch
        .iter()
        .map(|p| p.identity.subject.to_string())
        .collect();
    let emails: Vec<String> = batch
        .iter()
        .map(|p| p.identity.email.normalized().to_owned())
        .collect();
    let usernames: Vec<String> = batch
        .iter()
        .filter_map(|p| p.identity.legacy_username.as_ref())
        .map(|u| u.normalized().to_owned())
        .collect();
    let mut existing: HashMap<String, (Account, Option<AccountMigration>)> = tx
        .accounts_by_subjects(&subjects)?
        .into_iter()
        .map(|(a, m)| (a.subject.to_string(), (a, m)))
        .collect();
    let email_owners: HashMap<String, String> =
        tx.subjects_by_emails(&emails)?.into_iter().collect();
    let username_owners: HashMap<String, String> = if usernames.is_empty() {
        HashMap::new()
    } else {
        tx.subjects_by_usernames(&usernames)?.into_iter().collect()
    };

    let mut reports = Vec::with_capacity(batch.len());
    let mut inserts = Vec::new();
    let mut factors = Vec::new();
    for pending in batch.iter().copied() {
        let subject = pending.identity.subject.to_string();
        let report = |outcome: &'static str, with: Vec<String>| RowReport {
            line: pending.line,
            legacy_subject: Some(subject.clone()),
            outcome,
            with,
            error: None,
            fields: Vec::new(),
        };
        // Another account (another subject) already holds this address or username.
        let taken_by = |owners: &HashMap<String, String>, key: &str| {
            owners.get(key).filter(|owner| **owner != subject).cloned()
        };
        if let Some(owner) = taken_by(&email_owners, pending.identity.email.normalized()) {
            reports.push(report("email_taken", vec![owner]));
            continue;
        }
        let username_key = pending
            .identity
            .legacy_username
            .as_ref()
            .map(|u| u.normalized());
        if let Some(owner) = username_key.and_then(|k| taken_by(&username_owners, k)) {
            reports.push(report("username_taken", vec![owner]));
            continue;
        }
        let print = fingerprint(&pending.record);
        match existing.remove(&subject) {
            Some((_, Some(migration))) if migration.fingerprint == print => {
                reports.push(report("unchanged", Vec::new()));
            }
            Some((_, None)) => {
                // Created here, not imported: an import never takes it over.
                reports.push(report("subject_taken", Vec::new()));
            }
            Some((account, _)) if !options.update => reports.push(RowReport {
                fields: changed_fields(&account, pending),
                ..report("changed", Vec::new())
            }),
            Some((mut account, Some(mut migration))) => {
                let fields = changed_fields(&account, pending);
                apply_profile(&mut account, pending, now);
                migration.fingerprint = print;
                migration.updated_at = now;
                if !options.dry_run {
                    match tx.update_account(&account) {
                        Err(RepositoryError::Conflict(UniqueField::Email)) => {
                            reports.push(report("email_taken", Vec::new()));
                            continue;
                        }
                        other => other?,
                    }
                    tx.update_migration(&migration)?;
                }
                reports.push(RowReport {
                    fields,
                    ..report("updated", Vec::new())
                });
            }
            None => {
                let (account, old_factors) = new_account(pending, options, now)?;
                let migration = AccountMigration::imported(account.id, print, now);
                factors.extend(old_factors);
                inserts.push((account, migration));
                reports.push(report("created", Vec::new()));
            }
        }
    }
    if !options.dry_run {
        tx.insert_imported(&inserts, &factors)?;
    }
    Ok(reports)
}

/// Copies a record's profile onto an account.
/// The account fields a row would change, named as the input names them.
fn changed_fields(account: &Account, pending: &Pending) -> Vec<&'static str> {
    let mut after = account.clone();
    apply_profile(&mut after, pending, account.updated_at);
    [
        ("email", account.email != after.email),
        ("username", account.legacy_username != after.legacy_username),
        (
            "email_verified",
            account.email_verified != after.email_verified,
        ),
        ("given_name", account.given_name != after.given_name),
        ("family_name", account.family_name != after.family_name),
        ("locale", account.locale != after.locale),
        ("zoneinfo", account.zoneinfo != after.zoneinfo),
    ]
    .into_iter()
    .filter_map(|(field, differs)| differs.then_some(field))
    .collect()
}

fn apply_profile(account: &mut Account, pending: &Pending, now: DateTime<Utc>) {
    let record = &pending.record;
    account.email = Some(pending.identity.email.clone());
    account.legacy_username = pending.identity.legacy_username.clone();
    account.email_verified = record.email_verified.unwrap_or(false);
    account.given_name = text(&record.given_name);
    account.family_name = text(&record.family_name);
    account.locale = text(&record.locale);
    account.zoneinfo = text(&record.zoneinfo);
    account.updated_at = now;
}

/// The account a new row becomes, with the factors it brings: a retired SMS factor,
/// and its authenticator app when the run imports TOTP secrets.
fn new_account(
    pending: &Pending,
    options: ImportOptions<'_>,
    now: DateTime<Utc>,
) -> Result<(Account, Vec<Factor>), RepositoryError> {
    let record = &pending.record;
    let kept_hash = text(&record.password_hash).filter(|_| options.keep_passwords);
    let status = if kept_hash.is_some() {
        AccountStatus::Active
    } else {
        AccountStatus::PendingRegistration
    };
    let mut account = Account::new(
        pending.identity.subject.clone(),
        Some(pending.identity.email.clone()),
        status,
        now,
    );
    apply_profile(&mut account, pending, now);
    account.password_hash = kept_hash;
    account.created_at = record.created_at.unwrap_or(now);
    let factor = |kind, label| Factor {
        id: FactorId::new(),
        account_id: account.id,
        kind,
        status: FactorStatus::Active,
        label: Some(label),
        public_data: None,
        secret: None,
        created_at: now,
        last_used_at: None,
    };
    let mut factors = Vec::new();
    if let Some(phone) = text(&record.sms_phone) {
        let label = format!("{PHONE_ENDING_LABEL}{}", last_digits(&phone));
        factors.push(factor(FactorKind::Sms, label));
    }
    if let (Some(sealer), Some(encoded)) = (options.totp_sealer, text(&record.totp_secret)) {
        // The planner has checked the base32 alphabet and length.
        let secret = totp_rs::Secret::try_from_base32(encoded.trim_end_matches('='))
            .map_err(|_| RepositoryError::Corrupt("totp secret: not base32".to_owned()))?;
        let mut app = factor(FactorKind::Totp, "Authenticator app".to_owned());
        let sealed = sealer
            .seal(secret.as_bytes(), &totp::seal_context(app.id))
            .map_err(|e| RepositoryError::Unavailable(format!("sealing a totp secret: {e}")))?;
        app.secret = Some(sealed);
        factors.push(app);
    }
    Ok((account, factors))
}

/// The last two digits of a phone number: enough to recognise it, not to call it.
fn last_digits(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(2)..].iter().collect()
}
