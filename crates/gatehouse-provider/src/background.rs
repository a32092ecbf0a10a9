//! Work done after the answer has gone (a resend's lookup and mail), so it cannot
//! shape the answer's timing. Bounded: a flood of requests cannot pile up tasks
//! without end; beyond the bound the work is dropped and logged, which the caller
//! can afford because its answer never depended on the work.

use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Clone, Debug)]
pub struct Background {
    slots: Arc<Semaphore>,
}

impl Background {
    /// At most `limit` pieces of work queued or running at once.
    pub fn new(limit: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limit.max(1))),
        }
    }

    /// Runs `work` on the blocking pool if a slot is free; false when it was dropped.
    /// Must be called inside a Tokio runtime (any request handler is).
    pub fn run_blocking(&self, what: &'static str, work: impl FnOnce() + Send + 'static) -> bool {
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            tracing::warn!(task = what, "background work dropped: too much in flight");
            return false;
        };
        tokio::task::spawn_blocking(move || {
            work();
            drop(permit);
        });
        true
    }
}
