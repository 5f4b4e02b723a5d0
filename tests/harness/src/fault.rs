//! A fault-injecting proxy in front of the emulator (`fault_proxy.py` beside this crate): point a function's
//! `AWS_ENDPOINT_URL` at [`FaultProxy::endpoint`], then set rules that cut response bodies, answer errors or
//! throttles, delay, or slow down the requests they match. Each test starts its own, so rules never leak.

use crate::moto::Watched;
use serde_json::Value;
use std::path::PathBuf;

/// A running proxy.
#[derive(Debug)]
pub struct FaultProxy {
    server: Watched,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (e.g. `Moto::shared().endpoint()`), with no rules.
    pub fn start(upstream: &str) -> FaultProxy {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fault_proxy.py");
        let server = Watched::start(
            "fault-proxy",
            &script,
            &["--port", "$PORT", "--upstream", upstream],
        )
        .unwrap_or_else(|e| panic!("could not start the fault proxy: {e}"));
        FaultProxy { server }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    /// Replaces the rules (see `fault_proxy.py` for their form).
    pub fn set(&self, rules: Value) {
        self.call("PUT", "/__fault/rules", &rules.to_string());
    }

    /// How often each rule fired, in rule order.
    pub fn hits(&self) -> Vec<u64> {
        serde_json::from_str(&self.call("GET", "/__fault/hits", ""))
            .unwrap_or_else(|e| panic!("fault proxy hits: {e}"))
    }

    fn call(&self, method: &str, path: &str, body: &str) -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.server.port))
            .unwrap_or_else(|e| panic!("fault proxy: {e}"));
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap_or_else(|e| panic!("fault proxy: {e}"));
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .unwrap_or_else(|e| panic!("fault proxy: {e}"));
        assert!(
            response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
            "fault proxy refused {method} {path}: {response}"
        );
        response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    }
}
