//! The Lambda function's reading of a batch, timed in one process: from the runtime's body (the event's bytes)
//! to the plan, the way `handler::handle` reads it (the text, in one pass) and the way it read it before (a
//! serde_json `Value`, then each record typed from it). `make bench` runs it through
//! `scripts/bench_normalize.py --lambda-read`.
//!
//! Usage: `lambda_read EVENT.json RUNS`. Prints one JSON object: the records and events, and for each way the
//! median and lowest milliseconds of RUNS runs (the two ways alternate), after one untimed run of each; exits 1
//! when the two ways plan different events.

use kinesis_normalizer::batch::{Plan, read_event, read_event_text};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::io::Write;
use std::time::Instant;
use tributary_shared::correlation::Correlate;

/// The body read as the function reads it now: its text, the correlation id looked for in it, the batch read in one
/// pass.
fn from_text(body: &[u8]) -> Plan {
    let event: Box<RawValue> = serde_json::from_slice(body).expect("the event is JSON");
    let _ = event.correlation_id();
    let (source, inputs) = read_event_text(event.get())
        .expect("a Records batch")
        .expect("a readable batch");
    Plan::new(source, inputs, chrono::Utc::now(), 1 << 20)
}

/// ... and as it read it before this version: a `Value`, then each record typed from it.
fn from_value(body: &[u8]) -> Plan {
    let event: Value = serde_json::from_slice(body).expect("the event is JSON");
    let _ = event.correlation_id();
    let (source, inputs) = read_event(&event).expect("a readable batch");
    Plan::new(source, inputs, chrono::Utc::now(), 1 << 20)
}

fn timed(read: fn(&[u8]) -> Plan, body: &[u8]) -> (f64, Plan) {
    let started = Instant::now();
    let plan = read(body);
    (started.elapsed().as_secs_f64() * 1000.0, plan)
}

/// The events without their processing time.
fn events(plan: &Plan) -> Vec<String> {
    plan.events
        .iter()
        .map(|e| {
            let mut json: Value = serde_json::from_slice(&e.json).expect("an event is JSON");
            if let Some(fields) = json.as_object_mut() {
                fields.remove("ingested_at");
            }
            json.to_string()
        })
        .collect()
}

fn summary(mut ms: Vec<f64>) -> Value {
    ms.sort_by(f64::total_cmp);
    json!({"median_ms": ms[ms.len() / 2], "min_ms": ms[0]})
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(runs)) = (args.next(), args.next()) else {
        eprintln!("usage: lambda_read EVENT.json RUNS");
        return std::process::ExitCode::from(2);
    };
    let runs: usize = runs.parse().expect("RUNS is a number");
    let body = std::fs::read(&path).expect("the event file");
    let (_, text_plan) = timed(from_text, &body);
    let (_, value_plan) = timed(from_value, &body);
    let same = events(&text_plan) == events(&value_plan);
    let (mut text, mut value) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        text.push(timed(from_text, &body).0);
        value.push(timed(from_value, &body).0);
    }
    let report = writeln!(
        std::io::stdout().lock(),
        "{}",
        json!({
            "records": text_plan.inputs.len(),
            "events": text_plan.events.len(),
            "same_events": same,
            "text": summary(text),
            "value": summary(value),
        })
    );
    if report.is_ok() && same {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
