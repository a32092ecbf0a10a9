//! Password hashing under load: at most one argon2 computation per core at a time,
//! a bounded queue in front, and a refusal (503 with `Retry-After`) beyond it. Each
//! computation holds `m` KiB of memory, so this is what keeps memory bounded however
//! many logins arrive at once.

use actix_web::web;
use gatehouse_core::PasswordHasher;
use gatehouse_core::password::{HashingError, Verification};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("too many password checks are waiting")]
    Busy,
    #[error(transparent)]
    Hashing(#[from] HashingError),
    #[error("the hashing thread failed")]
    Blocking,
}

#[derive(Clone, Debug)]
pub struct PasswordPool {
    hasher: Arc<PasswordHasher>,
    running: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
}

/// Decrements the queue length however the wait ends (including cancellation).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordPool {
    pub fn new(hasher: PasswordHasher, concurrency: usize, max_waiting: usize) -> Self {
        Self {
            hasher: Arc::new(hasher),
            running: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(PoolError::Busy);
        }
        let queued = Waiting(&self.waiting);
        let permit = self
            .running
            .acquire()
            .await
            .map_err(|_| PoolError::Blocking)?;
        drop(queued);
        let hasher = self.hasher.clone();
        let result = web::block(move || work(&hasher))
            .await
            .map_err(|_| PoolError::Blocking);
        drop(permit);
        result
    }

    /// Checks a password against a stored hash, or against the dummy hash when there
    /// is none (unknown or not yet registered account), which costs the same.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verification, PoolError> {
        self.run(move |hasher| match stored {
            Some(stored) => hasher.verify(&password, &stored),
            None => hasher.verify_dummy(&password),
        })
        .await
    }

    pub async fn hash(&self, password: String) -> Result<String, PoolError> {
        self.run(move |hasher| hasher.hash(&password))
            .await?
            .map_err(PoolError::from)
    }
}
