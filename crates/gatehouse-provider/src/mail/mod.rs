//! Mail: the transactional outbox and the worker that drains it.
//!
//! Code that changes state and must tell the user renders a [`Message`] with the
//! [`Templates`] of the [`Outbox`] and queues it with [`Outbox::enqueue_in`] inside the
//! same `store.transaction(…)`: the mail exists exactly when the change committed.
//! The body is sealed (AES-256-GCM, bound to the mail's id) before it reaches the
//! database. The [`Worker`] leases due mails, opens and sends them through the
//! configured transport ([`file`], [`smtp`] or [`log`]), stamps them sent and erases
//! their bodies; a failed send is tried again later with exponential backoff.

pub mod file;
pub mod log;
pub mod outgoing;
pub mod smtp;
pub mod transport;
pub mod worker;

use chrono::{DateTime, Utc};
use gatehouse_core::mail::{MailId, Message, OutboxMail, Templates};
use gatehouse_core::ports::{MailOutbox, RepositoryError, RepositoryResult};
use serde::{Deserialize, Serialize};

use crate::config::MailConfig;
use crate::crypto::{CryptoError, Sealer};

pub use worker::{DrainReport, EXPIRED, LEASE, Worker, WorkerHandle};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail.{key}: {reason}")]
    Config { key: &'static str, reason: String },
    #[error("mail outbox: {0}")]
    Repository(#[from] RepositoryError),
    #[error("mail worker: {0}")]
    Io(String),
}

/// The associated data binding a sealed body to its outbox row.
pub fn seal_context(id: MailId) -> String {
    format!("mail:{id}")
}

/// What is sealed: the bodies, as JSON, so an HTML part can join the text later.
#[derive(Serialize, Deserialize)]
pub(crate) struct Bodies {
    pub text: String,
}

pub(crate) fn open_bodies(sealer: &Sealer, mail: &OutboxMail) -> Result<Bodies, CryptoError> {
    let sealed = mail.sealed_body.as_deref().ok_or(CryptoError::Unseal)?;
    let plain = sealer.open(sealed, &seal_context(mail.id))?;
    serde_json::from_slice(&plain).map_err(|_| CryptoError::Unseal)
}

/// The text of a queued mail, opened with the master key; `None` once it was sent or
/// given up (its body is erased then). For support tools: never log it.
pub fn mail_text(sealer: &Sealer, mail: &OutboxMail) -> Result<Option<String>, CryptoError> {
    if mail.sealed_body.is_none() {
        return Ok(None);
    }
    open_bodies(sealer, mail).map(|b| Some(b.text))
}

/// Wakes the worker when a mail was committed, so it goes out now rather than at
/// the next poll (a one-time code is awaited by a user).
#[derive(Clone, Debug, Default)]
pub struct Wake(std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

impl Wake {
    pub fn notify(&self) {
        let (pending, signal) = &*self.0;
        *pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        signal.notify_all();
    }

    /// Returns when notified (now or since the last wait) or after `timeout`.
    pub fn wait(&self, timeout: std::time::Duration) {
        let (pending, signal) = &*self.0;
        let mut woken = pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !*woken {
            woken = signal
                .wait_timeout(woken, timeout)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        *woken = false;
    }
}

/// Queues mails. Cheap to clone; every handler may hold one.
#[derive(Clone, Debug)]
pub struct Outbox {
    sealer: Sealer,
    templates: Templates,
    wake: Wake,
}

impl Outbox {
    pub fn new(sealer: Sealer, config: &MailConfig) -> Self {
        Self {
            sealer,
            templates: Templates::new(config.product_name.trim()),
            wake: Wake::default(),
        }
    }

    /// Shares `wake` with the worker that drains this outbox.
    pub fn with_wake(mut self, wake: Wake) -> Self {
        self.wake = wake;
        self
    }

    /// Call after the transaction that queued a mail has committed.
    pub fn wake(&self) {
        self.wake.notify();
    }

    /// The templates, with the configured product name.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// Seals `message` and adds it to the outbox through `repo`: a `Tx` inside
    /// `store.transaction(…)`, so the mail commits or rolls back with the change that
    /// needs it (or the `Store` itself, for a mail that goes with nothing). It is due
    /// at once. Sealing cannot fail short of a broken crypto backend, which is
    /// reported as `RepositoryError::Unavailable` so the transaction rolls back.
    pub fn enqueue_in(
        &self,
        repo: &impl MailOutbox,
        message: &Message,
        now: DateTime<Utc>,
    ) -> RepositoryResult<MailId> {
        self.enqueue_due(repo, message, now, now)
    }

    /// As [`Self::enqueue_in`], but not sent before `due`.
    pub fn enqueue_due(
        &self,
        repo: &impl MailOutbox,
        message: &Message,
        now: DateTime<Utc>,
        due: DateTime<Utc>,
    ) -> RepositoryResult<MailId> {
        let id = MailId::new();
        let bodies = Bodies {
            text: message.text_body.clone(),
        };
        let sealed = serde_json::to_vec(&bodies)
            .map_err(|e| e.to_string())
            .and_then(|plain| {
                self.sealer
                    .seal(&plain, &seal_context(id))
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| RepositoryError::Unavailable(format!("sealing a mail failed: {e}")))?;
        let mut mail = OutboxMail::queued_for(
            id,
            message.to.clone(),
            message.subject.clone(),
            sealed,
            now,
            due,
        );
        mail.expires_at = message.valid_for.map(|valid_for| now + valid_for);
        repo.enqueue_mail(&mail)?;
        Ok(id)
    }
}
