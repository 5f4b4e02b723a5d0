//! The response for one object, the contract with whatever reads it: the state machine's quality gate and
//! the redshift-loader, which takes it as a load task (its tests deserialize what this serializes). Outside
//! the `lambda` feature so that consumers can build it without the Lambda handler.

use serde::Serialize;

/// Where a conversion's time went. The object streams from S3 through the converter (reading, typing and
/// encoding run at once, on their own threads) into the uploads, so the steps overlap:
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Steps {
    /// The time the reading stage waited on S3 (within `convert_ms`).
    pub s3_read_ms: u64,
    /// The conversion, first byte read to last row written.
    pub convert_ms: u64,
    /// The time the writing stage waited on S3 (parts in flight; within `convert_ms`), then completing the uploads.
    pub s3_upload_ms: u64,
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Converted,
    /// The output already holds this exact source version.
    Skipped,
    /// The key is not an input (outside `raw/`, not CSV).
    Ignored,
}

/// The response for one object; Step Functions reads `rows_rejected`, `output_key` and `status`.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub status: Status,
    pub bucket: String,
    pub source_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub rows_in: u64,
    pub rows_out: u64,
    pub rows_rejected: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub output_bucket: String,
    pub output_key: Option<String>,
    pub quarantine_key: Option<String>,
    pub duration_ms: u64,
    /// A conversion's time, step by step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Steps>,
    /// The invocation's correlation id; the loader records it in its ledger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_source: Option<crate::convert::SchemaSource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<crate::schema::Column>,
    /// The dataset and its schema version the file was typed by, when the registry is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
    /// This conversion registered that version.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub schema_registered: bool,
}

impl Outcome {
    /// An outcome with nothing counted yet and no output.
    pub fn new(
        status: Status,
        bucket: &str,
        source_key: &str,
        source_etag: Option<String>,
        output_bucket: &str,
    ) -> Self {
        Self {
            status,
            bucket: bucket.to_owned(),
            source_key: source_key.to_owned(),
            source_etag,
            reason: None,
            rows_in: 0,
            rows_out: 0,
            rows_rejected: 0,
            bytes_in: 0,
            bytes_out: 0,
            output_bucket: output_bucket.to_owned(),
            output_key: None,
            quarantine_key: None,
            duration_ms: 0,
            steps: None,
            correlation_id: None,
            schema_source: None,
            columns: Vec::new(),
            dataset: None,
            schema_version: None,
            schema_registered: false,
        }
    }

    /// Takes a finished conversion's counts, schema and, with the registry on, the dataset's version.
    pub fn record(&mut self, summary: crate::convert::Summary, dataset: &str) {
        self.rows_in = summary.rows_in;
        self.rows_out = summary.rows_out;
        self.rows_rejected = summary.rows_rejected;
        self.bytes_in = summary.bytes_in;
        self.bytes_out = summary.bytes_out;
        self.schema_source = Some(summary.schema_source);
        self.columns = summary.columns;
        if let Some(version) = summary.schema_version {
            self.dataset = Some(dataset.to_owned());
            self.schema_version = Some(version);
            self.schema_registered = summary.schema_registered;
        }
    }
}
