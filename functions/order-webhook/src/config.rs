//! The function's configuration, read once at cold start.

use tributary_shared::config::{ConfigError, Env, parse, required};

/// Step Functions refuses an execution input over 256 KiB; the body travels in it with a few bytes around it.
pub const MAX_BODY_CEILING: usize = 250 * 1024;

/// Settings from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `WEBHOOK_SECRET_ARN`: the Secrets Manager secret whose string is the shared signing secret (`whsec_…`
    /// as the Standard Webhooks specification writes it, or any string).
    pub secret_arn: String,
    /// `ORDERS_STATE_MACHINE_ARN`: the state machine each delivery starts.
    pub state_machine_arn: String,
    /// `SIGNATURE_TOLERANCE_SECS`: how far `webhook-timestamp` may be from now, either way.
    pub tolerance_secs: i64,
    /// `MAX_BODY_BYTES`: larger bodies are refused with 413 (at most 250 KiB, Step Functions' input limit).
    pub max_body_bytes: usize,
    /// `SECRET_CACHE_SECS`: how long the secret is kept before it is read again (a rotation shows within this).
    pub secret_cache_secs: u64,
}

impl Config {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let config = Self {
            secret_arn: required(env, "WEBHOOK_SECRET_ARN")?,
            state_machine_arn: required(env, "ORDERS_STATE_MACHINE_ARN")?,
            tolerance_secs: parse(env, "SIGNATURE_TOLERANCE_SECS", 300_i64)?,
            max_body_bytes: parse(env, "MAX_BODY_BYTES", 128 * 1024_usize)?,
            secret_cache_secs: parse(env, "SECRET_CACHE_SECS", 300_u64)?,
        };
        if !(1..=MAX_BODY_CEILING).contains(&config.max_body_bytes) {
            return Err(ConfigError {
                name: "MAX_BODY_BYTES".into(),
                value: config.max_body_bytes.to_string(),
                reason: format!(
                    "must be 1 to {MAX_BODY_CEILING}: the body travels in a Step Functions input (256 KiB at most)"
                ),
            });
        }
        if config.tolerance_secs < 1 {
            return Err(ConfigError {
                name: "SIGNATURE_TOLERANCE_SECS".into(),
                value: config.tolerance_secs.to_string(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_shared::config::env_of as env;

    const BASE: [(&str, &str); 2] = [
        (
            "WEBHOOK_SECRET_ARN",
            "arn:aws:secretsmanager:eu-west-1:1:secret:w",
        ),
        (
            "ORDERS_STATE_MACHINE_ARN",
            "arn:aws:states:eu-west-1:1:stateMachine:o",
        ),
    ];

    #[test]
    fn the_secret_and_the_state_machine_are_required_and_the_rest_has_defaults() {
        assert!(Config::from_env(&env(&BASE[..1])).is_err());
        let c = Config::from_env(&env(&BASE)).expect("valid");
        assert_eq!(
            (c.tolerance_secs, c.max_body_bytes, c.secret_cache_secs),
            (300, 131_072, 300)
        );
    }

    #[test]
    fn a_body_limit_over_the_execution_input_limit_is_refused() {
        let too_big = [BASE[0], BASE[1], ("MAX_BODY_BYTES", "300000")];
        let e = Config::from_env(&env(&too_big)).expect_err("refused");
        assert_eq!(e.name, "MAX_BODY_BYTES");
        let zero = [BASE[0], BASE[1], ("SIGNATURE_TOLERANCE_SECS", "0")];
        assert!(Config::from_env(&env(&zero)).is_err());
    }
}
