//! The integration context: cursors, the token cache, run history, small per-integration values
//! and the integrations created through the local API, in one of two backends behind [`Store`]:
//! SQLite (`state_path`, one host) or PostgreSQL (`state_url`, replicas that share it).
//!
//! With PostgreSQL every replica writes under a lease ([`LeaseBook`]): a write of a checkpoint,
//! a value or a token carries the epoch this replica holds for the integration, and the database
//! refuses it when another replica has taken the integration over since. A refused write is a
//! [`StateError::Fenced`]; the integration is dropped from the book at once, logged and counted.

use crate::record::EventType;
use crate::support::secret::Secret;
use std::path::Path;
use std::sync::{Arc, OnceLock};

mod fence;
pub use fence::LeaseBook;
mod ids;
mod managed;
pub use managed::{ManagedIntegration, Unopened};
pub mod postgres;
mod runs;
pub use runs::{RunRecord, StreamState};
mod scratch;
pub use scratch::Scratch;
mod sqlite;
mod store;
use store::{Fence, Store};
#[cfg(test)]
mod tests;

/// Runs kept per (integration, event type); older ones are pruned when a run starts.
pub const RUNS_KEPT: usize = 200;

/// Errors from the state database. Messages name the database and never contain a token or a
/// password.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database {path}: {message}")]
    Open { path: String, message: String },
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("state database {target}: {message}")]
    Postgres { target: String, message: String },
    #[error("state database: integration {name}: {message}")]
    Sealed { name: String, message: String },
    #[error("integration {integration}: this replica no longer holds its lease (another replica collects it now); the write was refused")]
    Fenced { integration: String },
}

impl StateError {
    /// The write was refused because another replica holds the integration's lease now.
    pub fn is_fenced(&self) -> bool {
        matches!(self, StateError::Fenced { .. })
    }
}

/// A cached access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    pub access_token: Secret,
    /// Unix seconds.
    pub expires_at: i64,
    /// Space-separated scopes the token was granted for.
    pub scopes: String,
    /// Identifies the settings the token was granted under (key id, user, OAuth host, scopes);
    /// a token whose fingerprint differs from the current one is not reused.
    pub fingerprint: String,
    /// Unix seconds the token was granted at (its lifetime sets the renewal margin).
    pub obtained_at: i64,
}

/// Holds the collection lock of a state database until dropped.
#[derive(Debug)]
pub struct CollectionLock {
    _file: std::fs::File,
}

#[derive(Clone)]
enum Backend {
    Sqlite(Arc<sqlite::SqliteStore>),
    Postgres(Arc<postgres::PgStore>),
}

/// Cheap to clone; all clones share one backend (one SQLite connection, or one pool).
#[derive(Clone)]
pub struct State {
    backend: Backend,
    /// The database for messages: a path, or `user@host:port/dbname` (never a password).
    path: Arc<str>,
    /// Seals the settings of API-created integrations (their private keys) when set.
    seal: Arc<OnceLock<crate::support::seal::SealKeys>>,
    /// The leases this replica holds; set only when replicas share the database.
    leases: Arc<OnceLock<Arc<LeaseBook>>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("path", &self.path).finish()
    }
}

impl State {
    fn with(backend: Backend, path: String) -> State {
        State {
            backend,
            path: path.into(),
            seal: Default::default(),
            leases: Default::default(),
        }
    }

    /// Open or create the SQLite database at `path` (creating parent directories, mode 0600),
    /// WAL, migrated to the current schema version.
    pub fn open(path: &Path) -> Result<State, StateError> {
        let store = sqlite::SqliteStore::open(path)?;
        Ok(State::with(
            Backend::Sqlite(Arc::new(store)),
            path.display().to_string(),
        ))
    }

    /// A private in-memory database (tests, `get-events`, `demo`).
    pub fn open_in_memory() -> Result<State, StateError> {
        let store = sqlite::SqliteStore::open_in_memory()?;
        Ok(State::with(
            Backend::Sqlite(Arc::new(store)),
            ":memory:".into(),
        ))
    }

    /// Connect to the PostgreSQL database that replicas share, migrated to the current schema.
    pub fn open_postgres(settings: &postgres::PgSettings) -> Result<State, StateError> {
        let store = postgres::PgStore::open(settings)?;
        let target = store.target().to_string();
        Ok(State::with(Backend::Postgres(Arc::new(store)), target))
    }

    /// The backend the configuration names: `state_url` when set, else `state_path`.
    pub fn open_configured(cfg: &crate::config::Config) -> Result<State, StateError> {
        match postgres::PgSettings::from_config(cfg)? {
            Some(settings) => State::open_postgres(&settings),
            None => State::open(&cfg.state_path),
        }
    }

    /// The database as messages name it: the path given to [`State::open`] (`:memory:` for an
    /// in-memory one), or `user@host:port/dbname` for PostgreSQL.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The PostgreSQL backend, when that is the one in use (leases live there).
    pub fn postgres(&self) -> Option<&Arc<postgres::PgStore>> {
        match &self.backend {
            Backend::Postgres(pg) => Some(pg),
            Backend::Sqlite(_) => None,
        }
    }

    fn store(&self) -> &dyn Store {
        match &self.backend {
            Backend::Sqlite(s) => s.as_ref(),
            Backend::Postgres(p) => p.as_ref(),
        }
    }

    #[cfg(test)]
    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        match &self.backend {
            Backend::Sqlite(s) => s.conn(),
            Backend::Postgres(_) => panic!("not a SQLite state"),
        }
    }

    /// Take the collection lock of the database at `path` (`<path>.lock`): one collecting process
    /// per SQLite state, so two processes never deliver the same pages. Held until the guard
    /// drops. (Replicas sharing PostgreSQL use leases instead.)
    pub fn lock_collection(path: &Path) -> Result<CollectionLock, StateError> {
        use std::io::{Read, Seek, Write};
        use std::os::unix::fs::OpenOptionsExt;
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = std::path::PathBuf::from(lock_path);
        let err = |message: String| StateError::Open {
            path: lock_path.display().to_string(),
            message,
        };
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| err(format!("cannot create its directory: {e}")))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| err(format!("cannot open the lock file: {e}")))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(err(format!(
                    "another docusign-collector process (pid {}) is collecting with this state database; stop it first, or give this one its own state_path",
                    holder.trim()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(format!("cannot lock: {e}"))),
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(CollectionLock { _file: file })
    }

    /// From now on every checkpoint, value and token write is fenced by `book`'s leases.
    pub fn use_leases(&self, book: Arc<LeaseBook>) {
        let _ = self.leases.set(book);
    }

    /// The lease book, when writes are fenced.
    pub fn lease_book(&self) -> Option<&Arc<LeaseBook>> {
        self.leases.get()
    }

    /// Whether this process may collect `integration` now: always on one host; with leases,
    /// only while it holds the integration's lease.
    pub fn holds(&self, integration: &str) -> bool {
        self.leases
            .get()
            .is_none_or(|b| b.epoch(integration).is_some())
    }

    /// Run a write under the fence of `integration`; a refusal drops the lease from the book
    /// and is logged and counted.
    fn fenced<T>(
        &self,
        integration: &str,
        write: impl FnOnce(Fence) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let Some(book) = self.leases.get() else {
            return write(None);
        };
        let outcome = match book.epoch(integration) {
            Some(epoch) => write(Some(epoch)),
            None => Err(StateError::Fenced {
                integration: integration.to_string(),
            }),
        };
        if let Err(StateError::Fenced { .. }) = &outcome {
            book.refused(integration);
        }
        outcome
    }

    /// The saved cursor of one stream.
    pub fn cursor(&self, integration: &str, et: EventType) -> Result<Option<String>, StateError> {
        self.store().cursor(integration, et)
    }

    /// Save (upsert) the cursor of one stream; committed when this returns (SQLite in WAL with
    /// `synchronous = NORMAL`: it survives the process crashing, and the host crashing once the WAL
    /// is synced at the next checkpoint; PostgreSQL: once its WAL is flushed).
    pub fn save_cursor(
        &self,
        integration: &str,
        et: EventType,
        cursor: &str,
    ) -> Result<(), StateError> {
        self.fenced(integration, |f| {
            self.store().save_cursor(integration, et, cursor, f)
        })
    }

    /// The cached token of an integration, if any (expired or not: the caller decides).
    pub fn token(&self, integration: &str) -> Result<Option<CachedToken>, StateError> {
        self.store().token(integration)
    }

    /// Cache (replace) the token of an integration.
    pub fn save_token(&self, integration: &str, token: &CachedToken) -> Result<(), StateError> {
        self.fenced(integration, |f| {
            self.store().save_token(integration, token, f)
        })
    }

    /// Forget the cached token; `true` when there was one. (Not fenced: forgetting only forces
    /// the holder to grant anew.)
    pub fn clear_token(&self, integration: &str) -> Result<bool, StateError> {
        self.store().clear_token(integration)
    }

    /// Unix seconds the cached token expires at (never the token itself).
    pub fn token_expiry(&self, integration: &str) -> Result<Option<i64>, StateError> {
        Ok(self.store().token(integration)?.map(|t| t.expires_at))
    }

    /// A small per-integration value (e.g. a high-water mark), if set.
    pub fn get_value(&self, integration: &str, key: &str) -> Result<Option<String>, StateError> {
        self.store().get_value(integration, key)
    }

    /// Set (upsert) a small per-integration value.
    pub fn set_value(&self, integration: &str, key: &str, value: &str) -> Result<(), StateError> {
        self.fenced(integration, |f| {
            self.store().set_value(integration, key, value, f)
        })
    }

    /// Remove a per-integration value; true when there was one.
    pub fn delete_value(&self, integration: &str, key: &str) -> Result<bool, StateError> {
        self.fenced(integration, |f| {
            self.store().delete_value(integration, key, f)
        })
    }

    /// Record the start of a run and return its id; keeps only the last [`RUNS_KEPT`] runs
    /// of the stream.
    pub fn run_started(
        &self,
        integration: &str,
        et: EventType,
        started_at: i64,
    ) -> Result<i64, StateError> {
        self.store().run_started(integration, et, started_at)
    }

    /// Record the end of a run (`error` is `None` for a successful run). An id that no
    /// longer exists (pruned) is ignored.
    pub fn run_finished(
        &self,
        run_id: i64,
        ended_at: i64,
        events: u64,
        pages: u64,
        error: Option<&str>,
    ) -> Result<(), StateError> {
        self.store()
            .run_finished(run_id, ended_at, events, pages, error)
    }

    /// The latest runs of a stream, newest first.
    pub fn recent_runs(
        &self,
        integration: &str,
        et: EventType,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StateError> {
        self.store().recent_runs(integration, et, limit)
    }

    /// One entry per (integration, event type) with a cursor or a run, sorted by integration
    /// then event type; `Some(name)` restricts to one integration.
    pub fn streams(&self, integration: Option<&str>) -> Result<Vec<StreamState>, StateError> {
        self.store().streams(integration)
    }

    /// Who holds `integration`'s lease, as `state` and the API show it: `None` on one host
    /// (SQLite) or before any replica knew the integration.
    pub fn lease_view(&self, integration: &str) -> Result<Option<serde_json::Value>, StateError> {
        let Some(pg) = self.postgres() else {
            return Ok(None);
        };
        let now = crate::support::clock::now_unix();
        Ok(pg.leases(Some(integration))?.into_iter().next().map(|l| {
            let live = l.holder.is_some() && l.expires_at > now;
            serde_json::json!({
                "holder": if live { l.holder } else { None },
                "until": live.then(|| crate::record::format_time(l.expires_at)),
                "epoch": l.epoch,
            })
        }))
    }

    /// Whether the database answers now (readiness).
    pub fn ping(&self) -> Result<(), StateError> {
        self.store().ping()
    }
}
