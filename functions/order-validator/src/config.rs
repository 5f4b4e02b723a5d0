//! The function's configuration, read once at cold start.

use tributary_shared::config::{
    ConfigError, Env, optional, outside_trigger, parse, prefix, required,
};

/// Settings from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ORDERS_TABLE`: the DynamoDB table of accepted orders (partition key `order_id`, TTL on `expires_at`).
    pub table: String,
    /// `ORDERS_BUCKET`: where results go (required for orders that arrive as a Step Functions payload; an
    /// S3-triggered order's result goes beside its source when it is unset).
    pub bucket: Option<String>,
    /// `DEDUP_WINDOW_SECS`: how long an accepted order_id blocks a second copy.
    pub dedup_window_secs: i64,
    /// `INCOMING_PREFIX`, `VALIDATED_PREFIX`, `REJECTED_PREFIX`.
    pub incoming_prefix: String,
    pub validated_prefix: String,
    pub rejected_prefix: String,
    /// `MAX_ORDER_BYTES`: larger documents are rejected as invalid without being parsed.
    pub max_order_bytes: u64,
}

impl Config {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let config = Self {
            table: required(env, "ORDERS_TABLE")?,
            bucket: optional(env, "ORDERS_BUCKET"),
            dedup_window_secs: parse(env, "DEDUP_WINDOW_SECS", 3600_i64)?.max(0),
            incoming_prefix: prefix(env, "INCOMING_PREFIX", "orders/incoming/"),
            validated_prefix: prefix(env, "VALIDATED_PREFIX", "orders/validated/"),
            rejected_prefix: prefix(env, "REJECTED_PREFIX", "orders/rejected/"),
            max_order_bytes: parse(env, "MAX_ORDER_BYTES", 1024 * 1024_u64)?,
        };
        outside_trigger(
            ("INCOMING_PREFIX", &config.incoming_prefix),
            &[
                ("VALIDATED_PREFIX", &config.validated_prefix),
                ("REJECTED_PREFIX", &config.rejected_prefix),
            ],
        )?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_shared::config::env_of as env;

    #[test]
    fn the_table_is_required() {
        assert!(Config::from_env(&env(&[])).is_err());
        let c = Config::from_env(&env(&[("ORDERS_TABLE", "orders")])).expect("valid");
        assert_eq!(
            (c.dedup_window_secs, c.incoming_prefix.as_str()),
            (3600, "orders/incoming/")
        );
    }

    #[test]
    fn refuses_outputs_under_the_trigger_prefix() {
        let e = env(&[
            ("ORDERS_TABLE", "t"),
            ("VALIDATED_PREFIX", "orders/incoming/ok/"),
        ]);
        assert!(Config::from_env(&e).is_err());
    }
}
