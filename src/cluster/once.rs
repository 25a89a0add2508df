//! `once` beside running replicas: it joins under a name of its own and collects only the
//! integrations no replica holds, so a one-off run never takes a lease a running replica
//! renews (and never waits for one).

use super::{known, Cluster};
use crate::config::Config;
use crate::pipeline::Collector;
use crate::state::StateError;
use std::sync::Arc;

impl Cluster {
    /// Join the replicas for one `once` run (with PostgreSQL; else `None`) and claim the free or
    /// expired leases. The replica name is `<replica>-once-<pid>`, so `once` runs beside a
    /// replica of the same host (whose name it would otherwise be refused). The caller leaves
    /// ([`Cluster::leave`]) when the run is over.
    pub async fn join_for_once(
        cfg: &Config,
        collector: &Collector,
    ) -> Result<Option<Arc<Cluster>>, StateError> {
        let mut as_once = cfg.clone();
        let mut settings = cfg.cluster.clone().unwrap_or_default();
        settings.replica = Some(format!(
            "{}-once-{}",
            settings.replica_name(),
            std::process::id()
        ));
        as_once.cluster = Some(settings);
        let Some(cluster) = Cluster::join(&as_once, &collector.state)? else {
            return Ok(None);
        };
        let held = cluster.claim_free(collector).await?;
        tracing::info!(
            held = held.len(),
            "once: collecting the integrations no replica holds"
        );
        Ok(Some(cluster))
    }

    /// Claim every free or expired lease among the active integrations, ignoring shares (for
    /// `once`, which runs beside or instead of the replicas). Returns the names now held.
    async fn claim_free(&self, collector: &Collector) -> Result<Vec<String>, StateError> {
        let known = known(collector);
        let (me, lease, names) = (self.me.clone(), self.lease, known.clone());
        let claimed = self
            .db(move |pg| {
                pg.ensure_leases(&names)?;
                pg.claim(&me, &names, names.len(), lease)
            })
            .await?;
        Ok(claimed.into_iter().map(|c| self.took(c)).collect())
    }
}
