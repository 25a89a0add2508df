//! Replicas and leases in PostgreSQL: each statement is one round trip and uses the database's
//! clock (`now()`), so replicas whose clocks disagree still agree on who holds what.
//!
//! - a replica registers under its name (refused while another live process uses that name) and
//!   heartbeats; a replica is live while its heartbeat is younger than the lease;
//! - a claim takes free or expired leases with `FOR UPDATE SKIP LOCKED` and raises each one's
//!   epoch in the same statement;
//! - a renewal extends every lease the instance holds and returns them, so one it no longer has
//!   shows as missing;
//! - a release clears the holder but keeps the epoch (the next claim raises it).

use super::PgStore;
use crate::state::StateError;
use std::time::Duration;

/// A lease this replica has just claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub integration: String,
    pub epoch: i64,
    /// The replica that held it before, when its lease ran out rather than being released.
    pub taken_from: Option<String>,
}

/// Who holds an integration, as `state` and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeaseView {
    pub integration: String,
    pub holder: Option<String>,
    pub epoch: i64,
    /// Unix seconds the lease runs until (past: expired).
    pub expires_at: i64,
}

/// This process among the replicas: its name and a value unique to this start.
#[derive(Debug, Clone)]
pub struct Me {
    pub name: String,
    pub instance: String,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl PgStore {
    /// Register `me`; refused while a live replica (heartbeat younger than `lease`) of the same
    /// name is another process.
    pub fn register(&self, me: &Me, host: &str, lease: Duration) -> Result<(), StateError> {
        let (name, instance, host) = (me.name.clone(), me.instance.clone(), host.to_string());
        let pid = i64::from(std::process::id());
        let ttl = secs(lease);
        let n = self.run(move |c| {
            c.execute(
                "INSERT INTO replicas (name, instance, host, pid, started_at, heartbeat_at)
                 VALUES ($1, $2, $3, $4, now(), now())
                 ON CONFLICT (name) DO UPDATE SET instance = excluded.instance, host = excluded.host,
                   pid = excluded.pid, started_at = now(), heartbeat_at = now()
                 WHERE replicas.instance = excluded.instance
                    OR replicas.heartbeat_at < now() - make_interval(secs => $5)",
                &[&name, &instance, &host, &pid, &ttl],
            )
        })?;
        if n == 0 {
            return Err(StateError::Postgres {
                target: self.target().to_string(),
                message: format!(
                    "another live replica is named {:?}: give each replica its own [cluster] replica name",
                    me.name
                ),
            });
        }
        Ok(())
    }

    /// Refresh `me`'s heartbeat; `false` when its row is gone or taken by another instance.
    pub fn heartbeat(&self, me: &Me) -> Result<bool, StateError> {
        let (name, instance) = (me.name.clone(), me.instance.clone());
        Ok(self.run(move |c| {
            c.execute(
                "UPDATE replicas SET heartbeat_at = now() WHERE name = $1 AND instance = $2",
                &[&name, &instance],
            )
        })? == 1)
    }

    /// Replicas whose heartbeat is younger than `lease` (at least 1: the caller is one).
    pub fn live_replicas(&self, lease: Duration) -> Result<usize, StateError> {
        let ttl = secs(lease);
        let n: i64 = self.run(move |c| {
            c.query_one(
                "SELECT count(*) FROM replicas WHERE heartbeat_at >= now() - make_interval(secs => $1)",
                &[&ttl],
            )?
            .try_get(0)
        })?;
        Ok(usize::try_from(n).unwrap_or(0).max(1))
    }

    /// Make sure every integration of `names` has a lease row (free when new).
    pub fn ensure_leases(&self, names: &[String]) -> Result<(), StateError> {
        let names = names.to_vec();
        self.run(move |c| {
            c.execute(
                "INSERT INTO leases (integration) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
                &[&names],
            )
        })?;
        Ok(())
    }

    /// Extend every lease `me` holds to now + `lease`; returns them (integration, epoch).
    pub fn renew(&self, me: &Me, lease: Duration) -> Result<Vec<(String, i64)>, StateError> {
        let (name, instance, ttl) = (me.name.clone(), me.instance.clone(), secs(lease));
        self.run(move |c| {
            c.query(
                "UPDATE leases SET expires_at = now() + make_interval(secs => $3)
                 WHERE holder = $1 AND instance = $2 RETURNING integration, epoch",
                &[&name, &instance, &ttl],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
        })
    }

    /// Claim up to `n` of `among` whose lease is free or expired, for `lease`.
    pub fn claim(
        &self,
        me: &Me,
        among: &[String],
        n: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, StateError> {
        if n == 0 || among.is_empty() {
            return Ok(Vec::new());
        }
        let (name, instance, ttl) = (me.name.clone(), me.instance.clone(), secs(lease));
        let among = among.to_vec();
        let limit = i64::try_from(n).unwrap_or(i64::MAX);
        self.run(move |c| {
            c.query(
                "WITH free AS (
                   SELECT integration, holder AS previous FROM leases
                   WHERE integration = ANY($3) AND (holder IS NULL OR expires_at < now())
                   ORDER BY integration LIMIT $4 FOR UPDATE SKIP LOCKED)
                 UPDATE leases l SET holder = $1, instance = $2, epoch = l.epoch + 1,
                   expires_at = now() + make_interval(secs => $5), acquired_at = now()
                 FROM free WHERE l.integration = free.integration
                 RETURNING l.integration, l.epoch, free.previous",
                &[&name, &instance, &among, &limit, &ttl],
            )?
            .iter()
            .map(|r| {
                Ok(Claimed {
                    integration: r.try_get(0)?,
                    epoch: r.try_get(1)?,
                    taken_from: r.try_get(2)?,
                })
            })
            .collect()
        })
    }

    /// Give up the leases of `names` that `me` holds (their epochs stay); returns how many.
    pub fn release(&self, me: &Me, names: &[String]) -> Result<usize, StateError> {
        let (name, instance, names) = (me.name.clone(), me.instance.clone(), names.to_vec());
        let n = self.run(move |c| {
            c.execute(
                "UPDATE leases SET holder = NULL, instance = NULL, expires_at = 'epoch'
                 WHERE holder = $1 AND instance = $2 AND integration = ANY($3)",
                &[&name, &instance, &names],
            )
        })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Give up every lease of `me` and leave the replicas.
    pub fn leave(&self, me: &Me) -> Result<usize, StateError> {
        let (name, instance) = (me.name.clone(), me.instance.clone());
        let n = self.run(move |c| {
            let mut tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE leases SET holder = NULL, instance = NULL, expires_at = 'epoch'
                 WHERE holder = $1 AND instance = $2",
                &[&name, &instance],
            )?;
            tx.execute(
                "DELETE FROM replicas WHERE name = $1 AND instance = $2",
                &[&name, &instance],
            )?;
            tx.commit()?;
            Ok(n)
        })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Every lease row (`Some(name)`: that integration's only).
    pub fn leases(&self, only: Option<&str>) -> Result<Vec<LeaseView>, StateError> {
        let only = only.map(str::to_string);
        self.run(move |c| {
            c.query(
                "SELECT integration, holder, epoch, floor(extract(epoch FROM expires_at))::bigint
                 FROM leases WHERE $1::text IS NULL OR integration = $1 ORDER BY integration",
                &[&only],
            )?
            .iter()
            .map(|r| {
                Ok(LeaseView {
                    integration: r.try_get(0)?,
                    holder: r.try_get(1)?,
                    epoch: r.try_get(2)?,
                    expires_at: r.try_get(3)?,
                })
            })
            .collect()
        })
    }

    /// The version of the API-managed integrations (bumped by every change to them).
    pub fn managed_version(&self) -> Result<i64, StateError> {
        self.run(|c| {
            match c.query_opt(
                "SELECT version FROM versions WHERE what = 'managed_integrations'",
                &[],
            )? {
                Some(r) => r.try_get(0),
                None => Ok(0),
            }
        })
    }
}
