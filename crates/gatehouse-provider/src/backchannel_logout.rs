//! OpenID Connect Back-Channel Logout 1.0 delivery: a worker leases the notices the
//! store queued when sessions ended, signs a logout token for each (as that client's
//! ID tokens are signed) and POSTs it to the client's `backchannel_logout_uri`.
//!
//! 2xx: delivered. No answer, or 5xx: tried again with backoff by the server clock,
//! until `give_up_after_seconds` after the session ended. Any other answer (4xx: the
//! client refused the token): given up at once, logged and audited. A lease (the
//! mail outbox's pattern) gives each notice to one instance at a time, and it outlasts
//! a round's sends (they run side by side, each bounded by the timeout), so no two
//! instances deliver one notice.

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::join_all;
use gatehouse_core::backchannel::{DeliveryPolicy, LOGOUT_EVENT, LogoutNotice};
use gatehouse_core::ports::{AuditLog, ClientRepository, LogoutNoticeQueue, RepositoryError};
use gatehouse_core::{AuditKind, ClientId, Clock, NewAuditEvent};
use gatehouse_store::Store;
use serde_json::json;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::config::BackchannelLogoutConfig;
use crate::crypto::{KeyRing, random};
use crate::form_post::FormPoster;
use crate::periodic::{self, FirstRun, Periodic};

/// Longest error text kept in the row.
const MAX_ERROR_CHARS: usize = 300;

/// What became of one notice in a round.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Delivered,
    /// Not delivered now; worth another try later.
    Retry(String),
    /// Not delivered, and never will be.
    GiveUp(String),
}

pub struct Notifier {
    store: Store,
    keys: KeyRing,
    clock: Arc<dyn Clock>,
    issuer: String,
    owner: String,
    config: BackchannelLogoutConfig,
    http: FormPoster,
    /// Deliveries whose mark did not land (the database was away): recorded before
    /// anything else once it is back, so the notice is not sent again.
    unrecorded: Mutex<Vec<(String, DateTime<Utc>)>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// A number in `[0, 1]` from the system's CSPRNG (0 if it fails: no jitter then).
fn jitter() -> f64 {
    random::bytes::<4>().map_or(0.0, |b| {
        f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
    })
}

fn truncated(reason: &str) -> String {
    reason.chars().take(MAX_ERROR_CHARS).collect()
}

impl Notifier {
    /// Fails when `ca_file` cannot be read or holds no valid certificate.
    pub fn new(
        store: Store,
        keys: KeyRing,
        clock: Arc<dyn Clock>,
        issuer: String,
        config: BackchannelLogoutConfig,
    ) -> Result<Self, String> {
        let ca = match config.ca_file.trim() {
            "" => Vec::new(),
            path => std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?,
        };
        let timeout = Duration::from_secs(config.timeout_seconds.max(1).into());
        Ok(Self {
            store,
            keys,
            clock,
            issuer,
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            http: FormPoster::new(&ca, timeout)?,
            config,
            unrecorded: Mutex::default(),
        })
    }

    /// Longer than a round: its sends run side by side, each within the timeout.
    fn lease(&self) -> TimeDelta {
        TimeDelta::seconds(i64::from(self.config.timeout_seconds.max(1)) * 2 + 10)
    }

    fn policy(&self) -> DeliveryPolicy {
        DeliveryPolicy {
            give_up_after: TimeDelta::seconds(self.config.give_up_after_seconds.into()),
        }
    }

    /// The logout token (Back-Channel Logout 1.0 §2.4) for `notice`, signed with the
    /// key and algorithm of the client's ID tokens.
    fn logout_token(
        &self,
        notice: &LogoutNotice,
        client: &gatehouse_core::Client,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        let key = self
            .keys
            .active(client.id_token_alg)
            .map_err(|e| format!("no signing key: {e}"))?;
        let issued = now.timestamp();
        let claims = json!({
            "iss": self.issuer,
            "aud": client.id.as_str(),
            "iat": issued,
            "exp": issued + i64::from(self.config.token_ttl_seconds.max(1)),
            "jti": random::token().map_err(|e| e.to_string())?,
            "sub": notice.subject,
            "sid": notice.session_id,
            "events": { LOGOUT_EVENT: {} },
        });
        key.sign_jwt("logout+jwt", &claims)
            .map_err(|e| format!("signing failed: {e}"))
    }

    async fn attempt(&self, notice: &LogoutNotice) -> Outcome {
        let now = self.clock.now();
        if !notice.retry_allowed(self.policy(), now) {
            return Outcome::GiveUp("undelivered for too long".to_owned());
        }
        let client = match ClientId::parse(&notice.client_id)
            .ok()
            .map(|id| self.store.client_by_id(&id))
        {
            Some(Ok(Some(client))) => client,
            Some(Ok(None)) | None => return Outcome::GiveUp("the client is gone".to_owned()),
            Some(Err(e)) => return Outcome::Retry(format!("reading the client: {e}")),
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else {
            return Outcome::GiveUp(
                "the client no longer has a back-channel logout URI".to_owned(),
            );
        };
        let token = match self.logout_token(notice, &client, now) {
            Ok(token) => token,
            Err(reason) => return Outcome::Retry(reason),
        };
        match self.http.post(&uri, &[("logout_token", &token)]).await {
            Ok(200..=299) => Outcome::Delivered,
            Ok(status @ 500..=599) => Outcome::Retry(format!("the client answered {status}")),
            Ok(status) => {
                Outcome::GiveUp(format!("the client refused the logout token ({status})"))
            }
            Err(e) => Outcome::Retry(format!("unreachable: {e}")),
        }
    }

    fn unrecorded_marks(&self) -> std::sync::MutexGuard<'_, Vec<(String, DateTime<Utc>)>> {
        self.unrecorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Leases one batch of due notices and tries each once, side by side.
    async fn drain_once(&self) -> Result<usize, RepositoryError> {
        {
            let mut marks = self.unrecorded_marks();
            while let Some((id, at)) = marks.first().cloned() {
                self.store.logout_notice_delivered_late(&id, at)?;
                marks.remove(0);
            }
        }
        let now = self.clock.now();
        let claimed = self.store.claim_logout_notices(
            &self.owner,
            now,
            now + self.lease(),
            self.config.batch_size.max(1),
        )?;
        let outcomes = join_all(claimed.iter().map(|n| self.attempt(n))).await;
        for (notice, outcome) in claimed.iter().zip(outcomes) {
            let delivered = outcome == Outcome::Delivered;
            if let Err(e) = self.record(notice, outcome) {
                tracing::warn!(notice_id = %notice.id, error = %e, "recording a back-channel logout's outcome failed");
                if delivered {
                    self.unrecorded_marks()
                        .push((notice.id.clone(), self.clock.now()));
                }
            }
        }
        Ok(claimed.len())
    }

    fn record(&self, notice: &LogoutNotice, outcome: Outcome) -> Result<(), RepositoryError> {
        let now = self.clock.now();
        match outcome {
            Outcome::Delivered => {
                self.store
                    .logout_notice_delivered(&notice.id, &self.owner, now)?;
                tracing::info!(notice_id = %notice.id, client_id = %notice.client_id, "back-channel logout delivered");
            }
            Outcome::Retry(reason) => {
                let attempts = notice.attempts.saturating_add(1);
                let next = now + self.config.backoff().delay(attempts, jitter());
                if notice.retry_allowed(self.policy(), next) {
                    tracing::warn!(notice_id = %notice.id, client_id = %notice.client_id, attempts, error = %reason, "back-channel logout failed; will retry");
                    self.store.retry_logout_notice_later(
                        &notice.id,
                        &self.owner,
                        &truncated(&reason),
                        next,
                    )?;
                } else {
                    self.give_up(notice, &reason, now)?;
                }
            }
            Outcome::GiveUp(reason) => self.give_up(notice, &reason, now)?,
        }
        Ok(())
    }

    fn give_up(
        &self,
        notice: &LogoutNotice,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        tracing::warn!(notice_id = %notice.id, client_id = %notice.client_id, error = %reason, "back-channel logout given up");
        let reason = truncated(reason);
        if self
            .store
            .give_up_logout_notice(&notice.id, &self.owner, &reason, now)?
        {
            self.store.record(
                &NewAuditEvent::new(AuditKind::BackchannelLogoutFailed, None, now)
                    .with_detail("client_id", notice.client_id.clone())
                    .with_detail("reason", reason),
            )?;
        }
        Ok(())
    }

    /// Delivers on a thread of its own, every `poll_interval_ms`, until stopped.
    pub fn spawn(self) -> std::io::Result<Periodic> {
        let every = Duration::from_millis(self.config.poll_interval_ms.max(10).into());
        // Built on the worker's thread, on its first round, never in the server's runtime.
        let mut running: Option<tokio::runtime::Runtime> = None;
        periodic::spawn("gatehouse-bc-logout", every, FirstRun::Now, move || {
            if running.is_none() {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => running = Some(runtime),
                    Err(e) => tracing::error!(error = %e, "back-channel logout cannot start"),
                }
            }
            let Some(runtime) = &running else {
                return;
            };
            loop {
                match runtime.block_on(self.drain_once()) {
                    // A full batch: more may be due.
                    Ok(claimed) if claimed >= self.config.batch_size.max(1) as usize => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "delivering back-channel logouts failed");
                        break;
                    }
                }
            }
        })
    }
}
