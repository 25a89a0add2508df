//! A real PostgreSQL server for the state backend's end-to-end tests: the throwaway cluster that
//! `scripts/pg-cluster start DIR` starts, found through the variables it prints:
//!
//! ```text
//! eval "$(scripts/pg-cluster start target/pg)"
//! ```
//!
//! - `DOCUSIGN_COLLECTOR_TEST_PG`: `postgres://collector@127.0.0.1:PORT/collector`;
//! - `PGPASSWORD`: the password of `collector`, read by psql and by the collector alike;
//! - `DOCUSIGN_COLLECTOR_TEST_PGDATA`: the data directory, for stopping and starting the server;
//! - `DOCUSIGN_COLLECTOR_TEST_PGCTL`: its `pg_ctl`.
//!
//! psql and pg_ctl run as child processes: no client crate for the tests themselves.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const URL_VAR: &str = "DOCUSIGN_COLLECTOR_TEST_PG";
pub const PGDATA_VAR: &str = "DOCUSIGN_COLLECTOR_TEST_PGDATA";
pub const PGCTL_VAR: &str = "DOCUSIGN_COLLECTOR_TEST_PGCTL";
const HOW_TO_START: &str = "eval \"$(scripts/pg-cluster start target/pg)\"";

#[derive(Debug, Clone)]
pub struct PgServer {
    /// URL of the `collector` database, as given; no password in it.
    pub url: String,
    /// Data directory; None when the variable is unset (then stop/start/restart panic).
    pub pgdata: Option<PathBuf>,
    pub pg_ctl: PathBuf,
    pub psql: PathBuf,
}

/// The server the environment names, or None when `DOCUSIGN_COLLECTOR_TEST_PG` is unset.
pub fn server() -> Option<PgServer> {
    let url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty())?;
    let pgdata = std::env::var_os(PGDATA_VAR)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    let pg_ctl = std::env::var_os(PGCTL_VAR)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| newest_pg_bin("pg_ctl"))
        .unwrap_or_else(|| PathBuf::from("pg_ctl"));
    // psql beside pg_ctl, else the newest server's, else PATH's.
    let psql = pg_ctl
        .parent()
        .map(|dir| dir.join("psql"))
        .filter(|p| p.is_file())
        .or_else(|| newest_pg_bin("psql"))
        .unwrap_or_else(|| PathBuf::from("psql"));
    Some(PgServer {
        url,
        pgdata,
        pg_ctl,
        psql,
    })
}

/// The server, for tests marked `#[ignore]` that cannot run without one.
pub fn require() -> PgServer {
    server().unwrap_or_else(|| {
        panic!(
            "{URL_VAR} is not set: this test needs a PostgreSQL server. Start a throwaway one \
             on loopback (as root or as the OS user postgres) with\n    {HOW_TO_START}\n\
             then run the test again from the same shell"
        )
    })
}

/// `/usr/lib/postgresql/<newest version>/bin/<name>`, when Debian's packages are installed.
fn newest_pg_bin(name: &str) -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let path = entry.path().join("bin").join(name);
            path.is_file().then_some((version, path))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, path)| path)
}

impl PgServer {
    /// A new, empty database owned by `collector`, named from `prefix`, this process's id and a
    /// counter; returns its URL. A database left by an earlier process with the same id is
    /// dropped first.
    pub fn fresh_database(&self, prefix: &str) -> String {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name: String = prefix
            .chars()
            .map(|c| match c.to_ascii_lowercase() {
                c @ ('a'..='z' | '0'..='9' | '_') => c,
                _ => '_',
            })
            .collect();
        if !name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
            name.insert(0, '_');
        }
        let suffix = format!("_{}_{n}", std::process::id());
        name.truncate(63 - suffix.len()); // PostgreSQL's identifier limit
        name.push_str(&suffix);
        self.psql(&[
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            &format!("CREATE DATABASE {name}"),
        ]);
        self.database_url(&name)
    }

    /// The URL of database `name` on this server.
    pub fn database_url(&self, name: &str) -> String {
        let (base, query) = match self.url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (self.url.as_str(), None),
        };
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let host_end = base[scheme_end..]
            .find('/')
            .map_or(base.len(), |i| scheme_end + i);
        let mut url = format!("{}/{name}", &base[..host_end]);
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// Current connections to database `db` (a name or a URL from `fresh_database`), this
    /// query's own not counted.
    pub fn connections(&self, db: &str) -> usize {
        let name = match db.split_once("://") {
            Some((_, rest)) => {
                let path = rest.split('?').next().unwrap_or(rest);
                path.rsplit_once('/').map_or(path, |(_, name)| name)
            }
            None => db,
        };
        let out = self.psql(&[&format!(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()",
            name.replace('\'', "''")
        )]);
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("psql: not a count: {out:?}"))
    }

    /// Fast shutdown (clients are disconnected); waits until the server is down.
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast", "-w", "-t", "60"]);
    }

    /// Starts the stopped server with its own settings (port, socket, durability); waits until
    /// it accepts connections.
    pub fn start(&self) {
        let log = self.log_file();
        self.pg_ctl(&["start", "-w", "-t", "60", "-l", log.to_str().unwrap()]);
    }

    /// Fast shutdown, then start again on the same port.
    pub fn restart(&self) {
        let log = self.log_file();
        let log = log.to_str().unwrap();
        self.pg_ctl(&["restart", "-m", "fast", "-w", "-t", "60", "-l", log]);
    }

    fn pgdata(&self) -> &Path {
        self.pgdata.as_deref().unwrap_or_else(|| {
            panic!("{PGDATA_VAR} is not set: cannot stop or start the server ({HOW_TO_START})")
        })
    }

    /// The server log that `scripts/pg-cluster` uses: DIR/log beside DIR/data.
    fn log_file(&self) -> PathBuf {
        let pgdata = self.pgdata();
        pgdata.parent().unwrap_or(pgdata).join("log")
    }

    /// pg_ctl as the OS user postgres (through runuser when this process is root). The server
    /// must log to a file (-l): one that inherited a pipe of ours would keep it open forever.
    fn pg_ctl(&self, args: &[&str]) {
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&self.pg_ctl);
            c
        } else {
            Command::new(&self.pg_ctl)
        };
        // The postgres user may not be allowed into the test's working directory.
        command
            .current_dir("/")
            .arg("-D")
            .arg(self.pgdata())
            .args(args);
        let out = command
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.pg_ctl.display()));
        assert!(
            out.status.success(),
            "pg_ctl {}: {}\n{}{}",
            args[0],
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs each statement on its own (CREATE DATABASE refuses a transaction block) as
    /// `collector` on its own database; returns the unaligned output.
    fn psql(&self, statements: &[&str]) -> String {
        self.psql_on(&self.url, statements)
    }

    /// [`PgServer::psql`] on the database of `url` (one of this server's).
    pub fn psql_on(&self, url: &str, statements: &[&str]) -> String {
        let mut command = Command::new(&self.psql);
        command.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url]);
        for statement in statements {
            command.arg("-c").arg(statement);
        }
        let out = command
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.psql.display()));
        assert!(
            out.status.success(),
            "psql {statements:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn is_root() -> bool {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
            .unwrap_or(false)
    })
}
