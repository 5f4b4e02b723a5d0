//! A state machine executed locally, its Lambda tasks answered by real function binaries: the definition runs in
//! infra/run-state-machine.mjs (aws-local-stepfunctions, as `make demo` runs it), which calls Lambda's Invoke API;
//! [`InvokeApi`] serves that API in front of [`LambdaProcess`]es. SNS publishes go to the emulator.

use crate::{LambdaProcess, Moto, workspace_root};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use tiny_http::{Header, Response, Server};

/// Lambda's Invoke API (`POST /2015-03-31/functions/<name>/invocations`) for functions running under the
/// Runtime API emulator. A function error answers as Lambda does: HTTP 200 with `X-Amz-Function-Error` and the
/// error document.
pub struct InvokeApi {
    server: Arc<Server>,
    port: u16,
}

impl std::fmt::Debug for InvokeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvokeApi")
            .field("port", &self.port)
            .finish()
    }
}

type Functions = HashMap<String, Arc<Mutex<LambdaProcess>>>;

fn answer(request: tiny_http::Request, functions: &Functions) {
    let mut request = request;
    let url = request.url().to_owned();
    let name = url
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .map(str::to_owned);
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let Some(function) = name.and_then(|n| functions.get(&n)) else {
        let _ = request.respond(Response::from_string("no such function").with_status_code(404));
        return;
    };
    let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let outcome = function.lock().expect("function lock").invoke(&event);
    let json = Header::from_bytes("content-type", "application/json").expect("header");
    let response = match outcome {
        Ok(payload) => Response::from_string(payload.to_string()).with_header(json),
        Err(e) => Response::from_string(
            json!({"errorType": e.error_type, "errorMessage": e.error_message}).to_string(),
        )
        .with_header(json)
        .with_header(Header::from_bytes("x-amz-function-error", "Unhandled").expect("header")),
    };
    let _ = request.respond(response);
}

impl InvokeApi {
    /// Serves `functions` by name, on a free loopback port.
    pub fn serve(functions: Vec<(&str, LambdaProcess)>) -> Self {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("invoke API listens"));
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .expect("an IP listener");
        let functions: Arc<Functions> = Arc::new(
            functions
                .into_iter()
                .map(|(name, f)| (name.to_owned(), Arc::new(Mutex::new(f))))
                .collect(),
        );
        let listener = Arc::clone(&server);
        std::thread::spawn(move || {
            for request in listener.incoming_requests() {
                let functions = Arc::clone(&functions);
                std::thread::spawn(move || answer(request, &functions));
            }
        });
        Self { server, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for InvokeApi {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// Runs one execution of `definition` with `input`, named `execution_arn`. `functions` maps each function ARN
/// the definition names to the name `lambda` serves it under. Returns the runner's report: `status`, `output` or
/// `error` and `cause`, `path` (the states entered), `invocations`.
pub fn run_state_machine(
    definition: &Value,
    input: &Value,
    execution_arn: &str,
    functions: &[(&str, &str)],
    lambda: &InvokeApi,
) -> Value {
    let job = json!({
        "definition": definition,
        "input": input,
        "executionArn": execution_arn,
        "functions": functions.iter().map(|(arn, name)| (arn.to_string(), json!(name))).collect::<serde_json::Map<_, _>>(),
        "lambdaEndpoint": lambda.endpoint(),
        "retryMs": 10,
        "waitMs": 10,
    });
    let out = run_job(&job);
    assert!(
        out.status.success(),
        "the state machine runner failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the runner's report is JSON")
}

/// Runs the local runner (infra/run-state-machine.mjs) on `job` against the shared emulator, as it is: its exit
/// status, report and errors.
pub fn run_job(job: &Value) -> std::process::Output {
    let mut child = Command::new("node")
        .arg(workspace_root().join("infra/run-state-machine.mjs"))
        .env("AWS_ENDPOINT_URL", Moto::shared().endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs infra/run-state-machine.mjs (make test installs infra/node_modules)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(job.to_string().as_bytes())
        .expect("job written");
    child.wait_with_output().expect("runner ends")
}
