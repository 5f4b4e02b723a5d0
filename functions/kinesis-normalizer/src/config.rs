//! The function's configuration, read once at cold start.

use tributary_shared::config::{ConfigError, Env, optional, parse, prefix, required, string};

#[derive(Debug, Clone)]
pub struct Config {
    /// `EVENTS_BUCKET`: where events and dead letters go (required).
    pub bucket: String,
    /// `LATEST_TABLE`: the latest-state table, partition key `entity_id` (required).
    pub table: String,
    /// `ENTITY_KEY`: the event field that names the entity (default `event_id`).
    pub entity_key: String,
    /// `EVENTS_PREFIX` (`events/`) and `DEAD_LETTER_PREFIX` (`dead-letter/kinesis/`).
    pub events_prefix: String,
    pub dead_letter_prefix: String,
    /// `GZIP`: write `.jsonl.gz` instead of `.jsonl`.
    pub gzip: bool,
    /// `MAX_RECORD_BYTES`: larger payloads are poison (default 1 MiB, Kinesis's own limit).
    pub max_record_bytes: usize,
    /// `WRITE_CONCURRENCY`: latest-state writes in flight.
    pub write_concurrency: usize,
    /// `WRITE_ATTEMPTS`: tries per write when DynamoDB throttles or fails.
    pub write_attempts: u32,
    /// The stream's dedup window: `SEEN_TABLE` (partition key `event_id`, TTL on `expires_at`) and
    /// `DEDUP_WINDOW_SECS` (default 3600). An `event_id` claimed by another record within the window is dropped.
    /// `None` without a table, or with a window of 0: duplicates are then dropped within a batch only.
    pub dedup: Option<Dedup>,
    /// `REDRIVE_QUEUE_URL`: the event source mapping's on-failure queue, which `{"redrive": {}}` reads.
    pub redrive_queue_url: Option<String>,
}

/// Where and for how long event ids are remembered across batches and shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dedup {
    pub table: String,
    pub window_secs: i64,
}

impl Config {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            bucket: required(env, "EVENTS_BUCKET")?,
            table: required(env, "LATEST_TABLE")?,
            entity_key: string(env, "ENTITY_KEY", "event_id"),
            events_prefix: prefix(env, "EVENTS_PREFIX", "events/"),
            dead_letter_prefix: prefix(env, "DEAD_LETTER_PREFIX", "dead-letter/kinesis/"),
            gzip: parse(env, "GZIP", false)?,
            max_record_bytes: parse(env, "MAX_RECORD_BYTES", 1024 * 1024_usize)?,
            write_concurrency: parse(env, "WRITE_CONCURRENCY", 16_usize)?.max(1),
            write_attempts: parse(env, "WRITE_ATTEMPTS", 6_u32)?.max(1),
            dedup: match (
                optional(env, "SEEN_TABLE"),
                parse(env, "DEDUP_WINDOW_SECS", 3600_i64)?,
            ) {
                (Some(table), window_secs) if window_secs > 0 => Some(Dedup { table, window_secs }),
                _ => None,
            },
            redrive_queue_url: optional(env, "REDRIVE_QUEUE_URL"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn bucket_and_table_are_required_and_the_rest_defaults() {
        let mut env: HashMap<String, String> = HashMap::new();
        assert!(Config::from_env(&env).is_err());
        env.insert("EVENTS_BUCKET".into(), "b".into());
        env.insert("LATEST_TABLE".into(), "t".into());
        let c = Config::from_env(&env).expect("valid");
        assert_eq!(
            (c.entity_key.as_str(), c.events_prefix.as_str(), c.gzip),
            ("event_id", "events/", false)
        );
        assert_eq!(c.dedup, None, "no seen table, no window");
        env.insert("SEEN_TABLE".into(), "seen".into());
        assert_eq!(
            Config::from_env(&env).expect("valid").dedup,
            Some(Dedup {
                table: "seen".into(),
                window_secs: 3600
            })
        );
        env.insert("DEDUP_WINDOW_SECS".into(), "0".into());
        assert_eq!(Config::from_env(&env).expect("valid").dedup, None);
    }
}
