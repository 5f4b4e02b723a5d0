//! Lambda entry point: telemetry, configuration and clients once, then the handler per request.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_runtime::LambdaEvent;
use order_webhook::config::Config;
use order_webhook::handler::{Deps, handle};
use order_webhook::secret::SecretKey;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tributary_shared::lambda::run(
        Config::from_env,
        |sdk, config| Deps {
            sfn: aws_sdk_sfn::Client::new(sdk),
            key: SecretKey::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                config.secret_arn.clone(),
                Duration::from_secs(config.secret_cache_secs),
            ),
            config,
        },
        |event: LambdaEvent<ApiGatewayV2httpRequest>, deps| async move {
            handle(event.payload, deps).await
        },
    )
    .await
}
