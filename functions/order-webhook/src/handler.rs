//! The Lambda handler: check the request, read the key, start the delivery's execution, answer.
//!
//! Every refusal is an HTTP answer (401, 413, 400, 409), and so is a passing AWS failure (503 with
//! `Retry-After`, which a sender's retry schedule honours). Only what a retry cannot fix (the role may not read
//! the secret, the state machine does not exist) is a function error: API Gateway answers 500, and the
//! function's error alarm fires.

use crate::config::Config;
use crate::delivery::{Limits, answer, check};
use crate::secret::SecretKey;
use crate::start::{Started, start};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::HeaderValue;
use serde_json::json;
use tributary_shared::aws::AwsError;
use tributary_shared::metrics::MetricSet;

/// Everything the handler needs, built once per cold start.
#[derive(Debug)]
pub struct Deps {
    pub sfn: aws_sdk_sfn::Client,
    pub key: SecretKey,
    pub config: Config,
}

fn seconds_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn emit(outcome: &str, started: std::time::Instant) {
    MetricSet::new("Tributary")
        .dimension("Function", "order-webhook")
        .dimension("Outcome", outcome)
        .rollup(&["Function"])
        .value("Deliveries", 1.0, "Count")
        .value(
            "DurationMs",
            started.elapsed().as_secs_f64() * 1000.0,
            "Milliseconds",
        )
        .emit();
}

/// A passing failure: the sender is asked to retry.
fn unavailable(e: &AwsError, started: std::time::Instant) -> ApiGatewayV2httpResponse {
    tracing::warn!(error = %e, "answering 503: a passing AWS failure");
    emit("unavailable", started);
    let mut response = answer(
        503,
        &json!({"error": "unavailable", "reason": "the service is briefly unavailable; retry"}),
    );
    response
        .headers
        .insert("retry-after", HeaderValue::from_static("5"));
    response
}

/// Handles one request.
pub async fn handle(
    request: ApiGatewayV2httpRequest,
    deps: &Deps,
) -> Result<ApiGatewayV2httpResponse, AwsError> {
    let started = std::time::Instant::now();
    let c = &deps.config;
    let key = match deps.key.get().await {
        Ok(key) => key,
        Err(e) if e.kind.retryable() => return Ok(unavailable(&e, started)),
        Err(e) => return Err(e),
    };
    let limits = Limits {
        max_body_bytes: c.max_body_bytes,
        tolerance_secs: c.tolerance_secs,
    };
    let delivery = match check(&request, &key, seconds_now(), limits) {
        Ok(delivery) => delivery,
        Err(rejected) => {
            tracing::info!(status = rejected.status(), reason = %rejected, request_id = ?request.request_context.request_id, "delivery refused");
            emit(
                match rejected.status() {
                    401 => "unauthorized",
                    413 => "too_large",
                    _ => "bad_request",
                },
                started,
            );
            return Ok(rejected.response());
        }
    };
    let execution = match start(
        &deps.sfn,
        &c.state_machine_arn,
        &delivery.id,
        &delivery.execution_input(),
    )
    .await
    {
        Ok(execution) => execution,
        Err(e) if e.kind.retryable() => return Ok(unavailable(&e, started)),
        Err(e) => return Err(e),
    };
    let (status, outcome, execution_arn) = match &execution {
        Started::New { execution_arn } => (202, "accepted", execution_arn),
        Started::Again { execution_arn } => (202, "duplicate_delivery", execution_arn),
        Started::Conflict { execution_arn } => (409, "conflict", execution_arn),
    };
    tracing::info!(delivery_id = %delivery.id, outcome, %execution_arn, "delivery answered");
    emit(outcome, started);
    let body = if status == 409 {
        json!({"error": "conflict", "delivery_id": delivery.id, "execution_arn": execution_arn,
               "reason": "this webhook-id was received before with another body"})
    } else {
        json!({"status": outcome, "delivery_id": delivery.id, "execution_arn": execution_arn})
    };
    Ok(answer(status, &body))
}
