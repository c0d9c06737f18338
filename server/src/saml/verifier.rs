//! The threads that run xmlsec: a fixed pool with a bounded queue, apart from
//! tokio's blocking pool (where argon2 hashes passwords), and a deadline.
//!
//! Anyone on the internet can POST to an ACS, so its work must be bounded:
//! a full queue or a job that does not finish in time is refused at once with
//! a diagnosis, and no thread is ever added or left waiting on the network
//! (`xmlsec_limits` leaves xmlsec no way to open a URL, so a verification is
//! pure CPU work on at most `MAX_RESPONSE_BYTES`). A job whose caller gave up
//! while it was queued is skipped when a thread reaches it.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long a caller waits for a verification, queueing included.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// Jobs waiting per thread before new ones are refused.
const QUEUE_PER_THREAD: usize = 64;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifierError {
    #[error("every verification thread is busy and the queue is full")]
    Busy,
    #[error("the verification did not finish within {} s", .0.as_secs())]
    TimedOut(Duration),
}

#[derive(Clone)]
pub struct VerifierPool {
    jobs: SyncSender<Job>,
    deadline: Duration,
}

impl Default for VerifierPool {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(threads, threads * QUEUE_PER_THREAD, DEADLINE)
    }
}

impl VerifierPool {
    pub fn new(threads: usize, queue: usize, deadline: Duration) -> Self {
        let (jobs, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..threads.max(1) {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("saml-verify-{index}"))
                .spawn(move || work(&receiver))
                .expect("start a SAML verification thread");
        }
        Self { jobs, deadline }
    }

    /// Runs `job` on a pool thread; refused when the queue is full or the
    /// deadline passes first.
    pub async fn run<T, F>(&self, job: F) -> Result<T, VerifierError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let give_up_at = Instant::now() + self.deadline;
        let wrapped: Job = Box::new(move || {
            // The caller has already answered "timed out": do not spend the CPU.
            if Instant::now() < give_up_at && !done.is_closed() {
                let _ = done.send(job());
            }
        });
        match self.jobs.try_send(wrapped) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                return Err(VerifierError::Busy)
            }
        }
        match tokio::time::timeout(self.deadline, result).await {
            Ok(Ok(value)) => Ok(value),
            // Dropped unrun (deadline reached in the queue) or still running.
            Ok(Err(_)) | Err(_) => Err(VerifierError::TimedOut(self.deadline)),
        }
    }
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        // Hold the lock only to take a job, never while running it.
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match job {
            Ok(job) => {
                // A panicking job must not take the thread with it.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return, // every sender is gone: the pool was dropped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_returns_their_result() {
        let pool = VerifierPool::new(2, 4, Duration::from_secs(5));
        assert_eq!(pool.run(|| 6 * 7).await, Ok(42));
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let pool = VerifierPool::new(1, 1, Duration::from_secs(5));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let blocker = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(move || wait.recv().ok()).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(|| 1).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(pool.run(|| 2).await, Err(VerifierError::Busy));
        release.send(()).unwrap();
        assert!(blocker.await.unwrap().is_ok());
        assert_eq!(queued.await.unwrap(), Ok(1));
    }

    #[tokio::test]
    async fn a_slow_job_times_out_and_the_thread_serves_the_next_one() {
        let pool = VerifierPool::new(1, 4, Duration::from_millis(200));
        let slow = pool.run(|| std::thread::sleep(Duration::from_millis(400)));
        assert_eq!(
            slow.await,
            Err(VerifierError::TimedOut(Duration::from_millis(200)))
        );
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(pool.run(|| "next").await, Ok("next"));
    }

    #[tokio::test]
    async fn a_panicking_job_does_not_kill_the_thread() {
        let pool = VerifierPool::new(1, 4, Duration::from_secs(5));
        assert!(pool.run(|| -> u8 { panic!("boom") }).await.is_err());
        assert_eq!(pool.run(|| 1).await, Ok(1));
    }
}
