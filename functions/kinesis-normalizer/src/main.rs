//! Lambda entry point: telemetry, configuration and clients once, then the handler per batch.

use kinesis_normalizer::config::Config;
use kinesis_normalizer::handler::{Deps, handle};
use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tributary_shared::lambda::run(
        Config::from_env,
        |sdk, config| Deps {
            s3: tributary_shared::s3::client(sdk),
            // One retry layer: the latest-state writes retry themselves (sink::WRITE_BACKOFF, WRITE_ATTEMPTS),
            // so the client's own retries are off.
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(sdk)
                    .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
                    .build(),
            ),
            kinesis: aws_sdk_kinesis::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            config,
        },
        // The event as its text: a batch is read from it in one pass (`handle`).
        |event: LambdaEvent<Box<RawValue>>, deps| async move { handle(event.payload.get(), deps).await },
    )
    .await
}
