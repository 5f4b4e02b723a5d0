//! Lambda entry point: telemetry, configuration and clients once, then the handler per event.

use lambda_runtime::LambdaEvent;
use order_validator::config::Config;
use order_validator::handler::{Deps, handle};
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tributary_shared::lambda::run(
        Config::from_env,
        |sdk, config| Deps {
            s3: tributary_shared::s3::client(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            config,
        },
        // The event stays raw JSON so prices keep their literal text.
        |event: LambdaEvent<Box<RawValue>>, deps| async move { handle(&event.payload, deps).await },
    )
    .await
}
