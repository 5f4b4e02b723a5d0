//! The Secrets Manager adapter: the signing secret, read once and kept for a while, so that a burst of
//! deliveries costs one GetSecretValue, and a rotated secret is read again within the cache time.

use aws_sdk_secretsmanager::Client;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tributary_shared::ErrorKind;
use tributary_shared::aws::AwsError;

/// The secret's HMAC key, cached.
#[derive(Debug)]
pub struct SecretKey {
    client: Client,
    arn: String,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<Vec<u8>>)>>,
}

impl SecretKey {
    pub fn new(client: Client, arn: String, ttl: Duration) -> Self {
        Self {
            client,
            arn,
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// The key, from the cache while it is fresh. Concurrent callers wait for one read.
    pub async fn get(&self) -> Result<Arc<Vec<u8>>, AwsError> {
        let mut cached = self.cached.lock().await;
        if let Some((at, key)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(key.clone());
        }
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetSecretValue", &self.arn, &e))?;
        let secret = out
            .secret_string()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                AwsError::other(
                    "GetSecretValue",
                    &self.arn,
                    ErrorKind::InvalidConfig,
                    "the secret has no string value",
                )
            })?;
        let key = crate::signature::key(secret).map_err(|reason| {
            AwsError::other(
                "GetSecretValue",
                &self.arn,
                ErrorKind::InvalidConfig,
                reason,
            )
        })?;
        let key = Arc::new(key);
        *cached = Some((Instant::now(), key.clone()));
        Ok(key)
    }
}
