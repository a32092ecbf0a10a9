//! The janitor: once an hour, deletes the login requests, codes, push challenges and
//! revocations that expired more than a day ago (kept that long so a late replay of a
//! code is still recognised, and for support questions), and the spent client
//! assertions (and DPoP proofs) and pushed authorization requests once they have expired.

use chrono::TimeDelta;
use gatehouse_core::Clock;
use gatehouse_store::Store;
use std::sync::Arc;
use std::time::Duration;

use crate::periodic::{self, FirstRun, Periodic};

/// How long expired rows stay before they are deleted.
pub const KEEP_EXPIRED: TimeDelta = TimeDelta::hours(24);
const EVERY: Duration = Duration::from_secs(3600);

/// Purges once now, then every hour, on a thread of its own (blocking database work).
pub fn spawn(store: Store, clock: Arc<dyn Clock>) -> std::io::Result<Periodic> {
    periodic::spawn(
        "gatehouse-janitor",
        EVERY,
        FirstRun::Now,
        move || match store.purge_expired(clock.now() - KEEP_EXPIRED, clock.now()) {
            Ok(purged) if purged.total() > 0 => {
                tracing::info!(?purged, "expired rows deleted");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging expired rows failed"),
        },
    )
}
