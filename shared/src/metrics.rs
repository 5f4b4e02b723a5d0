//! Metrics as CloudWatch Embedded Metric Format: one JSON line on stdout per record, which Lambda turns into
//! metrics without an API call on the hot path.

use serde_json::{Map, Value, json};
use std::io::Write;

/// One EMF record: a namespace, dimensions and named values. Each value is a metric under every dimension set:
/// all the dimensions, plus each roll-up added (a subset, such as the function alone beside function and dataset).
#[derive(Debug, Clone)]
pub struct MetricSet {
    namespace: String,
    dimensions: Vec<(String, String)>,
    rollups: Vec<Vec<String>>,
    values: Vec<(String, f64, &'static str)>,
}

impl MetricSet {
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            dimensions: Vec::new(),
            rollups: Vec::new(),
            values: Vec::new(),
        }
    }

    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        self.dimensions.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Also publishes every value under just these dimensions (names of dimensions already added), so that a
    /// metric has a per-function total beside its per-dataset series.
    pub fn rollup(mut self, names: &[&str]) -> Self {
        self.rollups
            .push(names.iter().map(|n| (*n).to_owned()).collect());
        self
    }

    /// Adds a value; `unit` is a CloudWatch unit name such as `Count`, `Bytes` or `Milliseconds`.
    /// Several values at once, each `(name, value, unit)`.
    pub fn values<'a>(
        self,
        values: impl IntoIterator<Item = (&'a str, f64, &'static str)>,
    ) -> Self {
        values.into_iter().fold(self, |set, (name, value, unit)| {
            set.value(name, value, unit)
        })
    }

    pub fn value(mut self, name: &str, value: f64, unit: &'static str) -> Self {
        self.values.push((name.to_owned(), value, unit));
        self
    }

    /// The EMF document for `timestamp_ms`.
    pub fn to_json(&self, timestamp_ms: i64) -> Value {
        let mut root = Map::new();
        for (k, v) in &self.dimensions {
            root.insert(k.clone(), Value::String(v.clone()));
        }
        for (k, v, _) in &self.values {
            root.insert(k.clone(), json!(v));
        }
        let all: Vec<&str> = self.dimensions.iter().map(|(k, _)| k.as_str()).collect();
        let dims: Vec<Vec<&str>> = std::iter::once(all)
            .chain(
                self.rollups
                    .iter()
                    .map(|r| r.iter().map(String::as_str).collect()),
            )
            .collect();
        let metrics: Vec<Value> = self
            .values
            .iter()
            .map(|(k, _, unit)| json!({"Name": k, "Unit": unit}))
            .collect();
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{"Namespace": self.namespace, "Dimensions": dims, "Metrics": metrics}],
            }),
        );
        Value::Object(root)
    }

    /// Writes the record to stdout as one line (unless [`off`] was called). Failures to write metrics never fail
    /// the caller.
    pub fn emit(&self) {
        if OFF.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let line = self
            .to_json(chrono::Utc::now().timestamp_millis())
            .to_string();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

static OFF: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// No EMF records from this process: outside Lambda (the CLI running a function's code) they are not metrics, and
/// stdout is the command's own output.
pub fn off() {
    OFF.store(true, std::sync::atomic::Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_names_every_metric_and_dimension() {
        let doc = MetricSet::new("Tributary")
            .dimension("Function", "csv-to-parquet")
            .value("RowsIn", 3.0, "Count")
            .to_json(1);
        assert_eq!(doc["Function"], "csv-to-parquet");
        assert_eq!(doc["RowsIn"], 3.0);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "Function"
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Count"
        );
    }

    #[test]
    fn a_rollup_is_a_second_dimension_set_of_the_same_values() {
        let doc = MetricSet::new("Tributary")
            .dimension("Function", "csv-to-parquet")
            .dimension("Dataset", "orders")
            .rollup(&["Function"])
            .value("RowsOut", 3.0, "Count")
            .to_json(1);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "Dataset"], ["Function"]])
        );
        assert_eq!(
            (&doc["Dataset"], &doc["RowsOut"]),
            (&json!("orders"), &json!(3.0))
        );
    }
}
