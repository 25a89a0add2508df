use super::*;
use crate::state::postgres;
use rusqlite::Connection;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

const CE: EventType = EventType::CustomerEvents;
const AU: EventType = EventType::AuditUsers;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn token(v: &str, exp: i64) -> CachedToken {
    CachedToken {
        access_token: Secret::new(v),
        expires_at: exp,
        scopes: "signature impersonation".into(),
        fingerprint: "fp1".into(),
        obtained_at: exp - 3600,
    }
}

#[test]
fn open_creates_0600_files_including_wal_and_shm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/state.db");
    let st = State::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    st.save_cursor("acme", CE, "c1").unwrap();
    let wal = dir.path().join("nested/deeper/state.db-wal");
    let shm = dir.path().join("nested/deeper/state.db-shm");
    assert!(wal.exists() && shm.exists(), "WAL mode in use");
    assert_eq!(mode(&wal), 0o600);
    assert_eq!(mode(&shm), 0o600);
    let jm: String = st
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(jm, "wal");
    let fk: i64 = st
        .conn()
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
}

#[test]
fn open_tightens_loose_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(State::open(&path).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let st = State::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    st.save_cursor("a", CE, "x").unwrap();
}

#[test]
fn reopen_keeps_cursors_tokens_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let st = State::open(&path).unwrap();
        st.save_cursor("acme", CE, "cursor-1").unwrap();
        st.save_token("acme", &token("tok-abc", 1234)).unwrap();
        st.set_value("acme", "hwm", "2024-01-01").unwrap();
    }
    let st = State::open(&path).unwrap();
    assert_eq!(st.cursor("acme", CE).unwrap().as_deref(), Some("cursor-1"));
    assert_eq!(st.token("acme").unwrap(), Some(token("tok-abc", 1234)));
    assert_eq!(
        st.get_value("acme", "hwm").unwrap().as_deref(),
        Some("2024-01-01")
    );
}

#[test]
fn migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    for _ in 0..3 {
        let st = State::open(&path).unwrap();
        let v: i64 = st
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, sqlite::open::current_version());
    }
    let mut conn = Connection::open_in_memory().unwrap();
    sqlite::open::migrate(&mut conn).ok().unwrap();
    sqlite::open::migrate(&mut conn).ok().unwrap();
}

#[test]
fn future_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(State::open(&path).unwrap());
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = State::open(&path).unwrap_err().to_string();
    assert!(err.contains("newer"), "{err}");
    assert!(err.contains("99"), "{err}");
    assert!(err.contains("state.db"), "{err}");
}

#[test]
fn not_a_database_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let err = State::open(&path).unwrap_err().to_string();
    assert!(err.contains("not a SQLite database"), "{err}");
    assert!(err.contains("state.db"), "{err}");
}

#[test]
fn unwritable_directory_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"").unwrap();
    let err = State::open(&blocker.join("state.db"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot create directory"), "{err}");
}

fn cursors_are_independent_per_stream(st: &State) {
    assert_eq!(st.cursor("a", CE).unwrap(), None);
    st.save_cursor("a", CE, "a-ce").unwrap();
    st.save_cursor("a", AU, "a-au").unwrap();
    st.save_cursor("b", CE, "b-ce").unwrap();
    st.save_cursor("a", CE, "a-ce-2").unwrap();
    assert_eq!(st.cursor("a", CE).unwrap().as_deref(), Some("a-ce-2"));
    assert_eq!(st.cursor("a", AU).unwrap().as_deref(), Some("a-au"));
    assert_eq!(st.cursor("b", CE).unwrap().as_deref(), Some("b-ce"));
    assert_eq!(st.cursor("b", AU).unwrap(), None);
}

fn token_save_clear_and_expiry(st: &State) {
    assert_eq!(st.token("a").unwrap(), None);
    assert_eq!(st.token_expiry("a").unwrap(), None);
    assert!(!st.clear_token("a").unwrap());
    st.save_token("a", &token("t1", 100)).unwrap();
    st.save_token("a", &token("t2", 200)).unwrap();
    assert_eq!(st.token("a").unwrap(), Some(token("t2", 200)));
    assert_eq!(st.token_expiry("a").unwrap(), Some(200));
    assert_eq!(st.token("b").unwrap(), None);
    assert!(st.clear_token("a").unwrap());
    assert_eq!(st.token("a").unwrap(), None);
    assert_eq!(st.token_expiry("a").unwrap(), None);
}

fn nothing_shows_the_token(st: &State) {
    st.save_token("a", &token("very-secret-token", 100))
        .unwrap();
    st.save_cursor("a", CE, "c").unwrap();
    let shown = format!(
        "{:?} {:?} {:?}",
        st,
        st.token("a").unwrap(),
        st.streams(None).unwrap()
    );
    assert!(!shown.contains("very-secret-token"), "{shown}");
}

fn runs_are_recorded_and_pruned(st: &State) {
    let id = st.run_started("a", CE, 10).unwrap();
    st.run_finished(id, 20, 5, 2, None).unwrap();
    let id2 = st.run_started("a", CE, 30).unwrap();
    st.run_finished(id2, 40, 0, 1, Some("429 rate limited"))
        .unwrap();
    let runs = st.recent_runs("a", CE, 10).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, id2);
    assert_eq!(runs[0].error.as_deref(), Some("429 rate limited"));
    assert_eq!(
        runs[1],
        RunRecord {
            id,
            integration: "a".into(),
            event_type: CE,
            started_at: 10,
            ended_at: Some(20),
            events: 5,
            pages: 2,
            error: None,
        }
    );
    let other = st.run_started("a", AU, 1).unwrap();
    for i in 0..(RUNS_KEPT as i64 + 50) {
        st.run_started("a", CE, 100 + i).unwrap();
    }
    let runs = st.recent_runs("a", CE, 1000).unwrap();
    assert_eq!(runs.len(), RUNS_KEPT);
    assert_eq!(runs[0].started_at, 100 + RUNS_KEPT as i64 + 49);
    assert_eq!(runs.last().unwrap().started_at, 150);
    // Another stream's runs are not pruned.
    let au = st.recent_runs("a", AU, 10).unwrap();
    assert_eq!(au.len(), 1);
    assert_eq!(au[0].id, other);
    // Finishing a pruned run is harmless.
    st.run_finished(id, 1, 1, 1, None).unwrap();
}

fn streams_show_cursors_runs_and_last_success(st: &State) {
    assert!(st.streams(None).unwrap().is_empty());
    st.save_cursor("b", CE, "b-cur").unwrap();
    let r1 = st.run_started("a", AU, 10).unwrap();
    st.run_finished(r1, 15, 3, 1, None).unwrap();
    let r2 = st.run_started("a", AU, 20).unwrap();
    st.run_finished(r2, 25, 0, 0, Some("boom")).unwrap();
    let all = st.streams(None).unwrap();
    let keys: Vec<_> = all
        .iter()
        .map(|s| (s.integration.as_str(), s.event_type))
        .collect();
    assert_eq!(keys, vec![("a", AU), ("b", CE)]);
    let a = &all[0];
    assert_eq!(a.cursor, None);
    assert_eq!(a.last_run.as_ref().map(|r| r.id), Some(r2));
    assert_eq!(a.last_success_at, Some(15));
    let b = &all[1];
    assert_eq!(b.cursor.as_deref(), Some("b-cur"));
    assert!(b.cursor_updated_at.unwrap() > 1_600_000_000);
    assert_eq!(b.last_run, None);
    assert_eq!(b.last_success_at, None);
    let only_b = st.streams(Some("b")).unwrap();
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0].integration, "b");
    assert!(st.streams(Some("zzz")).unwrap().is_empty());
}

fn values_are_per_integration(st: &State) {
    st.set_value("a", "k", "1").unwrap();
    st.set_value("b", "k", "2").unwrap();
    st.set_value("a", "k", "3").unwrap();
    assert_eq!(st.get_value("a", "k").unwrap().as_deref(), Some("3"));
    assert_eq!(st.get_value("b", "k").unwrap().as_deref(), Some("2"));
    assert_eq!(st.get_value("a", "other").unwrap(), None);
}

#[test]
fn concurrent_use_of_a_file_from_threads() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_use_from_threads(&State::open(&dir.path().join("state.db")).unwrap());
}

fn concurrent_use_from_threads(st: &State) {
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let st = st.clone();
            std::thread::spawn(move || {
                let name = format!("i{t}");
                for n in 0..50 {
                    st.save_cursor(&name, CE, &n.to_string()).unwrap();
                    let id = st.run_started(&name, AU, n).unwrap();
                    st.run_finished(id, n + 1, 1, 1, None).unwrap();
                    assert_eq!(st.cursor(&name, CE).unwrap(), Some(n.to_string()));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let streams = st.streams(None).unwrap();
    assert_eq!(streams.len(), 16);
    for t in 0..8 {
        assert_eq!(
            st.cursor(&format!("i{t}"), CE).unwrap().as_deref(),
            Some("49")
        );
    }
}

#[test]
fn poisoned_mutex_is_recovered() {
    let st = State::open_in_memory().unwrap();
    let st2 = st.clone();
    let _ = std::thread::spawn(move || {
        let _g = st2.conn();
        panic!("poison the lock");
    })
    .join();
    st.save_cursor("a", CE, "after").unwrap();
    assert_eq!(st.cursor("a", CE).unwrap().as_deref(), Some("after"));
}

#[test]
fn state_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<State>();
}

fn managed_integrations_round_trip(st: &State) {
    assert!(st.managed_integrations().unwrap().is_empty());
    let a = st.save_managed_integration("acme", r#"{"x":1}"#).unwrap();
    assert_eq!(a.data, r#"{"x":1}"#);
    let b = st.save_managed_integration("acme", r#"{"x":2}"#).unwrap();
    assert_eq!(b.created_at, a.created_at);
    assert_eq!(b.data, r#"{"x":2}"#);
    st.save_managed_integration("beta", "{}").unwrap();
    let names: Vec<String> = st
        .managed_integrations()
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["acme", "beta"]);
    assert!(st.delete_managed_integration("acme").unwrap());
    assert!(!st.delete_managed_integration("acme").unwrap());
    assert!(st.managed_integration("acme").unwrap().is_none());
    assert!(!format!("{b:?}").contains("x"), "Debug hides the settings");
}

fn sealed_rows_open_with_their_key_only(st: &State) {
    st.save_managed_integration("old", r#"{"private_key":"SECRETPEM"}"#)
        .unwrap();
    assert_eq!(
        st.set_seal_key(crate::support::seal::SealKey::from_bytes(&[1; 32]))
            .unwrap(),
        1
    );
    st.save_managed_integration("new", r#"{"private_key":"OTHERPEM"}"#)
        .unwrap();
    let all = st.managed_integrations().unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[1].data.contains("SECRETPEM"));
    assert!(all[0].data.contains("OTHERPEM"));
}

/// A fresh PostgreSQL database for one test, from the server `scripts/test` starts
/// (`DOCUSIGN_COLLECTOR_TEST_PG`, password in `PGPASSWORD`).
pub(crate) fn pg_state(test: &str) -> State {
    open_pg(&pg_database(test))
}

fn open_pg(url: &str) -> State {
    State::open_postgres(&postgres::PgSettings::new(url, None, None, 4).unwrap()).unwrap()
}

/// A new, empty database on the test server; its URL.
fn pg_database(test: &str) -> String {
    let url = std::env::var("DOCUSIGN_COLLECTOR_TEST_PG").unwrap_or_else(|_| {
        panic!("DOCUSIGN_COLLECTOR_TEST_PG is not set: start a server with eval \"$(scripts/pg-cluster start target/pg)\"")
    });
    let db = format!("unit_{test}_{}", std::process::id());
    let admin =
        State::open_postgres(&postgres::PgSettings::new(&url, None, None, 1).unwrap()).unwrap();
    let name = db.clone();
    admin
        .postgres()
        .unwrap()
        .run(move |c| {
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
            c.batch_execute(&format!("CREATE DATABASE {name}"))
        })
        .unwrap();
    let (base, query) = url.split_once('?').unwrap_or((&url, ""));
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{db}?{query}")
}

/// The same tests on both backends: SQLite in every run; PostgreSQL as ignored tests that
/// `scripts/test` runs with a throwaway server.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[test]
            fn $name() {
                super::$name(&super::State::open_in_memory().unwrap());
            })*
        }
        mod postgres_backend {
            $(#[test]
            #[ignore = "needs PostgreSQL: scripts/test starts one"]
            fn $name() {
                super::$name(&super::pg_state(stringify!($name)));
            })*
        }
    };
}

on_both_backends!(
    cursors_are_independent_per_stream,
    token_save_clear_and_expiry,
    nothing_shows_the_token,
    runs_are_recorded_and_pruned,
    streams_show_cursors_runs_and_last_success,
    values_are_per_integration,
    concurrent_use_from_threads,
    managed_integrations_round_trip,
    sealed_rows_open_with_their_key_only,
);

#[test]
#[ignore = "needs PostgreSQL: scripts/test starts one"]
fn postgres_writes_are_fenced_by_the_lease_epoch() {
    use crate::state::postgres::leases::Me;
    use std::time::Duration;
    let url = pg_database("fencing");
    let (a, b) = (open_pg(&url), open_pg(&url));
    let (pa, pb) = (a.postgres().unwrap().clone(), b.postgres().unwrap().clone());
    let me_a = Me {
        name: "a".into(),
        instance: "1".into(),
    };
    let me_b = Me {
        name: "b".into(),
        instance: "2".into(),
    };
    let lease = Duration::from_secs(30);
    pa.register(&me_a, "host-a", lease).unwrap();
    pb.register(&me_b, "host-b", lease).unwrap();
    assert_eq!(pa.live_replicas(lease).unwrap(), 2);
    let names = vec!["acme".to_string()];
    pa.ensure_leases(&names).unwrap();
    let (book_a, book_b) = (Arc::new(LeaseBook::new("a")), Arc::new(LeaseBook::new("b")));
    a.use_leases(book_a.clone());
    b.use_leases(book_b.clone());
    assert!(!a.holds("acme"));
    assert!(a.save_cursor("acme", CE, "a0").unwrap_err().is_fenced());

    let got_a = pa.claim(&me_a, &names, 10, lease).unwrap();
    assert_eq!(got_a.len(), 1);
    assert_eq!(got_a[0].taken_from, None);
    book_a.hold("acme", got_a[0].epoch);
    a.save_cursor("acme", CE, "a1").unwrap();
    a.save_token("acme", &token("tok-a", 100)).unwrap();
    a.set_value("acme", "k", "a").unwrap();
    assert!(
        pb.claim(&me_b, &names, 10, lease).unwrap().is_empty(),
        "a live lease is not taken"
    );

    // A is paused past its lease; B takes the integration over.
    pa.run(|c| {
        c.execute(
            "UPDATE leases SET expires_at = now() - interval '1 second'",
            &[],
        )
    })
    .unwrap();
    let got_b = pb.claim(&me_b, &names, 10, lease).unwrap();
    assert_eq!(got_b[0].epoch, got_a[0].epoch + 1);
    assert_eq!(got_b[0].taken_from.as_deref(), Some("a"));
    book_b.hold("acme", got_b[0].epoch);
    b.save_cursor("acme", CE, "b1").unwrap();

    // A resumes: every write it makes is refused and the cursor stays B's.
    let e = a.save_cursor("acme", CE, "a2-stale").unwrap_err();
    assert!(e.is_fenced() && e.to_string().contains("acme"), "{e}");
    assert_eq!(
        book_a.epoch("acme"),
        None,
        "the lease is dropped from the book"
    );
    assert!(!a.holds("acme"));
    assert_eq!(a.cursor("acme", CE).unwrap().as_deref(), Some("b1"));
    book_a.hold("acme", got_a[0].epoch);
    assert!(a
        .save_token("acme", &token("stale", 1))
        .unwrap_err()
        .is_fenced());
    book_a.hold("acme", got_a[0].epoch);
    assert!(a.set_value("acme", "k", "stale").unwrap_err().is_fenced());
    book_a.hold("acme", got_a[0].epoch);
    assert!(a.delete_value("acme", "k").unwrap_err().is_fenced());
    assert_eq!(a.get_value("acme", "k").unwrap().as_deref(), Some("a"));
    assert_eq!(a.token("acme").unwrap(), Some(token("tok-a", 100)));
    assert!(b.delete_value("acme", "k").unwrap());

    // Renewal shows who holds what; a release keeps the epoch and the next claim raises it.
    assert!(pa.renew(&me_a, lease).unwrap().is_empty());
    assert_eq!(
        pb.renew(&me_b, lease).unwrap(),
        vec![("acme".to_string(), got_b[0].epoch)]
    );
    let view = pa.leases(Some("acme")).unwrap();
    assert_eq!(view[0].holder.as_deref(), Some("b"));
    assert_eq!(pb.release(&me_b, &names).unwrap(), 1);
    let again = pa.claim(&me_a, &names, 10, lease).unwrap();
    assert_eq!(again[0].epoch, got_b[0].epoch + 1);
    assert_eq!(again[0].taken_from, None, "a released lease is no takeover");

    // A second live process under a taken name is refused; leaving frees everything.
    let imposter = Me {
        name: "a".into(),
        instance: "3".into(),
    };
    let e = pa
        .register(&imposter, "host-c", lease)
        .unwrap_err()
        .to_string();
    assert!(e.contains("another live replica"), "{e}");
    assert_eq!(pa.leave(&me_a).unwrap(), 1);
    assert_eq!(pa.live_replicas(lease).unwrap(), 1);
    assert_eq!(pa.leases(None).unwrap()[0].holder, None);
}

#[test]
#[ignore = "needs PostgreSQL: scripts/test starts one"]
fn postgres_refuses_a_newer_schema_and_names_no_password() {
    let url = pg_database("newer");
    let st = open_pg(&url);
    st.postgres()
        .unwrap()
        .run(|c| c.execute("UPDATE schema_version SET version = 99", &[]))
        .unwrap();
    let Err(e) = State::open_postgres(&postgres::PgSettings::new(&url, None, None, 1).unwrap())
    else {
        panic!("a newer schema was accepted");
    };
    let e = e.to_string();
    assert!(e.contains("99") && e.contains("newer"), "{e}");
    assert!(!e.contains("collector:"), "{e}");
    assert!(st.ping().is_ok());
}

#[test]
#[ignore = "needs PostgreSQL: scripts/test starts one"]
fn postgres_over_tls_verifies_the_server_certificate() {
    let url = pg_database("tls").replace("sslmode=disable", "sslmode=require");
    assert!(url.contains("sslmode=require"), "{url}");
    let ca = std::env::var("DOCUSIGN_COLLECTOR_TEST_PGCA")
        .expect("DOCUSIGN_COLLECTOR_TEST_PGCA: scripts/pg-cluster makes the test CA");
    let st = State::open_postgres(
        &postgres::PgSettings::new(&url, None, Some(Path::new(&ca)), 1).unwrap(),
    )
    .unwrap();
    let ssl: bool = st
        .postgres()
        .unwrap()
        .run(|c| {
            c.query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )?
            .try_get(0)
        })
        .unwrap();
    assert!(ssl, "the session is encrypted");
    let Err(e) = State::open_postgres(&postgres::PgSettings::new(&url, None, None, 1).unwrap())
    else {
        panic!("a server certificate from an unknown CA was accepted");
    };
    let e = e.to_string();
    assert!(e.to_lowercase().contains("certificate"), "{e}");
}
