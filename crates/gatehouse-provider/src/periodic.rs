//! A task that runs on a thread of its own every so often until it is stopped.
//! Background work here is blocking database work: it must not depend on which async
//! runtime drives the server, and stopping waits for it, so none outlives the server.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

/// When the first run happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstRun {
    Now,
    AfterInterval,
}

/// A running periodic task. Dropping it asks the task to stop without waiting;
/// [`Periodic::stop`] waits until the thread has finished its current run.
#[derive(Debug)]
pub struct Periodic {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Runs `task` on a thread called `name`, every `every`, until stopped.
pub fn spawn(
    name: &str,
    every: Duration,
    first: FirstRun,
    mut task: impl FnMut() + Send + 'static,
) -> std::io::Result<Periodic> {
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            if first == FirstRun::Now {
                task();
            }
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                task();
            }
        })?;
    Ok(Periodic {
        stop: Some(stop),
        thread: Some(thread),
    })
}

impl Periodic {
    /// Asks the task to stop and waits until its thread has ended.
    pub fn stop(mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        self.stop.take();
    }
}
