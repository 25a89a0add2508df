//! A few PostgreSQL connections, each owned by its own thread.
//!
//! The blocking `postgres` client drives a private tokio runtime, which cannot run inside the
//! collector's; so each connection lives on a plain thread, and a caller hands it a job and
//! waits for the answer (a short round trip, as a SQLite call is). A connection that breaks is
//! dropped and made again on the next job, so a database restart costs the calls made while it
//! was down, nothing more. Every call has a deadline: a caller never waits on a database that
//! does not answer for longer than [`CALL_TIMEOUT`].

use super::PgSettings;
use crate::state::StateError;
use postgres::Client;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The longest a caller waits for its job's answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

type Job = Box<dyn FnOnce(&mut Slot) + Send>;

/// One connection thread's connection, made on demand.
pub(super) struct Slot {
    settings: Arc<PgSettings>,
    client: Option<Client>,
}

impl Slot {
    /// Run `f` on the connection (connecting first when there is none); a connection that broke
    /// is dropped so the next job connects anew.
    fn run<R>(
        &mut self,
        f: impl FnOnce(&mut Client) -> Result<R, postgres::Error>,
    ) -> Result<R, StateError> {
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.client = None;
        }
        let client = match &mut self.client {
            Some(c) => c,
            None => self.client.insert(
                self.settings
                    .connect()
                    .map_err(|e| self.settings.error(&e))?,
            ),
        };
        match f(client) {
            Ok(r) => Ok(r),
            Err(e) => {
                if e.is_closed() || e.as_db_error().is_none() {
                    self.client = None;
                }
                Err(self.settings.error(&e))
            }
        }
    }
}

/// The connection threads and the queue that feeds them.
pub(super) struct Pool {
    settings: Arc<PgSettings>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Pool {
    /// Start `settings.connections` threads; they connect on their first job.
    pub(super) fn start(settings: Arc<PgSettings>) -> Result<Pool, StateError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..settings.connections.max(1) {
            let rx = rx.clone();
            let mut slot = Slot {
                settings: settings.clone(),
                client: None,
            };
            std::thread::Builder::new()
                .name(format!("state-pg-{i}"))
                .spawn(move || loop {
                    let job = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    match job {
                        Ok(job) => job(&mut slot),
                        Err(_) => return,
                    }
                })
                .map_err(|e| StateError::Postgres {
                    target: settings.target.clone(),
                    message: format!("cannot start a connection thread: {e}"),
                })?;
        }
        Ok(Pool {
            settings,
            jobs: Mutex::new(Some(tx)),
        })
    }

    /// Run `f` on one of the connections and wait for its answer (at most [`CALL_TIMEOUT`]).
    pub(super) fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<R, postgres::Error> + Send + 'static,
    ) -> Result<R, StateError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |slot: &mut Slot| {
            let _ = tx.send(slot.run(f));
        });
        let sent = match &*self.jobs.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(jobs) => jobs.send(job).is_ok(),
            None => false,
        };
        if !sent {
            return Err(self.failure("the connection threads have stopped"));
        }
        match rx.recv_timeout(CALL_TIMEOUT) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(self.failure(&format!(
                "no answer within {}s (is the database reachable?)",
                CALL_TIMEOUT.as_secs()
            ))),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(self.failure("a connection thread ended without an answer"))
            }
        }
    }

    fn failure(&self, message: &str) -> StateError {
        StateError::Postgres {
            target: self.settings.target.clone(),
            message: message.to_string(),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing the queue ends the threads once their current job is done.
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}
