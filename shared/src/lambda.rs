//! The Lambda process around a handler: JSON telemetry and the SDK configuration at cold start, then events
//! served one at a time for as long as the process lives.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::future::Future;

/// Cold start, part one: JSON logs, then the SDK configuration (which honours `AWS_ENDPOINT_URL`).
#[cfg(feature = "aws")]
pub async fn cold_start() -> crate::aws::SdkConfig {
    crate::telemetry::init();
    crate::aws::load_config().await
}

/// A function's whole process: cold start, its configuration read once (`config`; when unusable, every invocation
/// is answered with the error instead, see [`refuse_every_event`]), its dependencies built once (`deps`), then
/// events served with `handler` (see [`serve`]).
#[cfg(feature = "aws")]
pub async fn run<C, CE, D, A, H, F, R, E>(
    config: impl FnOnce(&crate::config::ProcessEnv) -> Result<C, CE>,
    deps: impl FnOnce(&crate::aws::SdkConfig, C) -> D,
    handler: H,
) -> Result<(), lambda_runtime::Error>
where
    CE: crate::Classify + std::error::Error,
    A: DeserializeOwned + crate::correlation::Correlate + Send + 'static,
    D: Send + Sync + 'static,
    H: Fn(LambdaEvent<A>, &'static D) -> F,
    F: Future<Output = Result<R, E>>,
    R: serde::Serialize,
    E: crate::Classify + std::error::Error,
{
    let sdk = cold_start().await;
    match config(&crate::config::ProcessEnv) {
        Ok(config) => serve(deps(&sdk, config), handler).await,
        Err(e) => refuse_every_event(e).await,
    }
}

/// Serves events with `handler`, which gets each event and the dependencies built at cold start. The
/// dependencies live as long as the process, so they are handed out as `&'static`. A handler's error reaches
/// Lambda as its class (`errorType`, which Step Functions matches) and its message with every source.
pub async fn serve<A, D, H, F, R, E>(deps: D, handler: H) -> Result<(), lambda_runtime::Error>
where
    A: DeserializeOwned + crate::correlation::Correlate + Send + 'static,
    D: Send + Sync + 'static,
    H: Fn(LambdaEvent<A>, &'static D) -> F,
    F: Future<Output = Result<R, E>>,
    R: serde::Serialize,
    E: crate::Classify + std::error::Error,
{
    let deps: &'static D = Box::leak(Box::new(deps));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<A>| {
        let id = event
            .payload
            .correlation_id()
            .unwrap_or_else(|| event.context.request_id.clone());
        // Boxed: the handler's future is deep, and nesting it whole in this one would overflow the
        // compiler's layout depth for the largest handler.
        let answer = Box::pin(crate::correlation::scope(id, handler(event, deps)));
        async move { answer.await.map_err(|e| crate::error::diagnostic(&e)) }
    }))
    .await
}

/// The configuration is unusable: log why once, then answer every invocation with the error's class
/// (`InvalidConfig`) and message. Exiting instead would show the caller only a runtime that keeps failing to
/// start (`Runtime.ExitError`), with the reason buried in the logs.
pub async fn refuse_every_event<E>(err: E) -> Result<(), lambda_runtime::Error>
where
    E: crate::Classify + std::error::Error,
{
    let diagnostic = crate::error::diagnostic(&err);
    tracing::error!(
        error_type = %diagnostic.error_type,
        error = %diagnostic.error_message,
        "the configuration is unusable; every invocation fails until it is fixed"
    );
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let diagnostic = diagnostic.clone();
        async move { Err::<Value, Diagnostic>(diagnostic) }
    }))
    .await
}
