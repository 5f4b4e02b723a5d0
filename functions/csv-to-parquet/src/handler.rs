//! The Lambda handler: reads the event, skips what is not an input or was already converted, streams the
//! object through the converter into multipart uploads, applies the quality gate, and reports a summary that
//! Step Functions can branch on.

use crate::config::Config;
use crate::convert::{Options, Summary, convert, quality_gate};
use crate::error::Error;
use crate::layout::{Targets, targets};
use crate::registry::Registration;
use crate::registry::glue::GlueStore;
use crate::schema::Schema;
use chrono::Utc;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;
use tributary_shared::event::{ObjectRef, objects_created};
use tributary_shared::metrics::MetricSet;
use tributary_shared::s3::{
    RESUME_ATTEMPTS, S3Writer, UploadSpec, get_optional, get_stream, head, resuming_body,
};

/// Everything the handler needs, built once per cold start.
#[derive(Debug)]
pub struct Deps {
    pub s3: aws_sdk_s3::Client,
    /// The Glue client of the schema registry, when `GLUE_DATABASE` is set.
    pub glue: Option<aws_sdk_glue::Client>,
    pub config: Config,
}

/// User metadata on the Parquet object naming the exact source version it was made from.
pub const SOURCE_ETAG_META: &str = "source-etag";
const SOURCE_KEY_META: &str = "source-key";
const MAX_SCHEMA_BYTES: u64 = 1024 * 1024;

pub use crate::outcome::{Outcome, Status};

/// Handles one event. A single object yields its outcome; several yield `{"results": [...]}`.
pub async fn handle(event: Value, deps: &Deps) -> Result<Value, Error> {
    let objects = objects_created(&event)?;
    let mut outcomes = Vec::with_capacity(objects.len());
    for object in objects {
        outcomes.push(process(object, deps).await?);
    }
    let json = |o: &Outcome| serde_json::to_value(o).map_err(|e| Error::Internal(e.to_string()));
    match outcomes.as_slice() {
        [one] => json(one),
        many => Ok(
            serde_json::json!({ "results": many.iter().map(json).collect::<Result<Vec<_>, _>>()? }),
        ),
    }
}

fn outcome(object: &ObjectRef, output_bucket: &str, status: Status, started: Instant) -> Outcome {
    Outcome {
        duration_ms: elapsed_ms(started),
        ..Outcome::new(
            status,
            &object.bucket,
            &object.key,
            object.etag.clone(),
            output_bucket,
        )
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

async fn process(object: ObjectRef, deps: &Deps) -> Result<Outcome, Error> {
    let started = Instant::now();
    let config = &deps.config;
    let out_bucket = config
        .output_bucket
        .clone()
        .unwrap_or_else(|| object.bucket.clone());
    let date = object.event_time.unwrap_or_else(Utc::now).date_naive();
    let t = match targets(&object.key, &config.prefixes, date) {
        Ok(t) => t,
        Err(reason) => {
            tracing::info!(bucket = %object.bucket, key = %object.key, %reason, "ignoring object");
            let mut o = outcome(&object, &out_bucket, Status::Ignored, started);
            o.reason = Some(reason.to_string());
            return Ok(o);
        }
    };

    // Already converted from this exact version? Then a redelivery costs one HEAD.
    if let Some(etag) = &object.etag
        && let Some(existing) = already_converted(deps, &out_bucket, &t, etag).await?
    {
        tracing::info!(bucket = %object.bucket, key = %object.key, output = %t.output_key, "source version already converted; skipping");
        let mut o = outcome(&object, &out_bucket, Status::Skipped, started);
        o.output_key = Some(t.output_key);
        o.bytes_out = existing;
        o.reason = Some("output already holds this source ETag".into());
        return Ok(o);
    }

    let schema =
        match get_optional(&deps.s3, &object.bucket, &t.schema_key, MAX_SCHEMA_BYTES).await? {
            Some(bytes) => Some(Schema::from_json(&bytes).map_err(|source| Error::Schema {
                bucket: object.bucket.clone(),
                key: t.schema_key.clone(),
                source,
            })?),
            None => None,
        };
    let source = get_stream(&deps.s3, &object.bucket, &object.key).await?;
    let etag = source
        .etag
        .clone()
        .or_else(|| object.etag.clone())
        .unwrap_or_default();
    // A task payload carries no ETag; check now that the object told us its version.
    if object.etag.is_none()
        && !etag.is_empty()
        && let Some(existing) = already_converted(deps, &out_bucket, &t, &etag).await?
    {
        let mut o = outcome(&object, &out_bucket, Status::Skipped, started);
        o.source_etag = Some(etag);
        o.output_key = Some(t.output_key);
        o.bytes_out = existing;
        o.reason = Some("output already holds this source ETag".into());
        return Ok(o);
    }

    let mut opts = Options::new(&object.key, Utc::now());
    opts.schema = schema;
    opts.batch_rows = config.batch_rows;
    opts.row_group_bytes = config.row_group_bytes;
    opts.sample_rows = config.sample_rows;
    opts.metadata = vec![("tributary.source_etag".into(), etag.clone())];
    if let (Some(glue), Some(database)) = (&deps.glue, &config.glue_database) {
        opts.registration = Some(Registration {
            dataset: t.dataset.clone(),
            store: Arc::new(GlueStore::new(
                glue.clone(),
                database,
                &out_bucket,
                &config.prefixes.curated,
                Handle::current(),
            )),
            policy: config.schema_policy,
        });
    }

    let metadata: HashMap<String, String> = [
        (SOURCE_ETAG_META.to_owned(), etag.clone()),
        (SOURCE_KEY_META.to_owned(), object.key.clone()),
    ]
    .into();
    let spec = |key: &str, content_type: &str| UploadSpec {
        bucket: out_bucket.clone(),
        key: key.to_owned(),
        content_type: content_type.to_owned(),
        metadata: metadata.clone(),
        part_size: config.part_size,
        concurrency: config.upload_concurrency,
    };
    let runtime = Handle::current();
    let output = S3Writer::new(
        deps.s3.clone(),
        spec(&t.output_key, "application/vnd.apache.parquet"),
        runtime.clone(),
    );
    let quarantine = S3Writer::new(
        deps.s3.clone(),
        spec(&t.quarantine_key, "text/csv"),
        runtime,
    );
    // A connection cut mid-file resumes from the byte it stopped at, so one dropped stream does not cost the
    // whole conversion.
    let body = SyncIoBridge::new(resuming_body(
        deps.s3.clone(),
        &object.bucket,
        &object.key,
        source,
        RESUME_ATTEMPTS,
    ));
    let max_reject_ratio = config.max_reject_ratio;
    let t_dataset = t.dataset.clone();
    let (bucket, key) = (object.bucket.clone(), object.key.clone());

    let summary = tokio::task::spawn_blocking(move || {
        run_blocking(
            body,
            output,
            quarantine,
            &opts,
            max_reject_ratio,
            &bucket,
            &key,
            &t,
        )
    })
    .await
    .map_err(|e| Error::Internal(format!("conversion task failed: {e}")))??;

    let mut o = outcome(&object, &out_bucket, Status::Converted, started);
    o.source_etag = Some(etag);
    o.rows_in = summary.summary.rows_in;
    o.rows_out = summary.summary.rows_out;
    o.rows_rejected = summary.summary.rows_rejected;
    o.bytes_in = summary.summary.bytes_in;
    o.bytes_out = summary.summary.bytes_out;
    o.output_key = Some(summary.output_key);
    o.quarantine_key = summary.quarantine_key;
    o.schema_source = Some(summary.summary.schema_source);
    o.columns = summary.summary.columns;
    if let Some(version) = summary.summary.schema_version {
        o.dataset = Some(t_dataset);
        o.schema_version = Some(version);
    }
    tracing::info!(
        bucket = %o.bucket, key = %o.source_key, output = ?o.output_key, rows_in = o.rows_in, rows_out = o.rows_out,
        rows_rejected = o.rows_rejected, bytes_in = o.bytes_in, bytes_out = o.bytes_out, duration_ms = o.duration_ms,
        "converted object"
    );
    MetricSet::new("Tributary")
        .dimension("Function", "csv-to-parquet")
        .value("RowsIn", o.rows_in as f64, "Count")
        .value("RowsRejected", o.rows_rejected as f64, "Count")
        .value("BytesIn", o.bytes_in as f64, "Bytes")
        .value("DurationMs", o.duration_ms as f64, "Milliseconds")
        .emit();
    Ok(o)
}

/// The size of the existing output when it was made from `etag`.
async fn already_converted(
    deps: &Deps,
    bucket: &str,
    t: &Targets,
    etag: &str,
) -> Result<Option<u64>, Error> {
    let existing = head(&deps.s3, bucket, &t.output_key).await?;
    Ok(existing
        .filter(|h| h.metadata.get(SOURCE_ETAG_META).map(String::as_str) == Some(etag))
        .map(|h| h.size))
}

struct Finished {
    summary: Summary,
    output_key: String,
    quarantine_key: Option<String>,
}

/// Runs on a blocking thread: the converter and the uploads' completion both block.
#[allow(clippy::too_many_arguments)]
fn run_blocking(
    body: SyncIoBridge<impl tokio::io::AsyncRead + Unpin>,
    mut output: S3Writer,
    mut quarantine: S3Writer,
    opts: &Options,
    max_reject_ratio: f64,
    bucket: &str,
    key: &str,
    t: &Targets,
) -> Result<Finished, Error> {
    let summary = match convert(body, &mut output, &mut quarantine, opts) {
        Ok(summary) => summary,
        Err(source) => {
            // An upload that failed first is the real cause; otherwise report the conversion error.
            output.abort()?;
            quarantine.abort()?;
            return Err(Error::Convert {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                source,
            });
        }
    };
    let quarantine_key = if summary.rows_rejected > 0 {
        quarantine.finish()?;
        Some(t.quarantine_key.clone())
    } else {
        quarantine.abort()?;
        None
    };
    if let Err(source) = quality_gate(&summary, max_reject_ratio) {
        output.abort()?;
        tracing::warn!(
            bucket,
            key,
            rejected = summary.rows_rejected,
            total = summary.rows_in,
            "quality gate failed; no curated output written"
        );
        return Err(Error::QualityGate {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            quarantine_key: t.quarantine_key.clone(),
            source: Box::new(source),
        });
    }
    output.finish()?;
    Ok(Finished {
        summary,
        output_key: t.output_key.clone(),
        quarantine_key,
    })
}
