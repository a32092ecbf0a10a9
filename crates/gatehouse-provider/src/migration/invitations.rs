//! Registration links: issuing one (which voids the account's older links) with its
//! mail in the same transaction, and sending invitations to every pending account.

use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::ports::{
    AuditLog as _, MigrationRepository, RegistrationTokenRepository, RepositoryError,
    RepositoryResult,
};
use gatehouse_core::registration::{AccountMigration, RegistrationToken};
use gatehouse_core::{Account, AccountId, AccountStatus, AuditKind, NewAuditEvent};
use gatehouse_store::{Store, Tx};
use serde::Serialize;

use crate::config::MigrationConfig;
use crate::crypto::{KeyedHasher, random};
use crate::mail::Outbox;

/// What issuing links needs.
#[derive(Clone, Copy, Debug)]
pub struct LinkMailer<'a> {
    pub hasher: &'a KeyedHasher,
    pub outbox: &'a Outbox,
    pub config: &'a MigrationConfig,
}

impl LinkMailer<'_> {
    pub fn link_ttl(&self) -> TimeDelta {
        TimeDelta::seconds(i64::from(self.config.link_ttl_seconds))
    }

    /// The "Complete Registration" URL for a token.
    fn link(&self, token: &str) -> RepositoryResult<String> {
        let mut url = url::Url::parse(&self.config.registration_ui_url)
            .map_err(|e| RepositoryError::Unavailable(format!("registration_ui_url: {e}")))?;
        url.query_pairs_mut().append_pair("token", token);
        Ok(url.into())
    }

    /// Issues a fresh link to a pending account inside `tx`: its older links stop
    /// working, the mail is queued (not before `due`), the invitation is counted, and
    /// the account's audit trail says who asked (`via`: `invitation`, `resend`,
    /// `admin:{client_id}`).
    pub fn send_link(
        &self,
        tx: &Tx<'_>,
        account: &Account,
        now: DateTime<Utc>,
        due: DateTime<Utc>,
        via: &str,
    ) -> RepositoryResult<()> {
        let Some(email) = account.email.as_ref() else {
            return Err(RepositoryError::NotFound);
        };
        let token = random::token()
            .map_err(|e| RepositoryError::Unavailable(format!("randomness: {e}")))?;
        let record =
            RegistrationToken::issue(self.hasher.hash(&token), account.id, now, self.link_ttl());
        tx.void_registration_tokens(account.id, now)?;
        tx.insert_registration_token(&record)?;
        let message = self.outbox.templates().registration_invitation(
            email,
            account.locale.as_deref(),
            &self.link(&token)?,
            self.link_ttl(),
        );
        self.outbox.enqueue_due(tx, &message, now, due)?;
        tx.record(
            &NewAuditEvent::new(AuditKind::RegistrationLinkSent, Some(account.id), now)
                .with_detail("via", via.to_owned()),
        )?;
        match tx.migration_of(account.id)? {
            Some(mut migration) => {
                migration.invited(now, record.expires_at);
                tx.update_migration(&migration)
            }
            // Created pending here rather than imported: start its record now.
            None => {
                let mut migration = AccountMigration::imported(account.id, String::new(), now);
                migration.invited(now, record.expires_at);
                tx.insert_migration(&migration)
            }
        }
    }
}

/// Who `invitations send` mails.
#[derive(Clone, Copy, Debug, Default)]
pub struct InvitationOptions {
    /// One account only (it must be pending); otherwise every pending account.
    pub account: Option<AccountId>,
    /// Also remind accounts last invited at least this long ago.
    pub remind_after: Option<TimeDelta>,
    /// Mails per second; the outbox holds each one back until its turn.
    pub rate: Option<f64>,
    pub dry_run: bool,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct InvitationSummary {
    /// Accounts that were (or, on a dry run, would be) sent a link.
    pub invited: u64,
    pub dry_run: bool,
    /// When the last mail is due, with a rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_due_at: Option<DateTime<Utc>>,
}

const PAGE: u32 = 500;

/// Queues invitation mails; the server's mail worker sends them.
pub fn send_invitations(
    store: &Store,
    mailer: LinkMailer<'_>,
    options: InvitationOptions,
    now: DateTime<Utc>,
) -> RepositoryResult<InvitationSummary> {
    let mut summary = InvitationSummary {
        dry_run: options.dry_run,
        ..InvitationSummary::default()
    };
    let spacing = options
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| TimeDelta::microseconds((1_000_000.0 / r) as i64));
    let mut due_of = |n: u64| {
        let due = spacing.map_or(now, |gap| now + gap * i32::try_from(n).unwrap_or(i32::MAX));
        summary.last_due_at = spacing.map(|_| due);
        due
    };
    if let Some(id) = options.account {
        use gatehouse_core::ports::AccountRepository as _;
        let account = store.account_by_id(id)?.ok_or(RepositoryError::NotFound)?;
        if account.status != AccountStatus::PendingRegistration {
            return Err(RepositoryError::Conflict(
                gatehouse_core::ports::UniqueField::Id,
            ));
        }
        if !options.dry_run {
            let due = due_of(0);
            store.transaction(|tx| mailer.send_link(tx, &account, now, due, "invitation"))?;
        }
        summary.invited = 1;
        return Ok(summary);
    }
    let remind_before = options.remind_after.map(|age| now - age);
    let mut after = None;
    loop {
        let page = store.invitation_candidates(remind_before, after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some(last.account_id);
        if !options.dry_run {
            let first = summary.invited;
            let dues: Vec<_> = (0..page.len() as u64).map(|i| due_of(first + i)).collect();
            store.transaction(|tx| {
                use gatehouse_core::ports::AccountRepository as _;
                for (migration, due) in page.iter().zip(&dues) {
                    if let Some(account) = tx.account_by_id(migration.account_id)? {
                        mailer.send_link(tx, &account, now, *due, "invitation")?;
                    }
                }
                Ok(())
            })?;
        }
        summary.invited += page.len() as u64;
    }
    Ok(summary)
}
