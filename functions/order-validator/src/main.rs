//! Lambda entry point: telemetry, configuration and clients once, then the handler per event.

use lambda_runtime::{LambdaEvent, service_fn};
use order_validator::config::Config;
use order_validator::handler::{Deps, handle};
use serde_json::value::RawValue;
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
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move { handle(&event.payload, deps).await },
    ))
    .await
}
