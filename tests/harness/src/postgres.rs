//! A throwaway PostgreSQL cluster on a free 127.0.0.1 port, started once per test process and stopped by PID.
//!
//! Like [`crate::Moto`], the server runs under a shell watchdog, `postgres_cluster.sh` (the launcher `make demo`
//! uses too), that stops it as soon as the test process is gone, however the process ends, and then deletes the
//! cluster. As root (CI) it runs `initdb` and `postgres` as the `postgres` system user.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where Debian's PostgreSQL 15 installs its binaries: the fallback when `initdb` is not on `PATH`.
const DEFAULT_BIN: &str = "/usr/lib/postgresql/15/bin";

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running cluster; the superuser is `postgres`, authentication is `trust`.
#[derive(Debug)]
pub struct Postgres {
    port: u16,
    watchdog: Child,
    /// Holds `data/` (the cluster) and `sock/` (the Unix socket); the watchdog removes it.
    base: PathBuf,
    /// The server's output, beside `base` so that it outlives a server that failed to start.
    log: PathBuf,
    bin: PgBin,
}

static SHARED: OnceLock<Postgres> = OnceLock::new();

/// The PostgreSQL programs this harness runs.
#[derive(Debug, Clone)]
struct PgBin {
    /// Where `initdb` and `postgres` are, for the cluster script.
    dir: PathBuf,
    psql: PathBuf,
    /// Optional: without it, readiness is a TCP connect.
    pg_isready: Option<PathBuf>,
}

impl PgBin {
    /// `$PG_BIN`, else the directory `initdb` on `PATH` really lives in, else [`DEFAULT_BIN`]. Each program is
    /// taken from that directory, so the client tools match the server's version, or from `PATH` if missing there.
    fn locate() -> PgBin {
        let dir = match std::env::var_os("PG_BIN") {
            Some(dir) => PathBuf::from(dir),
            None => on_path("initdb")
                .and_then(|p| std::fs::canonicalize(p).ok())
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or_else(|| PathBuf::from(DEFAULT_BIN)),
        };
        let find = |name: &str| {
            let beside = dir.join(name);
            if beside.is_file() {
                Some(beside)
            } else {
                on_path(name)
            }
        };
        PgBin {
            psql: find("psql").unwrap_or_else(|| PathBuf::from("psql")),
            pg_isready: find("pg_isready"),
            dir,
        }
    }
}

/// `name` in a directory of `PATH`, like `which`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `postgres_cluster.sh` beside this crate: the launcher `make demo` uses too.
fn cluster_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("postgres_cluster.sh")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Percent-encodes a database name for the path of a URL.
fn url_path_segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Postgres {
    /// The cluster shared by every test in this process, started on first use.
    pub fn shared() -> &'static Postgres {
        SHARED.get_or_init(|| {
            let mut last = String::new();
            for _ in 0..3 {
                match Postgres::start() {
                    Ok(pg) => return pg,
                    Err(e) => last = e,
                }
            }
            panic!("could not start PostgreSQL: {last}");
        })
    }

    /// Creates a new cluster, starts it on a free port and waits until it accepts connections.
    ///
    /// A cluster that is never [`stop`](Postgres::stop)ped is stopped and deleted when the test process ends.
    pub fn start() -> Result<Postgres, String> {
        let bin = PgBin::locate();
        let port = free_port();

        // Kept at once: the watchdog owns it from here and removes it, however this process ends.
        let base = tempfile::Builder::new()
            .prefix(&format!("tributary-pg-{}-{port}-", std::process::id()))
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?
            .keep();
        let log = base.with_extension("log");
        // The cluster's whole life is in the script, so that a test process killed at any moment leaves nothing
        // behind: initdb, the server, its shutdown when this process is gone, and the deletion of `base`.
        let watchdog = {
            use std::os::unix::process::CommandExt;
            Command::new("sh")
                .arg(cluster_script())
                .env("PG_BIN", &bin.dir)
                .env("PORT", port.to_string())
                .env("LOG", &log)
                .env("BASE", &base)
                .env("OWNER", std::process::id().to_string())
                .current_dir("/")
                // Its own process group: a Ctrl-C of the test run must not kill the watchdog before it cleans up.
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    let _ = std::fs::remove_dir_all(&base);
                    format!("cannot run sh: {e}")
                })?
        };
        let mut pg = Postgres {
            port,
            watchdog,
            base,
            log,
            bin,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            // `postmaster.pid` says "ready" only for our server, whoever else may be listening on the port.
            if pg.status().as_deref() == Some("ready") && pg.accepts_connections() {
                return Ok(pg);
            }
            // The watchdog ends as soon as the server does (e.g. the port was taken): no point waiting longer.
            if let Ok(Some(_)) = pg.watchdog.try_wait() {
                return Err(format!(
                    "initdb or postgres exited before accepting connections on port {port}; log:\n{}",
                    pg.take_log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(&pg.log).unwrap_or_default();
        pg.stop();
        Err(format!(
            "postgres did not accept connections on port {port} within {} s; log:\n{log}",
            START_TIMEOUT.as_secs()
        ))
    }

    /// `pg_isready`, or a TCP connect when it is not installed.
    fn accepts_connections(&self) -> bool {
        match &self.bin.pg_isready {
            Some(pg_isready) => Command::new(pg_isready)
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", "-d", "postgres", "-t", "2"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            None => TcpStream::connect(("127.0.0.1", self.port)).is_ok(),
        }
    }

    /// The `N`th line (from 1) of `postmaster.pid`, which the server writes and removes on a clean shutdown.
    fn postmaster_pid_line(&self, n: usize) -> Option<String> {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        Some(text.lines().nth(n - 1)?.trim().to_owned())
    }

    /// The server's status line: `starting`, `ready`, `stopping`.
    fn status(&self) -> Option<String> {
        self.postmaster_pid_line(8)
    }

    /// The server log, removed once read: only for a server that has ended.
    fn take_log(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        log
    }

    /// The superuser URL of the `postgres` database.
    pub fn url(&self) -> String {
        self.database_url("postgres")
    }

    /// The superuser URL of database `name` on this server.
    pub fn database_url(&self, name: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{}",
            self.port,
            url_path_segment(name)
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory, deleted when the server stops.
    pub fn data_dir(&self) -> PathBuf {
        self.base.join("data")
    }

    /// The postmaster's PID, from `postmaster.pid` (not the watchdog's child, which may be `runuser`).
    pub fn pid(&self) -> Option<u32> {
        self.postmaster_pid_line(1)?.parse().ok()
    }

    /// Creates database `name` and returns its URL. Panics if it exists; see [`crate::unique_database`].
    pub fn create_database(&self, name: &str) -> String {
        let quoted = name.replace('"', "\"\"");
        self.psql("postgres", &format!("CREATE DATABASE \"{quoted}\""));
        self.database_url(name)
    }

    /// Runs `sql` with `psql` in a database (a URL, or a name on this server) and returns its output trimmed:
    /// unaligned, without headers or command tags, so `SELECT count(*) FROM t` gives `"2"` and rows are lines
    /// with `|` between columns. Several statements may be given; the output has every query's rows. Panics with
    /// `psql`'s error if a statement fails.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let mut command = Command::new(&self.bin.psql);
        if database.contains("://") {
            command.args(["-d", database]);
        } else {
            command
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", "-d", database]);
        }
        let out = command
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.psql.display()));
        if !out.status.success() {
            panic!(
                "psql failed in {database} ({}) running:\n{sql}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        String::from_utf8(out.stdout)
            .expect("psql output is UTF-8")
            .trim()
            .to_owned()
    }

    /// Stops the server by PID (fast shutdown) and waits up to 30 s for the watchdog, which deletes the cluster.
    ///
    /// A server that will not stop (or has not written its PID yet) is left to the watchdog, which stops it when
    /// this process ends; killing the watchdog instead would orphan the server.
    pub fn stop(mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut signalled = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.watchdog.try_wait() {
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            if !signalled && let Some(pid) = self.pid() {
                signalled = Command::new("kill")
                    .args(["-INT", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_percent_encoded_in_urls() {
        assert_eq!(url_path_segment("orders_1"), "orders_1");
        assert_eq!(url_path_segment("a b/c"), "a%20b%2Fc");
    }
}
