//! Password hashing under load: a fixed set of hashing threads (one per core), a
//! bounded queue in front of them, and a refusal (503 with `Retry-After`) beyond it.
//!
//! Each argon2 computation holds `m` KiB (19 MiB in production). Only these threads
//! ever hash, so memory stays at threads × m however many logins arrive; hashing on a
//! general blocking pool instead lets every one of its threads keep an allocator arena
//! of that size (measured: 1.3 GB resident after 200 concurrent logins).

use gatehouse_core::PasswordHasher;
use gatehouse_core::password::{HashingError, Verification};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::sync::oneshot;

use crate::metrics::Metrics;
use crate::problem::{Problem, ProblemCode};

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("too many password checks are waiting")]
    Busy,
    #[error(transparent)]
    Hashing(#[from] HashingError),
    #[error("the hashing threads are gone")]
    Stopped,
}

type Job = Box<dyn FnOnce(&PasswordHasher) + Send>;

#[derive(Clone, Debug)]
pub struct PasswordPool {
    jobs: SyncSender<Job>,
    metrics: Arc<Metrics>,
}

fn work(hasher: &PasswordHasher, jobs: &Mutex<Receiver<Job>>) {
    loop {
        // One thread at a time waits on the queue; the lock is released before hashing.
        let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => job(hasher),
            Err(_) => return,
        }
    }
}

impl PasswordPool {
    /// Starts `threads` hashing threads with room for `queue` waiting checks.
    pub fn new(
        hasher: PasswordHasher,
        threads: usize,
        queue: usize,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let (jobs, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let hasher = Arc::new(hasher);
        for n in 0..threads.max(1) {
            let (hasher, receiver) = (hasher.clone(), receiver.clone());
            std::thread::Builder::new()
                .name(format!("gatehouse-argon2-{n}"))
                .spawn(move || work(&hasher, &receiver))?;
        }
        Ok(Self { jobs, metrics })
    }

    async fn run<T: Send + 'static>(
        &self,
        task: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let (reply, answer) = oneshot::channel();
        let (metrics, queued) = (self.metrics.clone(), Instant::now());
        let job: Job = Box::new(move |hasher| {
            metrics.hash_queue.dec();
            metrics.hash_wait.observe(queued.elapsed().as_secs_f64());
            let started = Instant::now();
            let outcome = task(hasher);
            metrics.hash_time.observe(started.elapsed().as_secs_f64());
            let _ = reply.send(outcome);
        });
        self.metrics.hash_queue.inc();
        match self.jobs.try_send(job) {
            Ok(()) => answer.await.map_err(|_| PoolError::Stopped),
            Err(TrySendError::Full(_)) => {
                self.metrics.hash_queue.dec();
                Err(PoolError::Busy)
            }
            Err(TrySendError::Disconnected(_)) => {
                self.metrics.hash_queue.dec();
                Err(PoolError::Stopped)
            }
        }
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

/// The password threads: too busy (503 `busy`, retry in a second), or failed (logged,
/// 500).
impl From<PoolError> for Problem {
    fn from(e: PoolError) -> Problem {
        match e {
            PoolError::Busy => Problem::new(ProblemCode::Busy, "Too many requests at once")
                .with_detail("Try again in a moment")
                .with_extension("retry_after", 1.into()),
            e => {
                tracing::error!(error = %e, "password hashing failed");
                Problem::internal()
            }
        }
    }
}
