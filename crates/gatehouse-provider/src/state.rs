//! What every handler shares.

use gatehouse_core::Clock;
use gatehouse_store::Store;
use std::sync::Arc;

use crate::config::Config;
use crate::crypto::{KeyRing, Secrets};
use crate::mail::Outbox;

#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub secrets: Secrets,
    pub keys: KeyRing,
    /// Queues mails inside a transaction: `state.outbox.enqueue_in(tx, &message, now)`.
    pub outbox: Outbox,
}
