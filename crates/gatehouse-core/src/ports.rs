//! The ports: what the domain needs from the outside world. `gatehouse-store`
//! implements them over SQL; tests may implement them in memory.

use chrono::{DateTime, TimeDelta, Utc};

use crate::account::{Account, AccountId, Subject};
use crate::audit::{AuditEvent, NewAuditEvent};
use crate::authorization::PushedRequest;
use crate::backchannel::LogoutNotice;
use crate::client::{Client, ClientId};
use crate::consent::ConsentGrant;
use crate::email::Email;
use crate::email_change::{EmailChange, EmailUndo};
use crate::factor::{Factor, FactorId};
use crate::factor_guard::Attempts;
use crate::grant::{AuthorizationCode, RefreshToken, Session};
use crate::login::LoginRequest;
use crate::mail::{MailId, OutboxMail};
use crate::otp::OtpChallenge;
use crate::push::{PushChallenge, PushDevice, PushStatus};
use crate::recovery_code::RecoveryCode;
use crate::registration::{AccountMigration, MigrationState, RegistrationToken};
use crate::signing_key::SigningKeyRecord;
use crate::username::LegacyUsername;
use crate::webauthn::{Ceremony, WebauthnCredential};

/// Which unique value a write collided with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UniqueField {
    Id,
    Subject,
    Email,
    Username,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryError {
    #[error("{0:?} is already taken")]
    Conflict(UniqueField),
    #[error("no such record")]
    NotFound,
    /// A stored row no longer parses as a domain value.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// A concurrent write won (SQLite busy, PostgreSQL serialization failure): retry.
    #[error("a concurrent change interfered: {0}")]
    Contention(String),
    /// The database cannot be reached or answered with an error.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

pub type RepositoryResult<T> = Result<T, RepositoryError>;

pub trait AccountRepository {
    fn insert_account(&self, account: &Account) -> RepositoryResult<()>;
    /// Replaces every field of the account with this id.
    fn update_account(&self, account: &Account) -> RepositoryResult<()>;
    /// Removes the account and its factors; its audit events stay.
    fn delete_account(&self, id: AccountId) -> RepositoryResult<()>;
    fn account_by_id(&self, id: AccountId) -> RepositoryResult<Option<Account>>;
    /// Holds the account's row until the transaction ends, so transactions that read,
    /// then write, counts kept for one account take turns.
    fn account_row_for_update(&self, id: AccountId) -> RepositoryResult<()>;
    fn account_by_subject(&self, subject: &Subject) -> RepositoryResult<Option<Account>>;
    fn account_by_email(&self, email: &Email) -> RepositoryResult<Option<Account>>;
    fn account_by_username(&self, username: &LegacyUsername) -> RepositoryResult<Option<Account>>;
    fn count_accounts(&self) -> RepositoryResult<u64>;
    /// Accounts whose e-mail address, given name or family name starts with `prefix`
    /// (case-insensitive; every account when empty), erased ones left out, ordered by
    /// id, after `after`, at most `limit`.
    fn search_accounts(
        &self,
        prefix: &str,
        after: Option<AccountId>,
        limit: u32,
    ) -> RepositoryResult<Vec<Account>>;
    /// Erases the personal data of an account and everything hanging off it (factors,
    /// sessions, tokens, pending changes, links, mails to its address), keeping the
    /// account row as a tombstone and its audit events without their IP and user agent.
    fn erase_account(&self, id: AccountId, at: DateTime<Utc>) -> RepositoryResult<()>;
}

/// Bulk reads and writes for the importer: one query per batch, not per row.
pub trait AccountImport {
    /// The accounts with these subjects, each with its migration record if it has one.
    fn accounts_by_subjects(
        &self,
        subjects: &[String],
    ) -> RepositoryResult<Vec<(Account, Option<AccountMigration>)>>;
    /// `(normalized e-mail, subject)` of the accounts holding any of these addresses.
    fn subjects_by_emails(&self, normalized: &[String]) -> RepositoryResult<Vec<(String, String)>>;
    /// `(normalized username, subject)` of the accounts holding any of these usernames.
    fn subjects_by_usernames(
        &self,
        normalized: &[String],
    ) -> RepositoryResult<Vec<(String, String)>>;
    /// Accounts ordered by id, after `after`, at most `limit`: for reports that walk them all.
    fn accounts_after(
        &self,
        after: Option<AccountId>,
        limit: u32,
    ) -> RepositoryResult<Vec<Account>>;
    /// Inserts new accounts with their migration records and the factors they bring
    /// (retired SMS, kept authenticator apps), in one statement per table.
    fn insert_imported(
        &self,
        rows: &[(Account, AccountMigration)],
        factors: &[Factor],
    ) -> RepositoryResult<()>;
}

/// How many migrated accounts are in one state, changed within one age bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MigrationCount {
    pub state: MigrationState,
    pub age: &'static str,
    pub count: u64,
}

pub trait MigrationRepository {
    fn insert_migration(&self, migration: &AccountMigration) -> RepositoryResult<()>;
    fn update_migration(&self, migration: &AccountMigration) -> RepositoryResult<()>;
    fn migration_of(&self, account: AccountId) -> RepositoryResult<Option<AccountMigration>>;
    /// Counts per state (`expired` as of `now`) and age bucket; empty cells left out.
    fn migration_counts(&self, now: DateTime<Utc>) -> RepositoryResult<Vec<MigrationCount>>;
    /// Accounts awaiting an invitation: never invited, or — when `remind_before` is
    /// given — last invited before it and not registered. Ordered by account id,
    /// after `after`, at most `limit`.
    fn invitation_candidates(
        &self,
        remind_before: Option<DateTime<Utc>>,
        after: Option<AccountId>,
        limit: u32,
    ) -> RepositoryResult<Vec<AccountMigration>>;
}

pub trait RegistrationTokenRepository {
    fn insert_registration_token(&self, token: &RegistrationToken) -> RepositoryResult<()>;
    fn registration_token(&self, token_hash: &str) -> RepositoryResult<Option<RegistrationToken>>;
    /// Voids the account's unused links (a new one replaces them); returns how many.
    fn void_registration_tokens(
        &self,
        account: AccountId,
        at: DateTime<Utc>,
    ) -> RepositoryResult<u64>;
    /// Marks the link used only if it was neither used nor voided: false means another
    /// request won, so one link completes one registration.
    fn use_registration_token(&self, token_hash: &str, at: DateTime<Utc>)
    -> RepositoryResult<bool>;
}

/// Fixed-window counters that throttle guessable or abusable requests, shared by
/// every instance through the database.
pub trait RateLimits {
    /// Counts one hit on `key` in the window that started at `window_start` (older
    /// windows are forgotten); returns the hits in this window, this one included.
    fn hit(&self, key: &str, window_start: DateTime<Utc>) -> RepositoryResult<u32>;
    /// The hits on `key` in the window that started at `window_start`, counting none.
    fn hits(&self, key: &str, window_start: DateTime<Utc>) -> RepositoryResult<u32>;
    /// Forgets the counter of `key` (an operator unlocking an account).
    fn clear_hits(&self, key: &str) -> RepositoryResult<()>;
    /// Forgets the counters of every key that starts with `prefix` followed by `/`
    /// (counts kept per account and client address, cleared per account).
    fn clear_hits_under(&self, prefix: &str) -> RepositoryResult<()>;
    /// Takes back one hit on `key` in the window that started at `window_start`
    /// (an attempt counted before it was checked, which then succeeded).
    fn forgive_hit(&self, key: &str, window_start: DateTime<Utc>) -> RepositoryResult<()>;
}

pub trait FactorRepository {
    fn insert_factor(&self, factor: &Factor) -> RepositoryResult<()>;
    fn update_factor(&self, factor: &Factor) -> RepositoryResult<()>;
    fn delete_factor(&self, id: FactorId) -> RepositoryResult<()>;
    fn factor_by_id(&self, id: FactorId) -> RepositoryResult<Option<Factor>>;
    /// Oldest first.
    fn factors_of(&self, account: AccountId) -> RepositoryResult<Vec<Factor>>;
}

/// Per-factor guards (see [`crate::factor_guard`]). An enrolled factor gets its guard
/// row with it; `take_attempt` adds one for a factor that has none (an imported one).
pub trait FactorGuardRepository {
    /// The guard of a new factor: no attempts, no step used.
    fn open_guard(&self, factor: FactorId, now: DateTime<Utc>) -> RepositoryResult<()>;
    /// Counts one attempt at proving `factor`, opening a new window when the current
    /// one is older than `window`. Concurrent attempts are counted one by one.
    fn take_attempt(
        &self,
        factor: FactorId,
        now: DateTime<Utc>,
        window: TimeDelta,
    ) -> RepositoryResult<Attempts>;
    /// A correct proof: the count starts again from zero.
    fn clear_attempts(&self, factor: FactorId) -> RepositoryResult<()>;
    /// Records `step` as the last TOTP step accepted for `factor`, only if it is later
    /// than the one recorded: `false` means it (or a later one) was accepted before,
    /// so exactly one of two racing uses of a code wins.
    fn advance_step(&self, factor: FactorId, step: i64) -> RepositoryResult<bool>;
}

pub trait RecoveryCodeRepository {
    fn insert_recovery_code(&self, code: &RecoveryCode) -> RepositoryResult<()>;
    fn unused_recovery_codes(&self, factor: FactorId) -> RepositoryResult<Vec<RecoveryCode>>;
    /// Marks the code used, only if it was not: `false` means another use won.
    fn use_recovery_code(&self, id: &str, at: DateTime<Utc>) -> RepositoryResult<bool>;
}

/// Push devices and their login challenges (see [`crate::push`]).
pub trait PushRepository {
    fn insert_push_device(&self, device: &PushDevice) -> RepositoryResult<()>;
    fn update_push_device(&self, device: &PushDevice) -> RepositoryResult<()>;
    /// The device of a push factor.
    fn push_device(&self, factor: FactorId) -> RepositoryResult<Option<PushDevice>>;
    fn push_device_by_ticket(&self, ticket_hash: &str) -> RepositoryResult<Option<PushDevice>>;
    fn insert_push_challenge(&self, challenge: &PushChallenge) -> RepositoryResult<()>;
    fn push_challenge(&self, id: &str) -> RepositoryResult<Option<PushChallenge>>;
    /// The newest challenge of a login on one factor.
    fn latest_push_challenge(
        &self,
        login_request_id: &str,
        factor: FactorId,
    ) -> RepositoryResult<Option<PushChallenge>>;
    /// The factor's challenges still waiting at `now`, oldest first.
    fn pending_push_challenges(
        &self,
        factor: FactorId,
        now: DateTime<Utc>,
    ) -> RepositoryResult<Vec<PushChallenge>>;
    /// Moves a challenge from `from` to `to`, only if it still is `from`: `false`
    /// means another answer won.
    fn settle_push_challenge(
        &self,
        id: &str,
        from: PushStatus,
        to: PushStatus,
        at: DateTime<Utc>,
    ) -> RepositoryResult<bool>;
}

/// WebAuthn credentials and ceremony state.
pub trait WebauthnRepository {
    /// Stores a credential; a credential id already registered (to anyone) is a
    /// `Conflict(UniqueField::Id)`.
    fn insert_webauthn_credential(&self, credential: &WebauthnCredential) -> RepositoryResult<()>;
    /// Counter, flags and the library's credential after a use.
    fn update_webauthn_credential(&self, credential: &WebauthnCredential) -> RepositoryResult<()>;
    /// Every credential of the account, whatever its factor's status.
    fn webauthn_credentials_of(
        &self,
        account: AccountId,
    ) -> RepositoryResult<Vec<WebauthnCredential>>;
    fn webauthn_credential_of_factor(
        &self,
        factor: FactorId,
    ) -> RepositoryResult<Option<WebauthnCredential>>;
    /// The credential with this id (base64url), whoever owns it.
    fn webauthn_credential_by_credential_id(
        &self,
        credential_id: &str,
    ) -> RepositoryResult<Option<WebauthnCredential>>;
    /// Stores a ceremony, replacing any other of the same binding; ceremonies expired
    /// by its `created_at` are swept on the way.
    fn put_ceremony(&self, ceremony: &Ceremony) -> RepositoryResult<()>;
    /// Takes (deletes and returns) the ceremony of `binding` if it has not expired.
    /// Of two racing takers only one gets it.
    fn take_ceremony(
        &self,
        binding: &str,
        now: DateTime<Utc>,
    ) -> RepositoryResult<Option<Ceremony>>;
}

pub trait AuditLog {
    fn record(&self, event: &NewAuditEvent) -> RepositoryResult<AuditEvent>;
    /// Newest first, at most `limit`, strictly older than `before` when given.
    fn events_of(
        &self,
        account: AccountId,
        before: Option<i64>,
        limit: u32,
    ) -> RepositoryResult<Vec<AuditEvent>>;
}

pub trait ClientRepository {
    fn insert_client(&self, client: &Client) -> RepositoryResult<()>;
    fn update_client(&self, client: &Client) -> RepositoryResult<()>;
    fn delete_client(&self, id: &ClientId) -> RepositoryResult<()>;
    fn client_by_id(&self, id: &ClientId) -> RepositoryResult<Option<Client>>;
    /// Ordered by id.
    fn list_clients(&self) -> RepositoryResult<Vec<Client>>;
}

pub trait SigningKeyRepository {
    fn insert_key(&self, key: &SigningKeyRecord) -> RepositoryResult<()>;
    /// Replaces status, activation and expiry of the key with this kid.
    fn update_key(&self, key: &SigningKeyRecord) -> RepositoryResult<()>;
    fn delete_key(&self, kid: &str) -> RepositoryResult<()>;
    /// Every stored key, oldest first.
    fn signing_keys(&self) -> RepositoryResult<Vec<SigningKeyRecord>>;
}

pub trait LoginRequestRepository {
    fn insert_login_request(&self, request: &LoginRequest) -> RepositoryResult<()>;
    /// Replaces the progress fields (account, amr, completion) of the request with this id.
    fn update_login_request(&self, request: &LoginRequest) -> RepositoryResult<()>;
    fn login_request(&self, id: &str) -> RepositoryResult<Option<LoginRequest>>;
    /// The same, for a transaction about to change the request: a concurrent transaction
    /// that wants it too waits until this one ends, then reads what it left.
    fn login_request_for_update(&self, id: &str) -> RepositoryResult<Option<LoginRequest>>;
}

pub trait OtpRepository {
    fn insert_otp(&self, challenge: &OtpChallenge) -> RepositoryResult<()>;
    /// Replaces attempts and closure of the challenge with this id.
    fn update_otp(&self, challenge: &OtpChallenge) -> RepositoryResult<()>;
    /// The newest challenge of a login request.
    fn latest_otp(&self, login_request_id: &str) -> RepositoryResult<Option<OtpChallenge>>;
    /// When codes were sent to this account since `since`.
    fn otp_sends_since(
        &self,
        account: AccountId,
        since: DateTime<Utc>,
    ) -> RepositoryResult<Vec<DateTime<Utc>>>;
}

pub trait SessionRepository {
    fn insert_session(&self, session: &Session) -> RepositoryResult<()>;
    /// Replaces last-seen and revocation of the session with this id.
    fn update_session(&self, session: &Session) -> RepositoryResult<()>;
    fn session_by_token_hash(&self, token_hash: &str) -> RepositoryResult<Option<Session>>;
    fn session_by_id(&self, id: &str) -> RepositoryResult<Option<Session>>;
    /// The account's sessions neither revoked nor expired at `now`, newest first.
    fn live_sessions_of(
        &self,
        account: AccountId,
        now: DateTime<Utc>,
    ) -> RepositoryResult<Vec<Session>>;
    /// Revokes every live session of the account but `except`, and every refresh
    /// token issued under them; returns how many sessions ended.
    fn end_sessions_of(
        &self,
        account: AccountId,
        except: Option<&str>,
        at: DateTime<Utc>,
    ) -> RepositoryResult<u64>;
}

pub trait EmailChangeRepository {
    fn insert_email_change(&self, change: &EmailChange) -> RepositoryResult<()>;
    /// Replaces attempts and closure of the change with this id.
    fn update_email_change(&self, change: &EmailChange) -> RepositoryResult<()>;
    /// The account's newest change request, open or not.
    fn latest_email_change(&self, account: AccountId) -> RepositoryResult<Option<EmailChange>>;
    /// Closes every open request of the account (a new one replaces them).
    fn close_email_changes(&self, account: AccountId, at: DateTime<Utc>) -> RepositoryResult<u64>;
    fn insert_email_undo(&self, undo: &EmailUndo) -> RepositoryResult<()>;
    fn email_undo(&self, token_hash: &str) -> RepositoryResult<Option<EmailUndo>>;
    /// Marks the link used, only if it was not: false means another use won.
    fn use_email_undo(&self, token_hash: &str, at: DateTime<Utc>) -> RepositoryResult<bool>;
}

pub trait AuthorizationCodeRepository {
    fn insert_code(&self, code: &AuthorizationCode) -> RepositoryResult<()>;
    fn code_by_hash(&self, code_hash: &str) -> RepositoryResult<Option<AuthorizationCode>>;
    /// Marks the code used, only if it was not: false means it was already used
    /// (a replay), so exactly one exchange can win a race.
    fn mark_code_used(&self, code_hash: &str, at: DateTime<Utc>) -> RepositoryResult<bool>;
}

pub trait RefreshTokenRepository {
    fn insert_refresh_token(&self, token: &RefreshToken) -> RepositoryResult<()>;
    fn refresh_token_by_hash(&self, token_hash: &str) -> RepositoryResult<Option<RefreshToken>>;
    /// Marks the token used, only if it was unused and not revoked: false means a
    /// concurrent or earlier use won.
    fn mark_refresh_token_used(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> RepositoryResult<bool>;
    /// Revokes every token of the family; returns how many were live.
    fn revoke_refresh_family(&self, family_id: &str, at: DateTime<Utc>) -> RepositoryResult<u64>;
    /// Revokes every token issued under a session (logout, replayed code).
    fn revoke_refresh_for_session(
        &self,
        session_id: &str,
        at: DateTime<Utc>,
    ) -> RepositoryResult<u64>;
}

/// What users granted third-party clients (one row per account and client).
pub trait ConsentRepository {
    fn consent_grant(
        &self,
        account: AccountId,
        client_id: &str,
    ) -> RepositoryResult<Option<ConsentGrant>>;
    /// Stores the grant, replacing the account's earlier grant to the same client.
    fn put_consent_grant(&self, grant: &ConsentGrant) -> RepositoryResult<()>;
    /// The account's grants, most recently changed first.
    fn consent_grants_of(&self, account: AccountId) -> RepositoryResult<Vec<ConsentGrant>>;
    /// Forgets the grant and revokes the refresh tokens the client holds for the
    /// account; false when there was no grant.
    fn revoke_consent_grant(
        &self,
        account: AccountId,
        client_id: &str,
        at: DateTime<Utc>,
    ) -> RepositoryResult<bool>;
}

pub trait AccessTokenRevocations {
    /// Remembers a revoked access token until `expires_at`; revoking twice is fine.
    fn revoke_access_token(&self, jti: &str, expires_at: DateTime<Utc>) -> RepositoryResult<()>;
    fn is_access_token_revoked(&self, jti: &str) -> RepositoryResult<bool>;
}

pub trait PushedRequestRepository {
    fn insert_pushed_request(&self, request: &PushedRequest) -> RepositoryResult<()>;
    /// Deletes and returns the request with this hash: only one taker gets it, even
    /// between instances. Expiry is the caller's check.
    fn take_pushed_request(&self, id_hash: &str) -> RepositoryResult<Option<PushedRequest>>;
}

pub trait ClientAssertionLedger {
    /// Records a client assertion's `jti`; false when it was seen before (a replay).
    fn use_client_assertion(&self, jti: &str, expires_at: DateTime<Utc>) -> RepositoryResult<bool>;
}

/// How many mails the outbox holds, by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Neither sent nor given up, due or not.
    pub pending: u64,
    pub sent: u64,
    pub failed: u64,
    /// When the most overdue pending mail fell due (none pending: `None`).
    pub oldest_due_at: Option<DateTime<Utc>>,
}

/// Back-channel logout notices. The store writes them itself: storing a code records
/// its client as one the session was issued tokens to, and whenever a live session
/// ends (`update_session` revoking it, `end_sessions_of`, `erase_account`) a notice
/// is queued for each such client with a `backchannel_logout_uri`, on the same
/// connection, so inside a transaction it commits with the end it tells of. Workers
/// on any number of instances deliver them through leases, as the mail outbox does.
pub trait LogoutNoticeQueue {
    /// Leases up to `limit` pending notices due at `now` whose lease is free or expired.
    fn claim_logout_notices(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> RepositoryResult<Vec<LogoutNotice>>;
    /// Stamps the notice delivered if `owner` still holds its lease.
    fn logout_notice_delivered(
        &self,
        id: &str,
        owner: &str,
        at: DateTime<Utc>,
    ) -> RepositoryResult<bool>;
    /// Stamps the notice delivered whoever holds it: a delivery whose mark did not land
    /// at once (the database was away), recorded as soon as it can be.
    fn logout_notice_delivered_late(&self, id: &str, at: DateTime<Utc>) -> RepositoryResult<bool>;
    /// Counts a failed attempt and frees the lease until `next_attempt_at`.
    fn retry_logout_notice_later(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> RepositoryResult<bool>;
    /// Stops trying: the client refused the notice, or it is too old.
    fn give_up_logout_notice(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        at: DateTime<Utc>,
    ) -> RepositoryResult<bool>;
    /// Deletes delivered and given-up notices created before `before`.
    fn purge_logout_notices(&self, before: DateTime<Utc>) -> RepositoryResult<u64>;
}

/// The mail outbox. Enqueue inside `Store::transaction` so a mail commits with the
/// change that needs it; workers on any number of instances drain it through leases,
/// so no mail is handed to two of them at once.
pub trait MailOutbox {
    fn enqueue_mail(&self, mail: &OutboxMail) -> RepositoryResult<()>;
    /// Leases to `owner`, until `lease_until`, up to `limit` mails that are pending,
    /// due at `now`, and whose lease is free or expired; returns them, most overdue first.
    fn claim_mails(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> RepositoryResult<Vec<OutboxMail>>;
    /// Stamps the mail sent, erases its body and frees its lease, if `owner` still
    /// holds it. `false` when it does not (the lease expired and moved on).
    fn mark_mail_sent(&self, id: MailId, owner: &str, at: DateTime<Utc>) -> RepositoryResult<bool>;
    /// Stamps a mail sent whoever holds its lease now: the sent mark of a worker that
    /// sent it and could not record it then (the database was away). `false` when it
    /// was already marked sent.
    fn record_sent_late(&self, id: MailId, at: DateTime<Utc>) -> RepositoryResult<bool>;
    /// Extends `owner`'s lease on those of `ids` it still holds (pending) to
    /// `lease_until`; returns how many. Leases are short and renewed while a batch is
    /// in flight, so a crashed instance's mail is due again within seconds.
    fn renew_mail_leases(
        &self,
        ids: &[MailId],
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> RepositoryResult<u64>;
    /// Makes every pending mail waiting out a backoff due at `now` (a send has just
    /// succeeded: the outage they wait for is over); returns how many.
    fn hurry_mails(&self, now: DateTime<Utc>) -> RepositoryResult<u64>;
    /// The newest mails first, at most `limit` (support tools).
    fn recent_mails(&self, limit: u32) -> RepositoryResult<Vec<OutboxMail>>;
    /// Hands mails `owner` leased but did not try back at once (no attempt counted).
    fn release_mails(&self, ids: &[MailId], owner: &str) -> RepositoryResult<u64>;
    /// Records a failed attempt and frees the lease until `next_attempt_at`.
    fn retry_mail_later(
        &self,
        id: MailId,
        owner: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> RepositoryResult<bool>;
    /// Records a final failure: stamps `failed_at` and erases the body.
    fn give_up_mail(
        &self,
        id: MailId,
        owner: &str,
        error: &str,
        at: DateTime<Utc>,
    ) -> RepositoryResult<bool>;
    fn mail_by_id(&self, id: MailId) -> RepositoryResult<Option<OutboxMail>>;
    /// Deletes sent and given-up mails finished before `before`; returns how many.
    fn purge_mails(&self, before: DateTime<Utc>) -> RepositoryResult<u64>;
    fn outbox_counts(&self) -> RepositoryResult<OutboxCounts>;
}
