//! Replicas that share PostgreSQL: each integration is collected by at most one of them, held
//! through a lease (holder, epoch, expiry) that this loop claims, renews and releases.
//!
//! Every `lease ÷ 3` the loop, in one short blocking call to the database:
//! 1. heartbeats, renews every lease it holds and reads how many replicas are live;
//! 2. notices leases it lost (not renewed, or refused at a commit) and stops those streams;
//! 3. picks up integrations another replica's API created, changed or deleted;
//! 4. gives up leases beyond its fair share (⌈integrations ÷ live replicas⌉) — the streams stop
//!    first, so the release follows their last commit — and claims free or expired ones up to it.
//!
//! A replica that cannot renew (database or network down) keeps collecting only until the
//! leases it last renewed would expire by its own clock (measured from before the renewal was
//! sent, so never later than the database's expiry); then it drops them all and stops. The
//! invariant that makes takeovers safe is not this loop but the fence: every checkpoint and
//! token write names the epoch it was made under (`state::LeaseBook`), and the database refuses
//! it once another replica has claimed the integration.

use crate::config::Config;
use crate::pipeline::scheduler::{Control, ControlSender};
use crate::pipeline::Collector;
use crate::state::postgres::leases::Me;
use crate::state::postgres::PgStore;
use crate::state::{LeaseBook, State, StateError};
use crate::support::shutdown::Shutdown;
use crate::telemetry::events::{LeaseLost, LeaseTaken, LeasesHeld};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub mod balance;
mod once;
mod round;
use round::Round;

/// This replica's view of the cluster, for `/readyz` and the API.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Status {
    pub replica: String,
    /// The last round reached the database.
    pub database_ok: bool,
    pub last_error: Option<String>,
    pub live_replicas: usize,
    pub share: usize,
    pub leases_held: usize,
}

/// This process's membership among the replicas.
pub struct Cluster {
    pg: Arc<PgStore>,
    state: State,
    me: Me,
    lease: Duration,
    book: Arc<LeaseBook>,
    status: Mutex<Status>,
    /// Integrations being given back (their streams stopping).
    releasing: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("replica", &self.me.name)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// A value unique to this start of the process.
fn instance_id() -> String {
    format!(
        "{}-{}-{:016x}",
        std::process::id(),
        crate::support::clock::now_unix(),
        rand::random::<u64>()
    )
}

impl Cluster {
    /// Join the replicas when the state is PostgreSQL (else `None`): register under this
    /// replica's name and fence every write of `state` by the leases it will hold.
    pub fn join(cfg: &Config, state: &State) -> Result<Option<Arc<Cluster>>, StateError> {
        let Some(pg) = state.postgres().cloned() else {
            return Ok(None);
        };
        let settings = cfg.cluster.clone().unwrap_or_default();
        let me = Me {
            name: settings.replica_name(),
            instance: instance_id(),
        };
        let lease = settings.lease.0;
        pg.register(&me, &crate::config::host_name(), lease)?;
        let book = Arc::new(LeaseBook::new(&me.name));
        state.use_leases(book.clone());
        tracing::info!(replica = %me.name, lease = %humantime::format_duration(lease), database = %state.path(), "joined the replicas");
        Ok(Some(Arc::new(Cluster {
            pg,
            state: state.clone(),
            status: Mutex::new(Status {
                replica: me.name.clone(),
                database_ok: true,
                live_replicas: 1,
                ..Status::default()
            }),
            me,
            lease,
            book,
            releasing: Default::default(),
        })))
    }

    /// This replica's name.
    pub fn replica(&self) -> &str {
        &self.me.name
    }

    /// How often the loop runs: a third of the lease, so two rounds may fail before it expires.
    pub fn interval(&self) -> Duration {
        self.lease / 3
    }

    pub fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_status(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Run a blocking database call off the async workers.
    async fn db<R: Send + 'static>(
        &self,
        f: impl FnOnce(&PgStore) -> Result<R, StateError> + Send + 'static,
    ) -> Result<R, StateError> {
        let pg = self.pg.clone();
        match tokio::task::spawn_blocking(move || f(&pg)).await {
            Ok(r) => r,
            Err(e) => Err(StateError::Postgres {
                target: self.state.path().to_string(),
                message: format!("a lease call did not finish: {e}"),
            }),
        }
    }

    fn took(&self, c: crate::state::postgres::leases::Claimed) -> String {
        self.book.hold(&c.integration, c.epoch);
        LeaseTaken {
            integration: &c.integration,
            epoch: c.epoch,
            taken_from: c.taken_from.as_deref(),
        }
        .emit();
        c.integration
    }

    /// Keep the leases until `done` fires (the scheduler has stopped and made its last
    /// commits), claiming and balancing only until `shutdown`; then release them all and leave.
    pub async fn run(
        self: Arc<Self>,
        collector: Arc<Collector>,
        control: ControlSender,
        shutdown: Shutdown,
        done: Shutdown,
    ) {
        let mut round = Round::default();
        let mut tick = tokio::time::interval(self.interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first round (at once) only heartbeats and renews: replicas started together (a
        // deployment, a restart of all) register within one interval, so the first to run does
        // not claim everything and give two thirds back a round later — a give-back that can
        // abandon a token grant in flight (a second grant by the next holder) and re-deliver a
        // page. Collection starts one interval (lease ÷ 3) after joining.
        let mut first = true;
        loop {
            tokio::select! {
                _ = done.wait() => break,
                _ = tick.tick() => {}
            }
            let balance = !shutdown.is_triggered() && !std::mem::take(&mut first);
            self.round(&collector, &control, &mut round, balance).await;
        }
        self.leave().await;
    }

    /// Release every lease and leave the replicas.
    pub async fn leave(&self) {
        let me = self.me.clone();
        match self.db(move |pg| pg.leave(&me)).await {
            Ok(n) => tracing::info!(released = n, "left the replicas: leases released"),
            Err(e) => tracing::warn!(
                "could not release the leases ({e}); other replicas take them over when they expire"
            ),
        }
        for (name, _) in self.book.all() {
            self.book.forget(&name);
        }
        LeasesHeld(0).emit();
    }

    /// Release beyond the share (streams stopped first), then claim up to it.
    async fn balance(
        &self,
        control: &ControlSender,
        round: &mut Round,
        known: &[String],
        live: usize,
    ) {
        let new: Vec<String> = known
            .iter()
            .filter(|k| !round.ensured.contains(*k))
            .cloned()
            .collect();
        if !new.is_empty() {
            let names = new.clone();
            match self.db(move |pg| pg.ensure_leases(&names)).await {
                Ok(()) => round.ensured.extend(new),
                Err(e) => tracing::warn!("cannot record new integrations' leases: {e}"),
            }
        }
        let releasing = self.releasing();
        let held: Vec<String> = self
            .book
            .all()
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| !releasing.contains(n))
            .collect();
        let plan = balance::plan(&held, known, live);
        if !plan.release.is_empty() {
            tracing::info!(
                leases = plan.release.len(),
                share = plan.share,
                live,
                "giving leases back to balance the replicas"
            );
        }
        for name in plan.release.iter().cloned() {
            round.started.remove(&name);
            self.release_in_background(control, name);
        }
        if plan.claim > 0 {
            let (me, lease, among) = (self.me.clone(), self.lease, known.to_vec());
            match self
                .db(move |pg| pg.claim(&me, &among, plan.claim, lease))
                .await
            {
                Ok(claimed) => {
                    for c in claimed {
                        let name = self.took(c);
                        round.started.insert(name.clone());
                        let _ = control.send(Control::Acquired(name)).await;
                    }
                }
                Err(e) => tracing::warn!("cannot claim leases: {e}"),
            }
        }
    }

    /// The integrations whose streams are stopping before their lease is given back.
    fn releasing(&self) -> HashSet<String> {
        self.releasing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stop `name`'s streams (their last pages commit under the lease, which is renewed
    /// meanwhile), then give its lease back. In the background: a stream held up by a sink
    /// must not hold up the renewal of every other lease.
    fn release_in_background(&self, control: &ControlSender, name: String) {
        self.releasing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone());
        let (pg, book, me, control) = (
            self.pg.clone(),
            self.book.clone(),
            self.me.clone(),
            control.clone(),
        );
        let releasing = self.releasing.clone();
        tokio::spawn(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if control
                .send(Control::Release(name.clone(), tx))
                .await
                .is_ok()
            {
                let _ = rx.await;
            }
            book.forget(&name);
            let names = vec![name.clone()];
            match tokio::task::spawn_blocking(move || pg.release(&me, &names)).await {
                Ok(Ok(_)) => tracing::info!(integration = %name, "lease given back"),
                Ok(Err(e)) => {
                    tracing::warn!(integration = %name, "cannot give the lease back ({e}); it expires instead")
                }
                Err(e) => tracing::warn!(integration = %name, "giving the lease back failed: {e}"),
            }
            releasing
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&name);
        });
    }

    /// `name`'s lease is gone: out of the book (its writes are refused from now on), logged
    /// and counted.
    fn lost(&self, name: &str, reason: &str) {
        self.book.forget(name);
        LeaseLost {
            integration: name,
            reason,
        }
        .emit();
    }

    /// Drop every lease (not renewed in time): the streams stop, and writes already on their
    /// way are refused by the book before they reach the database.
    async fn lose_all(&self, control: &ControlSender, reason: &str) {
        for (name, _) in self.book.all() {
            self.lost(&name, reason);
            let _ = control.send(Control::Stop(name)).await;
        }
        LeasesHeld(0).emit();
        self.set_status(|s| s.leases_held = 0);
    }
}

/// The active integrations, sorted: the ones that need a lease.
fn known(collector: &Collector) -> Vec<String> {
    let mut names: Vec<String> = collector
        .registry()
        .integrations()
        .iter()
        .filter(|i| !i.streams().is_empty())
        .map(|i| i.name().to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}
