//! Lambda entry point: telemetry, configuration and clients once, then the handler per event.

use csv_to_parquet::config::Config;
use csv_to_parquet::handler::{Deps, handle};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
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
        glue: config
            .glue_database
            .is_some()
            .then(|| aws_sdk_glue::Client::new(&sdk)),
        config,
    };
    serve(deps, |event: LambdaEvent<Value>, deps| {
        handle(event.payload, deps)
    })
    .await
}
