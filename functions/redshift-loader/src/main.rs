//! Lambda entry point: telemetry, configuration and clients once, then the handler per task.

use lambda_runtime::{LambdaEvent, service_fn};
use redshift_loader::config::Config;
use redshift_loader::handler::{Deps, handle};
use serde_json::Value;
use std::time::{Duration, SystemTime};
use tributary_shared::config::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tributary_shared::telemetry::init();
    let config = Config::from_env(&ProcessEnv)?;
    let sdk = tributary_shared::aws::load_config().await;
    let deps = Deps {
        s3: tributary_shared::s3::client(&sdk),
        redshift: aws_sdk_redshiftdata::Client::new(&sdk),
        config,
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        let remaining = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        handle(event.payload, remaining, deps).await
    }))
    .await
}
