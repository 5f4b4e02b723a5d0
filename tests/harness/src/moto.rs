//! `moto_server` on a free 127.0.0.1 port, started once per test process and stopped by PID.
//!
//! Rust's test harness has no global teardown, so the server runs under a small shell watchdog that kills it by
//! PID as soon as the test process is gone, however the process ends.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running emulator.
#[derive(Debug)]
pub struct Moto {
    server: Watched,
}

static SHARED: OnceLock<Moto> = OnceLock::new();

/// The Python that has moto: `$TRIBUTARY_PYTHON`, the project virtualenv's, or `python3` on `PATH`.
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("TRIBUTARY_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = crate::workspace_root().join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Runs the Python `script` with `args` (as `sys.argv[1:]`) against the shared emulator, with boto3 importable and
/// configured for it (`AWS_ENDPOINT_URL`, and `ENDPOINT` for scripts that pass it themselves); returns its
/// standard output. Panics with the script's error output when it fails.
pub fn boto3(script: &str, args: &[&str]) -> String {
    let endpoint = Moto::shared().endpoint();
    let out = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("ENDPOINT", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `moto_server.py` beside this crate: moto's server with the response fixes the Rust SDK needs.
fn wrapper() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("moto_server.py")
}

/// A free port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A Python server on a loopback port, run under a shell watchdog that stops it by PID as soon as the test
/// process is gone, however the process ends.
#[derive(Debug)]
pub(crate) struct Watched {
    pub(crate) port: u16,
    watchdog: Child,
    log: PathBuf,
}

impl Watched {
    /// Runs `python SCRIPT ARGS…` (ARGS may use `$PORT`) and waits until the port answers.
    pub(crate) fn start(
        name: &str,
        script: &std::path::Path,
        args: &[&str],
    ) -> Result<Self, String> {
        let port = free_port();
        let log = std::env::temp_dir().join(format!(
            "tributary-{name}-{}-{port}.log",
            std::process::id()
        ));
        let watchdog_script = r#"
            "$PYTHON" "$@" >"$LOG" 2>&1 &
            server=$!
            echo "$server" >"$LOG.pid"
            while kill -0 "$OWNER" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 0.2; done
            kill "$server" 2>/dev/null
            wait "$server" 2>/dev/null
        "#;
        let port_text = port.to_string();
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "$PORT" { port_text.as_str() } else { a })
            .collect();
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(watchdog_script)
            .arg("sh")
            .arg(script)
            .args(&args)
            .env("PYTHON", python())
            .env("LOG", &log)
            .env("OWNER", std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run sh: {e}"))?;
        let mut server = Watched {
            port,
            watchdog,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            // The watchdog ends as soon as the server does: no point waiting out the deadline.
            if let Ok(Some(_)) = server.watchdog.try_wait() {
                let log = std::fs::read_to_string(&server.log).unwrap_or_default();
                return Err(format!(
                    "{name} exited before listening on port {port}; log:\n{log}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        Err(format!(
            "{name} did not listen on port {port} within 60 s; log:\n{log}"
        ))
    }

    /// The server's PID, as written by the watchdog.
    pub(crate) fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(format!("{}.pid", self.log.display()))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Stops the server by PID and waits for the watchdog.
    pub(crate) fn stop(mut self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = self.watchdog.wait();
    }
}

impl Moto {
    /// The emulator shared by every test in this process, started on first use.
    pub fn shared() -> &'static Moto {
        SHARED.get_or_init(|| {
            let mut last = String::new();
            for _ in 0..3 {
                match Moto::start() {
                    Ok(m) => return m,
                    Err(e) => last = e,
                }
            }
            panic!("could not start moto_server: {last}");
        })
    }

    /// Starts a new emulator on a free port and waits until it answers.
    pub fn start() -> Result<Moto, String> {
        Watched::start("moto", &wrapper(), &["-H", "127.0.0.1", "-p", "$PORT"])
            .map(|server| Moto { server })
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// The server's PID, as written by the watchdog.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// Stops the server by PID and waits for the watchdog.
    pub fn stop(self) {
        self.server.stop();
    }
}
