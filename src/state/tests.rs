use super::*;
use std::os::unix::fs::PermissionsExt;

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
        assert_eq!(v, open::current_version());
    }
    let mut conn = Connection::open_in_memory().unwrap();
    open::migrate(&mut conn).ok().unwrap();
    open::migrate(&mut conn).ok().unwrap();
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

#[test]
fn cursors_are_independent_per_stream() {
    let st = State::open_in_memory().unwrap();
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

#[test]
fn token_save_clear_and_expiry() {
    let st = State::open_in_memory().unwrap();
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

#[test]
fn nothing_shows_the_token() {
    let st = State::open_in_memory().unwrap();
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

#[test]
fn runs_are_recorded_and_pruned() {
    let st = State::open_in_memory().unwrap();
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

#[test]
fn streams_show_cursors_runs_and_last_success() {
    let st = State::open_in_memory().unwrap();
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

#[test]
fn values_are_per_integration() {
    let st = State::open_in_memory().unwrap();
    st.set_value("a", "k", "1").unwrap();
    st.set_value("b", "k", "2").unwrap();
    st.set_value("a", "k", "3").unwrap();
    assert_eq!(st.get_value("a", "k").unwrap().as_deref(), Some("3"));
    assert_eq!(st.get_value("b", "k").unwrap().as_deref(), Some("2"));
    assert_eq!(st.get_value("a", "other").unwrap(), None);
}

#[test]
fn concurrent_use_from_threads() {
    let dir = tempfile::tempdir().unwrap();
    let st = State::open(&dir.path().join("state.db")).unwrap();
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
