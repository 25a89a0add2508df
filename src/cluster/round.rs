//! One round of the cluster loop (every lease ÷ 3): heartbeat and renew, notice lost leases,
//! pick up what another replica's API changed, then balance (see the module above).

use super::{balance, known, Cluster};
use crate::pipeline::scheduler::{Control, ControlSender};
use crate::pipeline::Collector;
use crate::telemetry::events::LeasesHeld;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::time::Instant;

/// What the loop remembers between rounds.
#[derive(Default)]
pub(super) struct Round {
    /// Until when the leases last renewed are surely ours.
    pub(super) valid_until: Option<Instant>,
    /// Integrations whose lease rows exist.
    pub(super) ensured: HashSet<String>,
    /// Integrations this loop told the scheduler to start.
    pub(super) started: HashSet<String>,
    pub(super) managed_version: Option<i64>,
}

impl Cluster {
    /// One round; `balance` false while shutting down (renew only).
    pub(super) async fn round(
        &self,
        collector: &Arc<Collector>,
        control: &ControlSender,
        round: &mut Round,
        balance: bool,
    ) {
        let sent = Instant::now();
        tracing::debug!(held = self.book.len(), "lease round");
        let (me, lease) = (self.me.clone(), self.lease);
        let outcome = self
            .db(move |pg| {
                let registered = pg.heartbeat(&me)?;
                let renewed = if registered {
                    pg.renew(&me, lease)?
                } else {
                    Vec::new()
                };
                Ok((
                    registered,
                    renewed,
                    pg.live_replicas(lease)?,
                    pg.managed_version()?,
                ))
            })
            .await;
        let (registered, renewed, live, version) = match outcome {
            Ok(v) => v,
            Err(e) => {
                let message = e.to_string();
                tracing::warn!("cannot reach the state database to renew leases: {message}");
                self.set_status(|s| {
                    s.database_ok = false;
                    s.last_error = Some(message);
                });
                if round.valid_until.is_some_and(|t| Instant::now() >= t) {
                    self.lose_all(control, "not renewed before it expired")
                        .await;
                    round.valid_until = None;
                }
                return;
            }
        };
        tracing::debug!(
            registered,
            renewed = renewed.len(),
            live,
            version,
            took_ms = sent.elapsed().as_millis() as u64,
            "lease round: database answered"
        );
        round.valid_until = Some(sent + self.lease);
        if !registered {
            // Our heartbeat lapsed and another process took this replica's name: start over.
            self.lose_all(control, "this replica's registration was taken over")
                .await;
            let (me, host) = (self.me.clone(), crate::config::host_name());
            if let Err(e) = self.db(move |pg| pg.register(&me, &host, lease)).await {
                tracing::error!("cannot register again: {e}");
            }
            return;
        }
        // Leases lost: held in the book but not renewed under the same epoch, or dropped from
        // the book by a refused write.
        let renewed_epochs: std::collections::HashMap<&str, i64> =
            renewed.iter().map(|(n, e)| (n.as_str(), *e)).collect();
        for (name, epoch) in self.book.all() {
            if renewed_epochs.get(name.as_str()) != Some(&epoch) {
                self.lost(&name, "another replica holds it now");
            }
        }
        // Leases the database still gives this replica under the same epoch though the book
        // dropped them (they ran out by this replica's clock while the database was away, and
        // nobody took them): still ours, so collection resumes.
        let releasing = self.releasing();
        for (name, epoch) in &renewed {
            if self.book.epoch(name).is_none() && !releasing.contains(name) {
                self.book.hold(name, *epoch);
                tracing::info!(integration = %name, epoch, "lease renewed after the database came back: collecting again");
                round.started.insert(name.clone());
                let _ = control.send(Control::Acquired(name.clone())).await;
            }
        }
        let held_now: HashSet<String> = self.book.all().into_iter().map(|(n, _)| n).collect();
        for name in round
            .started
            .difference(&held_now)
            .cloned()
            .collect::<Vec<_>>()
        {
            round.started.remove(&name);
            let _ = control.send(Control::Stop(name)).await;
        }
        if round.managed_version != Some(version) {
            self.sync_managed(collector, control, round).await;
            round.managed_version = Some(version);
        }
        let known = known(collector);
        if balance {
            self.balance(control, round, &known, live).await;
        }
        let held = self.book.len();
        LeasesHeld(held).emit();
        self.set_status(|s| {
            s.database_ok = true;
            s.last_error = None;
            s.live_replicas = live;
            s.share = balance::fair_share(known.len(), live);
            s.leases_held = held;
        });
    }

    /// Integrations another replica's API changed: restart the ones held here.
    async fn sync_managed(
        &self,
        collector: &Arc<Collector>,
        control: &ControlSender,
        round: &Round,
    ) {
        let (collector2, state) = (collector.clone(), self.state.clone());
        let changed =
            tokio::task::spawn_blocking(move || collector2.registry().sync_managed(&state)).await;
        match changed {
            Ok(Ok(names)) => {
                for name in names {
                    if round.started.contains(&name) || self.book.epoch(&name).is_some() {
                        let _ = control.send(Control::Restart(name)).await;
                    }
                }
            }
            Ok(Err(e)) => {
                tracing::warn!("cannot read the integrations created through the API: {e}")
            }
            Err(e) => {
                tracing::warn!("reading the integrations created through the API failed: {e}")
            }
        }
    }
}
