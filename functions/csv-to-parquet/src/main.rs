//! Lambda entry point: telemetry, configuration and clients once, then the handler per event.

use csv_to_parquet::config::Config;
use csv_to_parquet::handler::{Deps, handle};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tributary_shared::lambda::run(
        Config::from_env,
        |sdk, config| Deps {
            s3: tributary_shared::s3::client(sdk),
            glue: config
                .glue_database
                .is_some()
                .then(|| aws_sdk_glue::Client::new(sdk)),
            config,
        },
        |event: LambdaEvent<Value>, deps| handle(event.payload, deps),
    )
    .await
}
