//! Backfill: the batches a Step Functions Distributed Map hands csv-to-parquet (`{"Items": [...], "BatchInput":
//! {"bucket", "mode"}}`, from its S3 ItemReader and ItemBatcher), and the one summary of a whole backfill, read from
//! the map's ResultWriter files. Pure: what a batch names, which files its outcomes give the loader, and the
//! summary; the handler does the S3 calls.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What the map's ItemBatcher sends.
#[derive(Debug, Clone, Deserialize)]
pub struct Batch {
    #[serde(rename = "Items")]
    pub items: Vec<Item>,
    #[serde(rename = "BatchInput")]
    pub input: BatchInput,
}

/// One object as the S3 ListObjectsV2 ItemReader lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Etag", default)]
    pub etag: Option<String>,
    #[serde(rename = "Size", default)]
    pub size: Option<u64>,
    /// Seconds since the epoch.
    #[serde(rename = "LastModified", default)]
    pub last_modified: Option<f64>,
    #[serde(rename = "StorageClass", default)]
    pub storage_class: Option<String>,
}

impl Item {
    /// An object in an archive class cannot be read until it is restored.
    pub fn archived(&self) -> bool {
        matches!(
            self.storage_class.as_deref(),
            Some("GLACIER" | "DEEP_ARCHIVE")
        )
    }

    /// The dataset of a `raw/<dataset>/…` or `quarantine/<dataset>/…` key.
    pub fn dataset(&self) -> Option<&str> {
        let mut parts = self.key.splitn(3, '/');
        let (_, dataset, _) = (parts.next()?, parts.next()?, parts.next()?);
        Some(dataset)
    }

    /// The ETag without its quotes, as events carry it.
    pub fn etag(&self) -> Option<String> {
        self.etag
            .as_deref()
            .map(|e| e.trim_matches('"').to_owned())
            .filter(|e| !e.is_empty())
    }

    /// When the object was written: the curated key's date, as its Object Created event would give it, so a
    /// backfill and a live event of one object name the same output (and the second is skipped).
    pub fn written(&self) -> Option<DateTime<Utc>> {
        let seconds = self.last_modified?;
        Utc.timestamp_millis_opt((seconds * 1000.0).round() as i64)
            .single()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct BatchInput {
    pub bucket: String,
    #[serde(default)]
    pub mode: Mode,
}

/// `convert` raw objects, or `replay` quarantine objects through their dataset's current schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Convert,
    Replay,
}

/// The outcome of an object the batch could not convert, for a reason a retry will not fix (its quality gate, a
/// refused schema change, unreadable data): reported, and the rest of the batch goes on.
pub fn failed(bucket: &str, key: &str, error_type: &str, error: &str) -> Value {
    serde_json::json!({
        "status": "failed", "bucket": bucket, "source_key": key, "error_type": error_type, "error": error,
    })
}

/// What a batch's result keeps of an outcome: enough to count, locate and explain it, so a batch's result stays far
/// below Step Functions' 256 KiB for a state (an outcome's columns and timings are in the object's metrics and logs).
pub fn compact(outcome: &Value) -> Value {
    let mut kept = serde_json::Map::new();
    for field in [
        "status",
        "source_key",
        "output_bucket",
        "output_key",
        "rows_in",
        "rows_out",
        "rows_rejected",
        "dataset",
        "schema_version",
        "error_type",
        "reason",
    ] {
        if let Some(v) = outcome.get(field).filter(|v| !v.is_null()) {
            kept.insert(field.to_owned(), v.clone());
        }
    }
    if let Some(error) = outcome["error"].as_str() {
        let cut: String = error.chars().take(MAX_ERROR_CHARS).collect();
        kept.insert("error".to_owned(), Value::String(cut));
    }
    Value::Object(kept)
}

/// An error's text in a batch's result, at most.
pub const MAX_ERROR_CHARS: usize = 1000;

/// The curated files a batch's outcomes give the loader: converted ones, and skipped ones (converted before; the
/// loader's ledger knows whether they are in), each once.
pub fn files(outcomes: &[Value]) -> Vec<String> {
    let mut files: Vec<String> = outcomes
        .iter()
        .filter(|o| matches!(o["status"].as_str(), Some("converted" | "skipped")))
        .filter_map(|o| {
            Some(format!(
                "s3://{}/{}",
                o["output_bucket"].as_str()?,
                o["output_key"].as_str()?
            ))
        })
        .collect();
    files.dedup();
    files
}

/// Rows of one dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DatasetRows {
    pub objects: u64,
    pub rows_in: u64,
    pub rows_out: u64,
    pub rows_rejected: u64,
}

/// One object that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub key: String,
    pub error_type: String,
    pub error: String,
}

/// The loads of the backfill's batches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Loads {
    pub batches: u64,
    pub files_loaded: u64,
    pub files_skipped: u64,
    pub rows_loaded: u64,
}

/// Failures listed in a summary; the rest are counted and are in the result files.
pub const MAX_FAILURES_LISTED: usize = 100;

/// One backfill, summed up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub objects: u64,
    pub converted: u64,
    pub skipped: u64,
    pub ignored: u64,
    pub failed: u64,
    /// Child executions (batches) that succeeded and that failed as a whole.
    pub batches_succeeded: u64,
    pub batches_failed: u64,
    pub datasets: BTreeMap<String, DatasetRows>,
    pub load: Loads,
    pub failures: Vec<Failure>,
    pub failures_not_listed: u64,
}

impl Summary {
    fn fail(&mut self, failure: Failure) {
        self.failed += 1;
        if self.failures.len() < MAX_FAILURES_LISTED {
            self.failures.push(failure);
        } else {
            self.failures_not_listed += 1;
        }
    }
}

/// The dataset of a raw or quarantine key (`raw/<dataset>/…`), or of the outcome's own `dataset`.
fn dataset(outcome: &Value) -> String {
    if let Some(d) = outcome["dataset"].as_str() {
        return d.to_owned();
    }
    let key = outcome["source_key"].as_str().unwrap_or_default();
    key.split('/')
        .nth(1)
        .filter(|_| key.matches('/').count() >= 2)
        .unwrap_or("(none)")
        .to_owned()
}

/// Sums up the map's result files: `succeeded` and `failed` are their entries (`Output` and `Input` are JSON text,
/// as Step Functions writes them). A succeeded child's output is `{results: [outcome…], load?}`; a failed child
/// failed every object of its batch with its error.
pub fn summarize(succeeded: &[Value], failed: &[Value]) -> Summary {
    let mut s = Summary::default();
    let parse = |v: &Value| -> Value {
        v.as_str()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or(Value::Null)
    };
    for entry in succeeded {
        s.batches_succeeded += 1;
        let output = parse(&entry["Output"]);
        for outcome in output["results"].as_array().into_iter().flatten() {
            s.objects += 1;
            let count = |k: &str| outcome[k].as_u64().unwrap_or(0);
            match outcome["status"].as_str() {
                Some("converted") => {
                    s.converted += 1;
                    let rows = s.datasets.entry(dataset(outcome)).or_default();
                    rows.objects += 1;
                    rows.rows_in += count("rows_in");
                    rows.rows_out += count("rows_out");
                    rows.rows_rejected += count("rows_rejected");
                }
                Some("skipped") => s.skipped += 1,
                Some("ignored") => s.ignored += 1,
                _ => s.fail(Failure {
                    key: outcome["source_key"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    error_type: outcome["error_type"]
                        .as_str()
                        .unwrap_or("Unknown")
                        .to_owned(),
                    error: outcome["error"].as_str().unwrap_or_default().to_owned(),
                }),
            }
        }
        let load = &output["load"];
        if load.is_object() {
            s.load.batches += 1;
            s.load.files_loaded += load["files_loaded"].as_u64().unwrap_or(0);
            s.load.files_skipped += load["files_skipped"].as_u64().unwrap_or(0);
            s.load.rows_loaded += load["rows_loaded"].as_u64().unwrap_or(0);
        }
    }
    for entry in failed {
        s.batches_failed += 1;
        let input = parse(&entry["Input"]);
        let error_type = entry["Error"].as_str().unwrap_or("States.TaskFailed");
        let cause = entry["Cause"].as_str().unwrap_or_default();
        for item in input["Items"].as_array().into_iter().flatten() {
            s.objects += 1;
            s.fail(Failure {
                key: item["Key"].as_str().unwrap_or_default().to_owned(),
                error_type: error_type.to_owned(),
                error: cause.to_owned(),
            });
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_batch_names_its_objects_with_the_dates_their_events_would_give() {
        let batch: Batch = serde_json::from_value(json!({
            "Items": [{"Key": "raw/orders/a.csv", "Etag": "\"0a1b\"", "Size": 12, "LastModified": 1_795_255_200,
                       "StorageClass": "STANDARD"}],
            "BatchInput": {"bucket": "landing"}
        }))
        .expect("batch");
        assert_eq!(batch.input.mode, Mode::Convert);
        let item = &batch.items[0];
        assert_eq!(item.etag().as_deref(), Some("0a1b"));
        assert_eq!(
            item.written().map(|t| t.to_rfc3339()),
            Some("2026-11-21T10:00:00+00:00".to_owned())
        );
        let replay: BatchInput =
            serde_json::from_value(json!({"bucket": "data", "mode": "replay"})).expect("input");
        assert_eq!(replay.mode, Mode::Replay);
    }

    #[test]
    fn an_item_knows_its_dataset_and_whether_it_is_archived() {
        let item = |key: &str, class: &str| Item {
            key: key.to_owned(),
            etag: None,
            size: None,
            last_modified: None,
            storage_class: Some(class.to_owned()),
        };
        assert_eq!(
            item("raw/orders/2026/a.csv", "STANDARD").dataset(),
            Some("orders")
        );
        assert_eq!(
            item("quarantine/orders/a.csv", "STANDARD").dataset(),
            Some("orders")
        );
        assert_eq!(item("raw/a.csv", "STANDARD").dataset(), None);
        assert!(item("raw/o/a.csv", "GLACIER").archived());
        assert!(item("raw/o/a.csv", "DEEP_ARCHIVE").archived());
        assert!(!item("raw/o/a.csv", "GLACIER_IR").archived());
    }

    #[test]
    fn a_batch_result_keeps_what_counts_and_cuts_long_errors() {
        let outcome = json!({"status": "converted", "source_key": "raw/o/a.csv", "rows_in": 3, "rows_out": 3,
            "rows_rejected": 0, "columns": [{"name": "a"}], "steps": {"convert_ms": 1}, "reason": null});
        assert_eq!(
            compact(&outcome),
            json!({"status": "converted", "source_key": "raw/o/a.csv", "rows_in": 3, "rows_out": 3,
                   "rows_rejected": 0})
        );
        let long = failed("b", "raw/o/a.csv", "InvalidInput", &"x".repeat(5000));
        assert_eq!(
            compact(&long)["error"].as_str().map(str::len),
            Some(MAX_ERROR_CHARS)
        );
    }

    #[test]
    fn converted_and_skipped_files_are_loaded_once_and_failures_are_not() {
        let outcome = |status: &str, key: &str| json!({"status": status, "output_bucket": "data", "output_key": key});
        assert_eq!(
            files(&[
                outcome("converted", "curated/o/a.parquet"),
                outcome("skipped", "curated/o/b.parquet"),
                outcome("skipped", "curated/o/b.parquet"),
                outcome("ignored", "x"),
                failed("landing", "raw/o/c.csv", "QualityGateFailed", "too many"),
            ]),
            [
                "s3://data/curated/o/a.parquet",
                "s3://data/curated/o/b.parquet"
            ]
        );
    }

    #[test]
    fn the_summary_counts_objects_rows_per_dataset_loads_and_failures() {
        let output = json!({
            "results": [
                {"status": "converted", "source_key": "raw/orders/a.csv", "rows_in": 10, "rows_out": 9, "rows_rejected": 1},
                {"status": "converted", "source_key": "raw/orders/b.csv", "rows_in": 5, "rows_out": 5, "rows_rejected": 0},
                {"status": "skipped", "source_key": "raw/orders/c.csv"},
                failed("landing", "raw/orders/d.csv", "QualityGateFailed", "40 of 50 rows rejected"),
            ],
            "load": {"status": "loaded", "files_loaded": 2, "files_skipped": 1, "rows_loaded": 14}
        });
        let succeeded = [json!({"Status": "SUCCEEDED", "Output": output.to_string()})];
        let batch = json!({"Items": [{"Key": "raw/orders/e.csv"}, {"Key": "raw/orders/f.csv"}], "BatchInput": {}});
        let failed_batch = [
            json!({"Status": "FAILED", "Input": batch.to_string(), "Error": "Lambda.Unknown",
                                   "Cause": "out of memory"}),
        ];
        let s = summarize(&succeeded, &failed_batch);
        assert_eq!(
            (s.objects, s.converted, s.skipped, s.ignored, s.failed),
            (6, 2, 1, 0, 3)
        );
        assert_eq!((s.batches_succeeded, s.batches_failed), (1, 1));
        assert_eq!(
            s.datasets["orders"],
            DatasetRows {
                objects: 2,
                rows_in: 15,
                rows_out: 14,
                rows_rejected: 1
            }
        );
        assert_eq!(
            s.load,
            Loads {
                batches: 1,
                files_loaded: 2,
                files_skipped: 1,
                rows_loaded: 14
            }
        );
        let keys: Vec<&str> = s.failures.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            ["raw/orders/d.csv", "raw/orders/e.csv", "raw/orders/f.csv"]
        );
        assert_eq!(s.failures[1].error_type, "Lambda.Unknown");
    }

    #[test]
    fn failures_past_the_listed_ones_are_counted() {
        let items: Vec<Value> = (0..MAX_FAILURES_LISTED + 5)
            .map(|i| json!({"Key": format!("raw/d/{i}.csv")}))
            .collect();
        let input = json!({"Items": items}).to_string();
        let s = summarize(&[], &[json!({"Input": input, "Error": "X"})]);
        assert_eq!(
            (s.failed, s.failures.len(), s.failures_not_listed),
            (MAX_FAILURES_LISTED as u64 + 5, MAX_FAILURES_LISTED, 5)
        );
    }
}
