//! The PostgreSQL schema and its versioned migrations, applied at start under an advisory lock
//! (replicas starting together migrate once). A database whose schema is newer than this build
//! knows is refused, so an old binary never writes into a newer layout during a rolling upgrade.

use postgres::Client;

/// Schema steps; step `i` takes the database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // v1: what SQLite holds, plus the replicas and their leases.
    "CREATE TABLE cursors (
        integration TEXT NOT NULL,
        event_type  TEXT NOT NULL,
        cursor      TEXT NOT NULL,
        updated_at  BIGINT NOT NULL,
        PRIMARY KEY (integration, event_type)
    );
    CREATE TABLE tokens (
        integration  TEXT PRIMARY KEY,
        access_token TEXT NOT NULL,
        expires_at   BIGINT NOT NULL,
        scopes       TEXT NOT NULL,
        fingerprint  TEXT NOT NULL,
        obtained_at  BIGINT NOT NULL
    );
    CREATE TABLE runs (
        id          BIGSERIAL PRIMARY KEY,
        integration TEXT NOT NULL,
        event_type  TEXT NOT NULL,
        started_at  BIGINT NOT NULL,
        ended_at    BIGINT,
        events      BIGINT NOT NULL DEFAULT 0,
        pages       BIGINT NOT NULL DEFAULT 0,
        error       TEXT
    );
    CREATE INDEX runs_by_stream ON runs (integration, event_type, id);
    CREATE TABLE kv (
        integration TEXT NOT NULL,
        key         TEXT NOT NULL,
        value       TEXT NOT NULL,
        updated_at  BIGINT NOT NULL,
        PRIMARY KEY (integration, key)
    );
    CREATE TABLE managed_integrations (
        name       TEXT PRIMARY KEY,
        data       TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    -- Bumped with every change to managed_integrations, so replicas notice it cheaply.
    CREATE TABLE versions (
        what    TEXT PRIMARY KEY,
        version BIGINT NOT NULL
    );
    INSERT INTO versions (what, version) VALUES ('managed_integrations', 0);
    CREATE TABLE replicas (
        name         TEXT PRIMARY KEY,
        instance     TEXT NOT NULL,
        host         TEXT NOT NULL,
        pid          BIGINT NOT NULL,
        started_at   TIMESTAMPTZ NOT NULL,
        heartbeat_at TIMESTAMPTZ NOT NULL
    );
    -- One row per integration: who holds it (NULL: nobody), under which epoch, until when.
    -- The epoch grows by one at every claim; writes are fenced by it.
    CREATE TABLE leases (
        integration TEXT PRIMARY KEY,
        holder      TEXT,
        instance    TEXT,
        epoch       BIGINT NOT NULL DEFAULT 0,
        expires_at  TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
        acquired_at TIMESTAMPTZ
    );
    CREATE INDEX leases_by_holder ON leases (holder, instance);",
    // v2: a stable integer id per integration name (the API's `id`), assigned when the name is
    // first seen by any replica; a sequence never hands out an id again, rows are never deleted.
    "CREATE TABLE integration_ids (
        id          BIGSERIAL PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        assigned_at BIGINT NOT NULL
    );",
];

/// Records that the API-managed integrations changed.
pub(super) const BUMP_MANAGED_VERSION: &str =
    "UPDATE versions SET version = version + 1 WHERE what = 'managed_integrations'";

/// An arbitrary constant: the advisory lock key under which migrations run.
const MIGRATION_LOCK: i64 = 0x6473_636f_6c6c;

/// The schema version this build writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Apply the missing migrations in one transaction; `Ok(Err(_))` when the schema is newer.
pub(super) fn migrate(c: &mut Client) -> Result<Result<(), String>, postgres::Error> {
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let version: i64 = match tx.query_opt("SELECT max(version) FROM schema_version", &[])? {
        Some(row) => row.try_get::<_, Option<i64>>(0)?.unwrap_or(0),
        None => 0,
    };
    let target = current_version();
    if version > target {
        return Ok(Err(format!(
            "schema version {version} was written by a newer docusign-collector (this build knows up to {target}): upgrade this replica, or point state_url at another database"
        )));
    }
    for step in MIGRATIONS.iter().skip(version.max(0) as usize) {
        tx.batch_execute(step)?;
    }
    if version < target {
        tx.execute("DELETE FROM schema_version", &[])?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&target],
        )?;
    }
    tx.commit()?;
    Ok(Ok(()))
}
