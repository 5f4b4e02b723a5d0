//! Lambda entry point: telemetry, configuration and clients once, then the handler per event.

use lambda_runtime::LambdaEvent;
use order_validator::config::Config;
use order_validator::handler::{Deps, handle};
use serde_json::value::RawValue;
use tributary_shared::config::ProcessEnv;
use tributary_shared::lambda::{cold_start, refuse_every_event, serve};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = cold_start().await;
    let config = match Config::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(e) => return refuse_every_event(e).await,
    };
    let deps = Deps {
        s3: tributary_shared::s3::client(&sdk),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        config,
    };
    // The event stays raw JSON so prices keep their literal text.
    serve(deps, |event: LambdaEvent<Box<RawValue>>, deps| async move {
        handle(&event.payload, deps).await
    })
    .await
}
