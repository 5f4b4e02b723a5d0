//! A Lambda Runtime API emulator: it runs a function's real `bootstrap` binary as a child process, serves it
//! events over the same HTTP API Lambda uses, and returns what the function responds.

use serde_json::Value;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tiny_http::{Header, Method, Response, Server};

/// A function error as Lambda reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeError {
    pub error_type: String,
    pub error_message: String,
}

type Outcome = Result<Value, InvokeError>;

#[derive(Debug, Default)]
struct State {
    events: Mutex<Option<Receiver<(String, Value)>>>,
    waiting: Mutex<HashMap<String, Sender<Outcome>>>,
    init_error: Mutex<Option<InvokeError>>,
}

/// A function binary running against the emulator. Dropping it kills the process by PID.
pub struct LambdaProcess {
    child: Child,
    server: Arc<Server>,
    state: Arc<State>,
    events: Sender<(String, Value)>,
    next_id: AtomicU64,
    log: tempfile::NamedTempFile,
}

impl std::fmt::Debug for LambdaProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaProcess")
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

impl LambdaProcess {
    /// Starts `binary` with the Lambda environment, AWS pointed at `endpoint`, plus `env`.
    pub fn start(binary: &Path, endpoint: &str, env: &[(&str, &str)]) -> Self {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("runtime API listens"));
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .expect("an IP listener");
        let (events, rx) = channel();
        let state = Arc::new(State {
            events: Mutex::new(Some(rx)),
            ..State::default()
        });
        {
            let server = Arc::clone(&server);
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    let state = Arc::clone(&state);
                    std::thread::spawn(move || serve(request, &state));
                }
            });
        }
        let log = tempfile::NamedTempFile::new().expect("log file");
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            // Both streams append to one file: two handles with offsets of their own would overwrite each
            // other's lines.
            .stdout(append(&log))
            .stderr(append(&log));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Self {
            child,
            server,
            state,
            events,
            next_id: AtomicU64::new(1),
            log,
        }
    }

    /// Invokes the function with `event` and waits (up to two minutes) for its response.
    pub fn invoke(&mut self, event: &Value) -> Result<Value, InvokeError> {
        let id = format!("req-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = channel();
        self.state
            .waiting
            .lock()
            .expect("lock")
            .insert(id.clone(), tx);
        self.events
            .send((id, event.clone()))
            .expect("runtime API thread alive");
        for _ in 0..1200 {
            if let Ok(outcome) = rx.recv_timeout(Duration::from_millis(100)) {
                return outcome;
            }
            if let Some(err) = self.state.init_error.lock().expect("lock").clone() {
                return Err(err);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "function exited ({status}) during invoke; log:\n{}",
                    self.log_text()
                );
            }
        }
        panic!(
            "function did not answer within 120 s; log:\n{}",
            self.log_text()
        );
    }

    /// The function process's id (for a test that kills it, as a Lambda timeout would).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the function wrote to stdout and stderr so far.
    pub fn log_text(&self) -> String {
        let mut text = String::new();
        let _ = self
            .log
            .reopen()
            .and_then(|mut f| f.read_to_string(&mut text));
        text
    }
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.server.unblock();
    }
}

fn append(log: &tempfile::NamedTempFile) -> Stdio {
    std::fs::OpenOptions::new()
        .append(true)
        .open(log.path())
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

fn read_error(body: &str) -> InvokeError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    InvokeError {
        error_type: v["errorType"].as_str().unwrap_or("Unknown").to_owned(),
        error_message: v["errorMessage"].as_str().unwrap_or(body).to_owned(),
    }
}

fn serve(mut request: tiny_http::Request, state: &State) {
    let url = request.url().to_owned();
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let parts: Vec<&str> = url.trim_start_matches('/').split('/').collect();
    let respond = |request: tiny_http::Request, code: u16| {
        let _ = request.respond(Response::from_string("{}").with_status_code(code));
    };
    match (request.method(), parts.as_slice()) {
        (Method::Get, ["2018-06-01", "runtime", "invocation", "next"]) => {
            // One long-poll at a time takes the queue; the function only ever has one outstanding.
            let next = {
                let guard = state.events.lock().expect("lock");
                guard.as_ref().and_then(|rx| rx.recv().ok())
            };
            let Some((id, event)) = next else {
                return respond(request, 500);
            };
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() + 300_000)
                .unwrap_or_default();
            let response = Response::from_string(event.to_string())
                .with_header(header("Content-Type", "application/json"))
                .with_header(header("Lambda-Runtime-Aws-Request-Id", &id))
                .with_header(header("Lambda-Runtime-Deadline-Ms", &deadline.to_string()))
                .with_header(header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:test",
                ))
                .with_header(header(
                    "Lambda-Runtime-Trace-Id",
                    "Root=1-00000000-000000000000000000000000",
                ));
            let _ = request.respond(response);
        }
        (
            Method::Post,
            [
                "2018-06-01",
                "runtime",
                "invocation",
                id,
                kind @ ("response" | "error"),
            ],
        ) => {
            let outcome = if *kind == "response" {
                Ok(serde_json::from_str(&body).unwrap_or(Value::String(body.clone())))
            } else {
                Err(read_error(&body))
            };
            if let Some(tx) = state.waiting.lock().expect("lock").remove(*id) {
                let _ = tx.send(outcome);
            }
            respond(request, 202);
        }
        (Method::Post, ["2018-06-01", "runtime", "init", "error"]) => {
            *state.init_error.lock().expect("lock") = Some(read_error(&body));
            respond(request, 202);
        }
        _ => respond(request, 404),
    }
}
