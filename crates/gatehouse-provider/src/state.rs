//! What every handler shares.

use gatehouse_core::Clock;
use gatehouse_core::push::PushNotifier;
use gatehouse_store::Store;
use std::sync::Arc;

use crate::background::Background;
use crate::config::Config;
use crate::crypto::{KeyRing, Secrets};
use crate::mail::Outbox;
use crate::oidc::client_cache::ClientCache;
use crate::oidc::verified_tokens::VerifiedTokens;
use crate::password_pool::PasswordPool;

#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub secrets: Secrets,
    pub keys: KeyRing,
    pub passwords: PasswordPool,
    /// What `/metrics` reports.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The discovery document, built once.
    pub discovery: Arc<str>,
    /// Queues mails inside a transaction: `state.outbox.enqueue_in(tx, &message, now)`.
    pub outbox: Outbox,
    /// Registered clients, cached for a few seconds.
    pub clients: ClientCache,
    /// Access tokens whose signature was checked (revocation is checked every time).
    pub verified_tokens: VerifiedTokens,
    /// The WebAuthn relying party, from `[webauthn]`; `None` when there is no rp id.
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// Bounded work after the answer (registration-link resends).
    pub background: Background,
    /// Delivers push-approval notices (`[push] notifier`).
    pub push: Arc<dyn PushNotifier>,
    /// `server.trusted_proxies`, parsed (`api::origin::client_address`).
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
}
