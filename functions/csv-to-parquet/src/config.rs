//! The function's configuration, read once at cold start.

use crate::codec::Codec;
use crate::layout::Prefixes;
use crate::registry::Policy;
use tributary_shared::config::{ConfigError, Env, optional, outside_trigger, parse, prefix, ratio};
use tributary_shared::s3::Ranges;

/// Settings from the environment; every one has a default.
#[derive(Debug, Clone)]
pub struct Config {
    pub prefixes: Prefixes,
    /// Bucket for curated and quarantine output and the declared schemas (`OUTPUT_BUCKET`); the source bucket
    /// when unset.
    pub output_bucket: Option<String>,
    /// `MAX_REJECT_RATIO`: above this share of rejected rows no curated output is written.
    pub max_reject_ratio: f64,
    /// `UPLOAD_PART_MB`: multipart part size.
    pub part_size: usize,
    /// `UPLOAD_CONCURRENCY`: parts in flight.
    pub upload_concurrency: usize,
    /// `READ_CONCURRENCY` (ranged GETs in flight; 1 reads one stream) and `READ_PART_MB` (bytes per ranged GET):
    /// how a large source object is read.
    pub read: Ranges,
    /// `ROW_GROUP_MB`: Parquet row group size (encoded).
    pub row_group_bytes: usize,
    /// `COMPRESSION`: `snappy` (the default), `zstd` (level 1), `zstd:<1-22>` or `none`.
    pub compression: Codec,
    /// `BATCH_ROWS`: rows per Arrow batch.
    pub batch_rows: usize,
    /// `INFER_SAMPLE_ROWS`: rows sampled when no schema file exists.
    pub sample_rows: usize,
    /// `GLUE_DATABASE`: the Glue database of the datasets' tables, which is the schema registry. Unset: no
    /// registry, and each file is typed on its own (by its schema file, else by inference).
    pub glue_database: Option<String>,
    /// `SCHEMA_EVOLUTION` (`add-columns`, the default, or `none`) and `SCHEMA_COMPATIBILITY` (`BACKWARD`, the
    /// default, `FULL` or `NONE`, for datasets registered from now on).
    pub schema_policy: Policy,
}

const MIB: usize = 1024 * 1024;

impl Config {
    /// Reads and checks the configuration: an output prefix that overlaps `RAW_PREFIX` in the source bucket
    /// would make the function trigger itself, and is refused.
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let config = Self {
            prefixes: Prefixes {
                raw: prefix(env, "RAW_PREFIX", "raw/"),
                curated: prefix(env, "CURATED_PREFIX", "curated/"),
                quarantine: prefix(env, "QUARANTINE_PREFIX", "quarantine/"),
                schemas: prefix(env, "SCHEMA_PREFIX", "schemas/"),
            },
            output_bucket: optional(env, "OUTPUT_BUCKET"),
            max_reject_ratio: ratio(env, "MAX_REJECT_RATIO", 0.02)?,
            part_size: parse(env, "UPLOAD_PART_MB", 8_usize)?.max(5) * MIB,
            upload_concurrency: parse(env, "UPLOAD_CONCURRENCY", 2_usize)?.max(1),
            read: Ranges {
                part_size: (parse(env, "READ_PART_MB", 8_usize)?.clamp(1, 64) * MIB) as u64,
                concurrency: parse(env, "READ_CONCURRENCY", 4_usize)?.max(1),
            },
            row_group_bytes: parse(env, "ROW_GROUP_MB", 32_usize)?.max(1) * MIB,
            compression: parse(env, "COMPRESSION", Codec::default())?,
            batch_rows: parse(env, "BATCH_ROWS", 32_768_usize)?.max(1),
            sample_rows: parse(env, "INFER_SAMPLE_ROWS", 10_000_usize)?,
            glue_database: optional(env, "GLUE_DATABASE"),
            schema_policy: Policy {
                evolution: parse(env, "SCHEMA_EVOLUTION", Default::default())?,
                compatibility: parse(env, "SCHEMA_COMPATIBILITY", Default::default())?,
            },
        };
        if config.output_bucket.is_none() {
            let p = &config.prefixes;
            outside_trigger(
                ("RAW_PREFIX", &p.raw),
                &[
                    ("CURATED_PREFIX", &p.curated),
                    ("QUARANTINE_PREFIX", &p.quarantine),
                ],
            )?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_are_usable() {
        let c = Config::from_env(&HashMap::new()).expect("defaults");
        assert_eq!(c.prefixes.raw, "raw/");
        assert!((c.max_reject_ratio - 0.02).abs() < f64::EPSILON);
        assert_eq!(c.part_size, 8 * MIB);
        assert_eq!(c.compression, Codec::Snappy);
    }

    #[test]
    fn compression_is_named_or_refused() {
        let env = |v: &str| -> HashMap<String, String> {
            [("COMPRESSION".to_owned(), v.to_owned())].into()
        };
        let c = Config::from_env(&env("zstd:6")).expect("zstd");
        assert_eq!(c.compression, Codec::Zstd(6));
        let err = Config::from_env(&env("gzip")).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "environment variable COMPRESSION=\"gzip\" is invalid: expected snappy, zstd, zstd:<1-22> or none"
        );
    }

    #[test]
    fn refuses_outputs_under_the_trigger_prefix() {
        let env: HashMap<String, String> =
            [("CURATED_PREFIX".to_owned(), "raw/curated".to_owned())].into();
        let err = Config::from_env(&env).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "environment variable CURATED_PREFIX=\"raw/curated/\" is invalid: overlaps RAW_PREFIX \"raw/\": the function would trigger itself"
        );
    }
}
