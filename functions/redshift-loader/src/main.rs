//! Lambda entry point: telemetry, configuration and clients once, then the handler per task.

use lambda_runtime::LambdaEvent;
use redshift_loader::config::Config;
use redshift_loader::handler::{Deps, handle};
use serde_json::Value;
use std::time::{Duration, SystemTime};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tributary_shared::lambda::run(
        Config::from_env,
        |sdk, config| Deps {
            s3: tributary_shared::s3::client(sdk),
            redshift: aws_sdk_redshiftdata::Client::new(sdk),
            config,
        },
        |event: LambdaEvent<Value>, deps| {
            // Polling stops in time to answer: the deadline bounds how long a load is waited for.
            let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(event.context.deadline);
            let remaining = deadline
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            handle(event.payload, remaining, deps)
        },
    )
    .await
}
