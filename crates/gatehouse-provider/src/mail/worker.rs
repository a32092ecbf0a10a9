//! The worker: leases due mails, sends them, records the outcome.
//!
//! It runs on a thread of its own with a small current-thread tokio runtime (lettre's
//! SMTP client is async), so it does not depend on whichever runtime drives the HTTP
//! server, and it stops when the server stops. Any number of instances may drain one
//! database: a lease gives each mail to one worker at a time.

use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::mail::{Backoff, MailId, OutboxMail};
use gatehouse_core::ports::{AuditLog, MailOutbox};
use gatehouse_core::{AuditKind, Clock, NewAuditEvent};
use gatehouse_store::Store;
use lettre::message::{Mailbox, SinglePart};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::transport::{Outgoing, SendError, Transport};
use super::{MailError, open_bodies};
use crate::config::MailConfig;
use crate::crypto::{Sealer, random};

/// What one round of draining did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Mails leased to this worker.
    pub claimed: usize,
    pub sent: usize,
    /// Failed and scheduled again, with backoff.
    pub retried: usize,
    /// Refused for good by the mail server, or not a valid mail at all.
    pub failed: usize,
    /// Not sent: what they carry (a code, a link) had expired.
    pub expired: usize,
    /// Skipped: their lease ran out before their turn and another worker has them.
    pub lost: usize,
    /// Mails waiting out a backoff made due at once, after a send succeeded.
    pub hurried: usize,
}

/// How long a lease lasts: short, so a crashed instance's mail is due again within
/// seconds. A mail's lease is renewed before it is sent and every `RENEW_EVERY`
/// while the send is in flight.
pub const LEASE: TimeDelta = TimeDelta::seconds(15);
const RENEW_EVERY: Duration = Duration::from_secs(5);

/// Longest error text kept in the row.
const MAX_ERROR_CHARS: usize = 500;
/// The `last_error` of a mail not sent because what it carried had expired.
pub const EXPIRED: &str = "expired: its code or link was no longer valid";
/// How often sent mails past their retention are deleted.
const PURGE_EVERY: TimeDelta = TimeDelta::hours(1);

pub struct Worker {
    store: Store,
    sealer: Sealer,
    transport: Transport,
    clock: Arc<dyn Clock>,
    owner: String,
    from: Mailbox,
    message_id_domain: String,
    batch_size: u32,
    backoff: Backoff,
    keep_sent: TimeDelta,
    poll_interval: Duration,
    linger: Duration,
    wake: super::Wake,
    /// Mails sent whose sent mark did not land (the database was away): recorded
    /// before anything else once it is back, never forgotten.
    unrecorded: Mutex<Vec<(MailId, DateTime<Utc>)>>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("owner", &self.owner)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

fn truncated(reason: &str) -> String {
    reason.chars().take(MAX_ERROR_CHARS).collect()
}

/// A number in `[0, 1]` from the system's CSPRNG (0 if it fails: no jitter then).
fn jitter() -> f64 {
    random::bytes::<4>().map_or(0.0, |b| {
        f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
    })
}

impl Worker {
    /// A worker with a fresh owner id, sending through the configured transport.
    pub fn new(
        store: Store,
        sealer: Sealer,
        config: &MailConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, MailError> {
        let address: lettre::Address = config.from.parse().map_err(|e| MailError::Config {
            key: "from",
            reason: format!("{:?} is not an e-mail address: {e}", config.from),
        })?;
        let message_id_domain = address.domain().to_owned();
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        Ok(Self {
            store,
            sealer,
            transport: Transport::from_config(config)?,
            clock,
            owner,
            from: Mailbox::new(Some(config.product_name.trim().to_owned()), address),
            message_id_domain,
            batch_size: config.batch_size.max(1),
            backoff: config.backoff(),
            keep_sent: TimeDelta::days(config.keep_sent_days.into()),
            poll_interval: Duration::from_secs(config.poll_interval_seconds.max(1).into()),
            linger: Duration::from_millis(config.linger_ms.into()),
            wake: super::Wake::default(),
            unrecorded: Mutex::default(),
            metrics: None,
        })
    }

    /// The name this worker's leases carry.
    /// Shares `wake` with the outbox that queues mail for this worker.
    pub fn with_wake(mut self, wake: super::Wake) -> Self {
        self.wake = wake;
        self
    }

    /// Counts sends and failures in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn count(&self, sent: bool) {
        if let Some(metrics) = &self.metrics {
            let labels = crate::metrics::TransportLabels {
                transport: self.transport.name(),
            };
            let family = if sent {
                &metrics.mail_sent
            } else {
                &metrics.mail_failed
            };
            family.get_or_create(&labels).inc();
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Leases one batch of due mails and tries each once.
    ///
    /// First the sent marks that did not land earlier are recorded. A mail whose code
    /// or link has expired is not sent but marked failed (`expired`) and audited. A
    /// mail's lease is renewed just before its send once the round is older than
    /// `RENEW_EVERY`, and while the send is in flight; one whose lease was lost
    /// (another worker has it) is skipped. After the first successful send, mails
    /// waiting out a backoff are made due at once: whatever made them fail is over.
    pub async fn drain_once(&self) -> Result<DrainReport, MailError> {
        self.record_unrecorded()?;
        let now = self.clock.now();
        let claimed = self
            .store
            .claim_mails(&self.owner, now, now + LEASE, self.batch_size)?;
        let claimed_at = Instant::now();
        let mut report = DrainReport {
            claimed: claimed.len(),
            ..DrainReport::default()
        };
        for mail in &claimed {
            let now = self.clock.now();
            if mail.is_expired(now) {
                self.expire(mail, now)?;
                report.expired += 1;
                continue;
            }
            // A lease taken moments ago still holds: renewing it would only put a
            // round trip before the round's first mail, the one a login waits for.
            let fresh = claimed_at.elapsed() < RENEW_EVERY;
            if !fresh
                && self
                    .store
                    .renew_mail_leases(&[mail.id], &self.owner, now + LEASE)?
                    == 0
            {
                report.lost += 1;
                continue;
            }
            match self.send_renewing(mail).await {
                Ok(()) => {
                    let sent_at = self.clock.now();
                    if let Err(e) = self.store.mark_mail_sent(mail.id, &self.owner, sent_at) {
                        // Sent, but not recorded: kept, and recorded as soon as it can be.
                        self.unrecorded_marks().push((mail.id, sent_at));
                        return Err(e.into());
                    }
                    report.sent += 1;
                    self.count(true);
                    if report.sent == 1 {
                        let hurried = self.store.hurry_mails(sent_at)?;
                        report.hurried = usize::try_from(hurried).unwrap_or(usize::MAX);
                    }
                }
                Err(error) if error.permanent => {
                    tracing::warn!(mail_id = %mail.id, domain = mail.recipient_domain(), error = %error.reason, "mail refused for good; not retried");
                    self.store.give_up_mail(
                        mail.id,
                        &self.owner,
                        &truncated(&error.reason),
                        self.clock.now(),
                    )?;
                    report.failed += 1;
                    self.count(false);
                }
                Err(error) => {
                    let delay = self
                        .backoff
                        .delay(mail.attempts.saturating_add(1), jitter());
                    let next = self.clock.now() + delay;
                    tracing::warn!(mail_id = %mail.id, domain = mail.recipient_domain(), attempts = mail.attempts + 1, retry_in_seconds = delay.num_seconds(), error = %error.reason, "sending a mail failed; will retry");
                    self.store.retry_mail_later(
                        mail.id,
                        &self.owner,
                        &truncated(&error.reason),
                        next,
                    )?;
                    report.retried += 1;
                    self.count(false);
                }
            }
        }
        Ok(report)
    }

    fn unrecorded_marks(&self) -> std::sync::MutexGuard<'_, Vec<(MailId, DateTime<Utc>)>> {
        self.unrecorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the sent marks that did not land before; those that still do not stay.
    fn record_unrecorded(&self) -> Result<(), MailError> {
        let mut marks = self.unrecorded_marks();
        while let Some(&(id, at)) = marks.first() {
            self.store.record_sent_late(id, at)?;
            tracing::info!(mail_id = %id, "a mail sent while the database was away is recorded sent");
            marks.remove(0);
        }
        Ok(())
    }

    /// Marks a mail whose code or link expired before it could be sent, and audits it.
    fn expire(&self, mail: &OutboxMail, now: DateTime<Utc>) -> Result<(), MailError> {
        tracing::warn!(mail_id = %mail.id, domain = mail.recipient_domain(), "mail expired before it could be sent; not sent");
        self.store
            .give_up_mail(mail.id, &self.owner, EXPIRED, now)?;
        self.store.record(
            &NewAuditEvent::new(AuditKind::MailExpired, None, now)
                .with_detail("mail_id", mail.id.to_string())
                .with_detail("domain", mail.recipient_domain()),
        )?;
        Ok(())
    }

    /// Sends one mail, renewing its lease every `RENEW_EVERY` while the send lasts.
    async fn send_renewing(&self, mail: &OutboxMail) -> Result<(), SendError> {
        let send = self.deliver(mail);
        tokio::pin!(send);
        // The first beat one period on: an interval's immediate first tick still waits
        // for the timer's next millisecond, and the mail (a login's code) with it.
        let mut beat =
            tokio::time::interval_at(tokio::time::Instant::now() + RENEW_EVERY, RENEW_EVERY);
        loop {
            tokio::select! {
                outcome = &mut send => return outcome,
                _ = beat.tick() => {
                    let until = self.clock.now() + LEASE;
                    if let Err(e) = self.store.renew_mail_leases(&[mail.id], &self.owner, until) {
                        tracing::warn!(mail_id = %mail.id, error = %e, "renewing a mail's lease failed");
                    }
                }
            }
        }
    }

    /// Deletes sent and given-up mails older than the retention; returns how many.
    pub fn purge(&self) -> Result<u64, MailError> {
        Ok(self.store.purge_mails(self.clock.now() - self.keep_sent)?)
    }

    /// Opens the sealed body, formats the message and hands it to the transport.
    async fn deliver(&self, mail: &OutboxMail) -> Result<(), SendError> {
        let bodies = open_bodies(&self.sealer, mail).map_err(|e| {
            // Perhaps this instance has the wrong secrets.key: another may succeed.
            SendError::transient(format!("cannot open the mail body: {e}"))
        })?;
        let outgoing = self.format(mail, bodies.text).map_err(|reason| SendError {
            permanent: true,
            reason,
        })?;
        self.transport.send(&outgoing).await
    }

    fn format(&self, mail: &OutboxMail, text: String) -> Result<Outgoing, String> {
        let to: Mailbox = mail
            .recipient
            .parse()
            .map_err(|e| format!("invalid recipient address: {e}"))?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .date(self.clock.now().into())
            // The outbox id: a resent mail is recognisably the same mail.
            .message_id(Some(format!("<{}@{}>", mail.id, self.message_id_domain)))
            .singlepart(SinglePart::plain(text))
            .map_err(|e| format!("cannot build the message: {e}"))?;
        Ok(Outgoing {
            id: mail.id,
            recipient_domain: mail.recipient_domain().to_owned(),
            envelope: message.envelope().clone(),
            raw: message.formatted(),
        })
    }

    /// Runs the worker on its own thread until the handle is stopped or dropped.
    pub fn spawn(self) -> std::io::Result<WorkerHandle> {
        let (stop, stopped) = mpsc::channel::<()>();
        let self_wake = self.wake.clone();
        let thread = std::thread::Builder::new()
            .name("gatehouse-mail".to_owned())
            .spawn(move || {
                // Built (and dropped) on this thread, never inside the server's runtime.
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => self.run(&runtime, &stopped),
                    Err(e) => tracing::error!(error = %e, "the mail worker cannot start"),
                }
            })?;
        Ok(WorkerHandle {
            stop: Some(stop),
            wake: self_wake,
            thread: Some(thread),
        })
    }

    fn run(&self, runtime: &tokio::runtime::Runtime, stopped: &mpsc::Receiver<()>) {
        tracing::info!(owner = %self.owner, transport = ?self.transport, "mail worker started");
        let mut next_purge = self.clock.now();
        // When the last round that found several mails began.
        let mut last_busy_round: Option<Instant> = None;
        loop {
            let round_started = Instant::now();
            if self.clock.now() >= next_purge {
                next_purge = self.clock.now() + PURGE_EVERY;
                match self.purge() {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(purged, "old sent mails deleted"),
                    Err(e) => tracing::warn!(error = %e, "purging old mails failed"),
                }
            }
            loop {
                let round = runtime.block_on(self.drain_once());
                // Several mails in one round: mail is queued faster than rounds run, so
                // gathering it is cheaper than a round per mail. A lone mail is no
                // stream, and the next one (a login waits for it) goes at once.
                if round.as_ref().is_ok_and(|r| r.claimed > 1) {
                    last_busy_round = Some(round_started);
                }
                match round {
                    Ok(round) if round.claimed >= self.batch_size as usize || round.hurried > 0 => {
                        // A full batch, or mails just made due: more may be due. Stop
                        // first if asked to.
                        if !matches!(stopped.try_recv(), Err(TryRecvError::Empty)) {
                            return;
                        }
                    }
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "draining the mail outbox failed");
                        break;
                    }
                }
            }
            self.wake.wait(self.poll_interval);
            // Mail queued one by one under load then goes out in batches (a lease and a
            // claim per round, not per mail); after a quiet round the wait is over.
            let linger = last_busy_round.map_or(Duration::ZERO, |began| {
                self.linger.saturating_sub(began.elapsed())
            });
            if !matches!(stopped.recv_timeout(linger), Err(RecvTimeoutError::Timeout)) {
                tracing::info!(owner = %self.owner, "mail worker stopped");
                return;
            }
        }
    }
}

/// The running worker. Dropping it asks the worker to stop after its current round.
#[derive(Debug)]
pub struct WorkerHandle {
    stop: Option<mpsc::Sender<()>>,
    /// Woken on stop, so the worker does not sleep out its poll interval first.
    wake: super::Wake,
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Asks the worker to stop and waits until it has (at most one send's timeout).
    pub fn stop(mut self) {
        self.stop.take();
        self.wake.notify();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.stop.take();
        self.wake.notify();
    }
}
