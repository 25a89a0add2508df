//! The PostgreSQL backend (`state_url`): the state that several replicas share, and the leases
//! (`leases.rs`) that let each integration be collected by one replica at a time.
//!
//! Every write that moves an integration on — a checkpoint, a value, a token — is fenced: it is
//! one statement that first locks the integration's lease row `FOR SHARE` where the lease still
//! has the writer's epoch, so a replica that lost the lease (paused, partitioned, slow) writes
//! nothing, and a takeover (which updates that row) waits for a write in progress to commit.

use super::runs::{to_i64, to_u64};
use super::store::{Fence, Store, StoredIntegration};
use super::{CachedToken, RunRecord, StateError, StreamState};
use crate::record::EventType;
use crate::support::clock::now_unix;
use crate::support::secret::Secret;
use postgres::types::ToSql;
use std::sync::Arc;

pub mod leases;
mod pool;
mod schema;
mod settings;
pub use settings::{PgSettings, DEFAULT_CONNECTIONS};

/// The shared state in PostgreSQL.
pub struct PgStore {
    pool: pool::Pool,
    settings: Arc<PgSettings>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.settings.target)
            .finish_non_exhaustive()
    }
}

/// Turns "no row was written" into a refused (fenced) write.
fn fenced_write(integration: &str, written: u64) -> Result<(), StateError> {
    if written == 0 {
        Err(StateError::Fenced {
            integration: integration.to_string(),
        })
    } else {
        Ok(())
    }
}

/// The lease condition of a fenced write: `$1` is the integration, `$fence` the epoch.
fn lease_cte(fence_param: usize) -> String {
    format!(
        "WITH lease AS (SELECT 1 FROM leases WHERE integration = $1 AND epoch = ${fence_param} FOR SHARE)"
    )
}

impl PgStore {
    /// Connect, and migrate the schema (refusing one newer than this build knows).
    pub fn open(settings: &PgSettings) -> Result<PgStore, StateError> {
        let settings = Arc::new(settings.clone());
        let pool = pool::Pool::start(settings.clone())?;
        let store = PgStore { pool, settings };
        let target = store.settings.target.clone();
        store
            .pool
            .run(schema::migrate)?
            .map_err(|message| StateError::Postgres { target, message })?;
        Ok(store)
    }

    /// `user@host:port/dbname`, for messages.
    pub fn target(&self) -> &str {
        &self.settings.target
    }

    /// Run `f` on a connection.
    pub(crate) fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<R, postgres::Error> + Send + 'static,
    ) -> Result<R, StateError> {
        self.pool.run(f)
    }

    /// An upsert of `table` that is fenced when `fence` is set: `insert` is the `INSERT … (cols)`
    /// part, `values` the `$…` list, `conflict` the `ON CONFLICT …` part.
    fn upsert(
        &self,
        integration: &str,
        sql: [&str; 3],
        params: Vec<Box<dyn ToSql + Sync + Send>>,
        fence: Fence,
    ) -> Result<(), StateError> {
        let [insert, values, conflict] = sql;
        let (text, params) = match fence {
            None => (format!("{insert} VALUES ({values}) {conflict}"), params),
            Some(epoch) => {
                let mut params = params;
                params.push(Box::new(epoch));
                (
                    format!(
                        "{} {insert} SELECT {values} FROM lease {conflict}",
                        lease_cte(params.len())
                    ),
                    params,
                )
            }
        };
        let n = self.run(move |c| {
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            c.execute(text.as_str(), &refs)
        })?;
        fenced_write(integration, n)
    }
}

fn owned(s: &str) -> Box<dyn ToSql + Sync + Send> {
    Box::new(s.to_string())
}

impl Store for PgStore {
    fn cursor(&self, integration: &str, et: EventType) -> Result<Option<String>, StateError> {
        let (i, e) = (integration.to_string(), et.as_str());
        self.run(move |c| {
            c.query_opt(
                "SELECT cursor FROM cursors WHERE integration = $1 AND event_type = $2",
                &[&i, &e],
            )?
            .map(|r| r.try_get(0))
            .transpose()
        })
    }

    fn save_cursor(
        &self,
        integration: &str,
        et: EventType,
        cursor: &str,
        fence: Fence,
    ) -> Result<(), StateError> {
        self.upsert(
            integration,
            [
                "INSERT INTO cursors (integration, event_type, cursor, updated_at)",
                "$1, $2, $3, $4",
                "ON CONFLICT (integration, event_type) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            ],
            vec![owned(integration), owned(et.as_str()), owned(cursor), Box::new(now_unix())],
            fence,
        )
    }

    fn token(&self, integration: &str) -> Result<Option<CachedToken>, StateError> {
        let i = integration.to_string();
        self.run(move |c| {
            c.query_opt(
                "SELECT access_token, expires_at, scopes, fingerprint, obtained_at FROM tokens WHERE integration = $1",
                &[&i],
            )?
            .map(|r| {
                Ok(CachedToken {
                    access_token: Secret::new(r.try_get::<_, String>(0)?),
                    expires_at: r.try_get(1)?,
                    scopes: r.try_get(2)?,
                    fingerprint: r.try_get(3)?,
                    obtained_at: r.try_get(4)?,
                })
            })
            .transpose()
        })
    }

    fn save_token(
        &self,
        integration: &str,
        token: &CachedToken,
        fence: Fence,
    ) -> Result<(), StateError> {
        self.upsert(
            integration,
            [
                "INSERT INTO tokens (integration, access_token, expires_at, scopes, fingerprint, obtained_at)",
                "$1, $2, $3, $4, $5, $6",
                "ON CONFLICT (integration) DO UPDATE SET access_token = excluded.access_token,
                   expires_at = excluded.expires_at, scopes = excluded.scopes,
                   fingerprint = excluded.fingerprint, obtained_at = excluded.obtained_at",
            ],
            vec![
                owned(integration),
                owned(token.access_token.expose()),
                Box::new(token.expires_at),
                owned(&token.scopes),
                owned(&token.fingerprint),
                Box::new(token.obtained_at),
            ],
            fence,
        )
    }

    fn clear_token(&self, integration: &str) -> Result<bool, StateError> {
        let i = integration.to_string();
        Ok(self.run(move |c| c.execute("DELETE FROM tokens WHERE integration = $1", &[&i]))? > 0)
    }

    fn get_value(&self, integration: &str, key: &str) -> Result<Option<String>, StateError> {
        let (i, k) = (integration.to_string(), key.to_string());
        self.run(move |c| {
            c.query_opt(
                "SELECT value FROM kv WHERE integration = $1 AND key = $2",
                &[&i, &k],
            )?
            .map(|r| r.try_get(0))
            .transpose()
        })
    }

    fn set_value(
        &self,
        integration: &str,
        key: &str,
        value: &str,
        fence: Fence,
    ) -> Result<(), StateError> {
        self.upsert(
            integration,
            [
                "INSERT INTO kv (integration, key, value, updated_at)",
                "$1, $2, $3, $4",
                "ON CONFLICT (integration, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            ],
            vec![owned(integration), owned(key), owned(value), Box::new(now_unix())],
            fence,
        )
    }

    fn delete_value(&self, integration: &str, key: &str, fence: Fence) -> Result<bool, StateError> {
        let (i, k) = (integration.to_string(), key.to_string());
        let Some(epoch) = fence else {
            return Ok(self.run(move |c| {
                c.execute(
                    "DELETE FROM kv WHERE integration = $1 AND key = $2",
                    &[&i, &k],
                )
            })? > 0);
        };
        // Fenced: (lease held, deleted) — a delete of nothing under a held lease is no refusal.
        let (held, deleted) = self.run(move |c| {
            let sql = format!(
                "{}, gone AS (DELETE FROM kv WHERE integration = $1 AND key = $2 AND EXISTS (SELECT 1 FROM lease) RETURNING 1)
                 SELECT (SELECT count(*) FROM lease), (SELECT count(*) FROM gone)",
                lease_cte(3)
            );
            let r = c.query_one(sql.as_str(), &[&i, &k, &epoch])?;
            Ok((r.get::<_, i64>(0), r.get::<_, i64>(1)))
        })?;
        fenced_write(integration, held as u64)?;
        Ok(deleted > 0)
    }

    fn run_started(
        &self,
        integration: &str,
        et: EventType,
        started_at: i64,
    ) -> Result<i64, StateError> {
        let (i, e) = (integration.to_string(), et.as_str());
        let kept = to_i64(super::RUNS_KEPT as u64);
        self.run(move |c| {
            let mut tx = c.transaction()?;
            let id: i64 = tx
                .query_one(
                    "INSERT INTO runs (integration, event_type, started_at, events, pages) VALUES ($1, $2, $3, 0, 0) RETURNING id",
                    &[&i, &e, &started_at],
                )?
                .try_get(0)?;
            tx.execute(
                "DELETE FROM runs WHERE integration = $1 AND event_type = $2 AND id NOT IN
                   (SELECT id FROM runs WHERE integration = $1 AND event_type = $2 ORDER BY id DESC LIMIT $3)",
                &[&i, &e, &kept],
            )?;
            tx.commit()?;
            Ok(id)
        })
    }

    fn run_finished(
        &self,
        run_id: i64,
        ended_at: i64,
        events: u64,
        pages: u64,
        error: Option<&str>,
    ) -> Result<(), StateError> {
        let error = error.map(str::to_string);
        let (events, pages) = (to_i64(events), to_i64(pages));
        self.run(move |c| {
            c.execute(
                "UPDATE runs SET ended_at = $2, events = $3, pages = $4, error = $5 WHERE id = $1",
                &[&run_id, &ended_at, &events, &pages, &error],
            )
        })?;
        Ok(())
    }

    fn recent_runs(
        &self,
        integration: &str,
        et: EventType,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StateError> {
        let (i, e) = (integration.to_string(), et.as_str());
        let limit = to_i64(limit as u64);
        self.run(move |c| {
            let rows = c.query(
                "SELECT id, integration, event_type, started_at, ended_at, events, pages, error FROM runs
                 WHERE integration = $1 AND event_type = $2 ORDER BY id DESC LIMIT $3",
                &[&i, &e, &limit],
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.extend(run_from_row(r)?);
            }
            Ok(out)
        })
    }

    fn streams(&self, integration: Option<&str>) -> Result<Vec<StreamState>, StateError> {
        let only = integration.map(str::to_string);
        let mut out = self.run(move |c| {
            let rows = c.query(
                "WITH k AS (
                   SELECT integration, event_type FROM cursors WHERE $1::text IS NULL OR integration = $1
                   UNION SELECT integration, event_type FROM runs WHERE $1::text IS NULL OR integration = $1)
                 SELECT r.id, k.integration, k.event_type, r.started_at, r.ended_at, r.events, r.pages, r.error,
                        c.cursor, c.updated_at, s.ended_at
                 FROM k
                 LEFT JOIN cursors c ON c.integration = k.integration AND c.event_type = k.event_type
                 LEFT JOIN LATERAL (SELECT * FROM runs WHERE integration = k.integration
                   AND event_type = k.event_type ORDER BY id DESC LIMIT 1) r ON true
                 LEFT JOIN LATERAL (SELECT ended_at FROM runs WHERE integration = k.integration
                   AND event_type = k.event_type AND error IS NULL AND ended_at IS NOT NULL
                   ORDER BY id DESC LIMIT 1) s ON true",
                &[&only],
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let Some(event_type) = EventType::parse(r.try_get::<_, &str>(2)?) else {
                    continue;
                };
                let last_run = match r.try_get::<_, Option<i64>>(0)? {
                    Some(_) => run_from_row(r)?,
                    None => None,
                };
                out.push(StreamState {
                    integration: r.try_get(1)?,
                    event_type,
                    cursor: r.try_get(8)?,
                    cursor_updated_at: r.try_get(9)?,
                    last_run,
                    last_success_at: r.try_get(10)?,
                });
            }
            Ok(out)
        })?;
        out.sort_by(|a, b| (&a.integration, a.event_type).cmp(&(&b.integration, b.event_type)));
        Ok(out)
    }

    fn managed(&self) -> Result<Vec<StoredIntegration>, StateError> {
        self.run(|c| {
            c.query(
                "SELECT name, data, created_at, updated_at FROM managed_integrations ORDER BY name",
                &[],
            )?
            .iter()
            .map(stored)
            .collect()
        })
    }

    fn managed_one(&self, name: &str) -> Result<Option<StoredIntegration>, StateError> {
        let n = name.to_string();
        self.run(move |c| {
            c.query_opt(
                "SELECT name, data, created_at, updated_at FROM managed_integrations WHERE name = $1",
                &[&n],
            )?
            .as_ref()
            .map(stored)
            .transpose()
        })
    }

    fn save_managed(&self, name: &str, data: &str, at: i64) -> Result<(), StateError> {
        let (n, d) = (name.to_string(), data.to_string());
        self.run(move |c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO managed_integrations (name, data, created_at, updated_at) VALUES ($1, $2, $3, $3)
                 ON CONFLICT (name) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                &[&n, &d, &at],
            )?;
            tx.execute(schema::BUMP_MANAGED_VERSION, &[])?;
            tx.commit()
        })
    }

    fn delete_managed(&self, name: &str) -> Result<bool, StateError> {
        let n = name.to_string();
        self.run(move |c| {
            let mut tx = c.transaction()?;
            let gone = tx.execute("DELETE FROM managed_integrations WHERE name = $1", &[&n])?;
            tx.execute(schema::BUMP_MANAGED_VERSION, &[])?;
            tx.commit()?;
            Ok(gone > 0)
        })
    }

    fn reseal(&self, rows: &[(String, String, String)]) -> Result<(), StateError> {
        let rows = rows.to_vec();
        self.run(move |c| {
            let mut tx = c.transaction()?;
            for (name, old, new) in &rows {
                tx.execute(
                    "UPDATE managed_integrations SET data = $1 WHERE name = $2 AND data = $3",
                    &[new, name, old],
                )?;
            }
            tx.commit()
        })
    }

    fn integration_ids(&self, assign: &[String]) -> Result<Vec<(String, i64)>, StateError> {
        let assign = assign.to_vec();
        let at = now_unix();
        self.run(move |c| {
            if !assign.is_empty() {
                let mut tx = c.transaction()?;
                for name in &assign {
                    tx.execute(
                        "INSERT INTO integration_ids (name, assigned_at) VALUES ($1, $2)
                         ON CONFLICT (name) DO NOTHING",
                        &[name, &at],
                    )?;
                }
                tx.commit()?;
            }
            c.query("SELECT name, id FROM integration_ids ORDER BY id", &[])?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
    }

    fn ping(&self) -> Result<(), StateError> {
        self.run(|c| c.simple_query("SELECT 1").map(|_| ()))
    }
}

fn stored(r: &postgres::Row) -> Result<StoredIntegration, postgres::Error> {
    Ok(StoredIntegration {
        name: r.try_get(0)?,
        data: r.try_get(1)?,
        created_at: r.try_get(2)?,
        updated_at: r.try_get(3)?,
    })
}

/// A run from columns 0..8 (id, integration, event type, started, ended, events, pages, error);
/// `None` for an unknown event type.
fn run_from_row(r: &postgres::Row) -> Result<Option<RunRecord>, postgres::Error> {
    let Some(event_type) = EventType::parse(r.try_get::<_, &str>(2)?) else {
        return Ok(None);
    };
    Ok(Some(RunRecord {
        id: r.try_get(0)?,
        integration: r.try_get(1)?,
        event_type,
        started_at: r.try_get(3)?,
        ended_at: r.try_get(4)?,
        events: to_u64(r.try_get(5)?),
        pages: to_u64(r.try_get(6)?),
        error: r.try_get(7)?,
    }))
}
