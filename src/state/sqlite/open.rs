//! Opening the state database: file permissions, pragmas and versioned migrations.

use super::BUSY_TIMEOUT;
use crate::state::StateError;
use rusqlite::{Connection, ErrorCode};
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Schema steps; step `i` takes the database from `user_version` `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // v1
    "CREATE TABLE cursors (
        integration TEXT NOT NULL,
        event_type  TEXT NOT NULL,
        cursor      TEXT NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (integration, event_type)
    );
    CREATE TABLE tokens (
        integration  TEXT PRIMARY KEY,
        access_token TEXT NOT NULL,
        expires_at   INTEGER NOT NULL,
        scopes       TEXT NOT NULL,
        fingerprint  TEXT NOT NULL,
        obtained_at  INTEGER NOT NULL
    );
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        integration TEXT NOT NULL,
        event_type  TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        ended_at    INTEGER,
        events      INTEGER NOT NULL DEFAULT 0,
        pages       INTEGER NOT NULL DEFAULT 0,
        error       TEXT
    );
    CREATE INDEX runs_by_stream ON runs (integration, event_type, id);
    CREATE TABLE kv (
        integration TEXT NOT NULL,
        key         TEXT NOT NULL,
        value       TEXT NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (integration, key)
    );",
    // v2: integrations created through the local API (`data` holds their settings, key included).
    "CREATE TABLE managed_integrations (
        name       TEXT PRIMARY KEY,
        data       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );",
    // v3: a stable integer id per integration name (the API's `id`), assigned when the name is
    // first seen; AUTOINCREMENT never hands out an id again, and rows are never deleted.
    "CREATE TABLE integration_ids (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        name        TEXT NOT NULL UNIQUE,
        assigned_at INTEGER NOT NULL
    );",
];

/// The schema version this build writes.
pub(in crate::state) fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

fn open_err(path: &Path, message: impl Into<String>) -> StateError {
    StateError::Open {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Explains an I/O error on the database file or its directory.
fn io_err(path: &Path, what: &str, e: &io::Error) -> StateError {
    let hint = match e.kind() {
        io::ErrorKind::PermissionDenied => {
            "; check that the collector's user owns the directory (or set state_path elsewhere)"
        }
        io::ErrorKind::StorageFull => "; free disk space and retry",
        io::ErrorKind::ReadOnlyFilesystem => "; state_path must be on a writable filesystem",
        _ => "",
    };
    open_err(path, format!("{what}: {e}{hint}"))
}

/// Explains an SQLite error met while opening or migrating.
fn sql_err(path: &Path, e: rusqlite::Error) -> StateError {
    let code = e.sqlite_error_code();
    let message = match code {
        Some(ErrorCode::NotADatabase) => {
            "is not a SQLite database (corrupt or another file): move it aside or set state_path to another file".to_string()
        }
        Some(ErrorCode::CannotOpen) | Some(ErrorCode::PermissionDenied) | Some(ErrorCode::ReadOnly) => {
            format!("cannot open for writing ({e}): check the file's and directory's owner and permissions")
        }
        Some(ErrorCode::DiskFull) => format!("disk full ({e}): free disk space and retry"),
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => format!(
            "locked by another process for more than {}s ({e}): is another collector running with the same state_path?",
            BUSY_TIMEOUT.as_secs()
        ),
        Some(ErrorCode::DatabaseCorrupt) => {
            format!("is corrupt ({e}): move it aside (cursors restart from start_from)")
        }
        _ => e.to_string(),
    };
    open_err(path, message)
}

/// Create the file with mode 0600 if missing, else tighten a group/world-accessible mode.
fn prepare_file(path: &Path) -> Result<(), StateError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| {
            io_err(
                path,
                &format!("cannot create directory {}", parent.display()),
                &e,
            )
        })?;
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(path, "cannot create the file", &e)),
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = Path::new(&p);
        let Ok(meta) = fs::metadata(p) else { continue };
        if !meta.is_file() {
            if suffix.is_empty() {
                return Err(open_err(path, "exists but is not a regular file"));
            }
            continue;
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            fs::set_permissions(p, fs::Permissions::from_mode(0o600))
                .map_err(|e| io_err(p, "cannot restrict permissions to 0600", &e))?;
            tracing::warn!(
                path = %p.display(),
                old_mode = format!("{mode:o}"),
                "state database was readable by other users; permissions set to 0600"
            );
        }
    }
    Ok(())
}

fn configure(conn: &Connection, wal: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if wal {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(journal_mode = %mode, "state database could not switch to WAL");
        }
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted and replaced rows are overwritten with zeros, so a key sealed in place leaves no
    // plain copy in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

/// Apply the missing migrations, one transaction each. A newer schema is an error.
pub(in crate::state) fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let target = current_version();
    if version > target {
        return Err(MigrateError::TooNew(version));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Why a migration failed.
pub(in crate::state) enum MigrateError {
    TooNew(i64),
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sql(e)
    }
}

fn migrate_err(path: &Path, e: MigrateError) -> StateError {
    match e {
        MigrateError::TooNew(v) => open_err(
            path,
            format!(
                "schema version {v} was written by a newer docusign-collector (this build knows up to {}): upgrade the collector or set state_path to another file",
                current_version()
            ),
        ),
        MigrateError::Sql(e) => sql_err(path, e),
    }
}

/// Open a database file: permissions, pragmas, migrations.
pub(super) fn open_file(path: &Path) -> Result<Connection, StateError> {
    prepare_file(path)?;
    let mut conn = Connection::open(path).map_err(|e| sql_err(path, e))?;
    configure(&conn, true).map_err(|e| sql_err(path, e))?;
    migrate(&mut conn).map_err(|e| migrate_err(path, e))?;
    Ok(conn)
}

/// Open a private in-memory database, migrated.
pub(super) fn open_memory() -> Result<Connection, StateError> {
    let path = Path::new(":memory:");
    let mut conn = Connection::open_in_memory().map_err(|e| sql_err(path, e))?;
    configure(&conn, false).map_err(|e| sql_err(path, e))?;
    migrate(&mut conn).map_err(|e| migrate_err(path, e))?;
    Ok(conn)
}
