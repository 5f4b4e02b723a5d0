//! The function's configuration, read once at cold start.

use crate::dataapi::Target;
use crate::request::Defaults;
use tributary_shared::config::{ConfigError, Env, optional, parse, prefix, string};

/// Which warehouse the loads go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `WAREHOUSE_URL=postgres://…`: the PostgreSQL protocol, rows streamed with COPY FROM STDIN.
    Postgres(String),
    /// Redshift through the Data API, COPY from an S3 manifest with `COPY_ROLE_ARN`.
    Redshift { target: Target, copy_role: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub backend: Backend,
    /// `TARGET_TABLE` (may hold `{dataset}`), `LOAD_MODE`, `MERGE_KEYS` (comma separated).
    pub defaults: Defaults,
    /// `MANIFEST_BUCKET` (default: the first file's bucket) and `MANIFEST_PREFIX` (`manifests/`).
    pub manifest_bucket: Option<String>,
    pub manifest_prefix: String,
    /// `POLL_SECONDS`: the most one invocation waits for a statement before answering `running` (also bounded
    /// by the invocation's own deadline).
    pub poll_seconds: u64,
}

impl Config {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let missing = |name: &str, reason: &str| ConfigError {
            name: name.into(),
            value: String::new(),
            reason: reason.into(),
        };
        let backend = match optional(env, "WAREHOUSE_URL") {
            Some(url) => Backend::Postgres(url),
            None => {
                let target = Target {
                    database: optional(env, "REDSHIFT_DATABASE").ok_or_else(|| {
                        missing("REDSHIFT_DATABASE", "must be set (or WAREHOUSE_URL)")
                    })?,
                    cluster_id: optional(env, "REDSHIFT_CLUSTER_ID"),
                    workgroup: optional(env, "REDSHIFT_WORKGROUP"),
                    secret_arn: optional(env, "REDSHIFT_SECRET_ARN"),
                    db_user: optional(env, "REDSHIFT_DB_USER"),
                };
                if target.cluster_id.is_none() == target.workgroup.is_none() {
                    return Err(missing(
                        "REDSHIFT_CLUSTER_ID",
                        "set exactly one of REDSHIFT_CLUSTER_ID and REDSHIFT_WORKGROUP",
                    ));
                }
                if target.cluster_id.is_some()
                    && target.secret_arn.is_none()
                    && target.db_user.is_none()
                {
                    return Err(missing(
                        "REDSHIFT_SECRET_ARN",
                        "a provisioned cluster needs REDSHIFT_SECRET_ARN or REDSHIFT_DB_USER",
                    ));
                }
                Backend::Redshift {
                    target,
                    copy_role: optional(env, "COPY_ROLE_ARN")
                        .ok_or_else(|| missing("COPY_ROLE_ARN", "must be set for Redshift COPY"))?,
                }
            }
        };
        Ok(Self {
            backend,
            defaults: Defaults {
                table: optional(env, "TARGET_TABLE"),
                mode: optional(env, "LOAD_MODE"),
                merge_keys: string(env, "MERGE_KEYS", "")
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
            manifest_bucket: optional(env, "MANIFEST_BUCKET"),
            manifest_prefix: prefix(env, "MANIFEST_PREFIX", "manifests/"),
            poll_seconds: parse(env, "POLL_SECONDS", 600_u64)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_shared::config::env_of as env;

    #[test]
    fn a_warehouse_url_selects_postgres() {
        let c = Config::from_env(&env(&[("WAREHOUSE_URL", "postgres://x")])).expect("valid");
        assert_eq!(c.backend, Backend::Postgres("postgres://x".into()));
    }

    #[test]
    fn redshift_needs_a_database_a_target_credentials_and_a_role() {
        assert!(Config::from_env(&env(&[])).is_err());
        assert!(
            Config::from_env(&env(&[
                ("REDSHIFT_DATABASE", "dev"),
                ("COPY_ROLE_ARN", "r")
            ]))
            .is_err(),
            "no cluster or workgroup"
        );
        assert!(
            Config::from_env(&env(&[
                ("REDSHIFT_DATABASE", "dev"),
                ("REDSHIFT_CLUSTER_ID", "c"),
                ("COPY_ROLE_ARN", "r")
            ]))
            .is_err(),
            "no credentials"
        );
        let ok = Config::from_env(&env(&[
            ("REDSHIFT_DATABASE", "dev"),
            ("REDSHIFT_WORKGROUP", "wg"),
            ("COPY_ROLE_ARN", "r"),
            ("MERGE_KEYS", "a, b"),
        ]))
        .expect("serverless");
        assert_eq!(ok.defaults.merge_keys, ["a", "b"]);
    }
}
