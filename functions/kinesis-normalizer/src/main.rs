//! Lambda entry point: telemetry, configuration and clients once, then the handler per batch.

use kinesis_normalizer::config::Config;
use kinesis_normalizer::handler::{Deps, handle};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use tributary_shared::config::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tributary_shared::telemetry::init();
    let config = Config::from_env(&ProcessEnv)?;
    let sdk = tributary_shared::aws::load_config().await;
    let deps = Deps {
        s3: tributary_shared::s3::client(&sdk),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        config,
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(event.payload, deps).await
    }))
    .await
}
