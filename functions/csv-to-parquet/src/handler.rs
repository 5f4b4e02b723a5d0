//! The Lambda handler: reads the event, skips what is not an input or was already converted, streams the
//! object through the converter into multipart uploads, applies the quality gate, and reports a summary that
//! Step Functions can branch on.

use crate::config::Config;
use crate::convert::{ConvertError, Options, Summary, convert, quality_gate};
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
use tributary_shared::correlation;
use tributary_shared::event::{ObjectRef, objects_created};
use tributary_shared::metrics::MetricSet;
use tributary_shared::s3::{
    RESUME_ATTEMPTS, S3Writer, UploadSpec, get_optional, get_stream, head, put, resuming_body,
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
/// The bucket of the source, on curated and quarantine objects (replay reads the declared schema beside it).
const SOURCE_BUCKET_META: &str = "source-bucket";
const MAX_SCHEMA_BYTES: u64 = 1024 * 1024;

pub use crate::outcome::{Outcome, Status};

/// Handles one event. A single object yields its outcome; several yield `{"results": [...]}`. An event
/// `{"replay": "s3://bucket/quarantine/…csv"}` replays a quarantine object instead.
pub async fn handle(event: Value, deps: &Deps) -> Result<Value, Error> {
    // The state machine wraps its event with the execution's id (see tributary_shared::correlation).
    let event = correlation::unwrap(&event);
    if let Some(url) = event.get("replay") {
        let url = url.as_str().ok_or_else(|| {
            Error::Event(tributary_shared::event::EventError::MissingField { field: "replay" })
        })?;
        let outcome = replay(url, deps).await?;
        return serde_json::to_value(&outcome).map_err(|e| Error::Internal(e.to_string()));
    }
    let objects = objects_created(event)?;
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
        correlation_id: correlation::current(),
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

    let schema = declared_schema(deps, &object.bucket, &t.schema_key).await?;
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
    opts.registration = registration(deps, &t.dataset, &out_bucket);
    opts.correlation_id = correlation::current();

    let mut metadata: HashMap<String, String> = [
        (SOURCE_ETAG_META.to_owned(), etag.clone()),
        (SOURCE_KEY_META.to_owned(), object.key.clone()),
        (SOURCE_BUCKET_META.to_owned(), object.bucket.clone()),
    ]
    .into();
    metadata.extend(correlation_meta());
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
    .map_err(|e| Error::Internal(format!("conversion task failed: {e}")))?;
    let summary = match summary {
        Ok(summary) => summary,
        Err(e) => {
            // A failed gate is data too: the dataset's rejection ratio alarm must see it.
            if let Error::QualityGate { source, .. } = &e {
                dataset_metrics(&t_dataset)
                    .value("RowsIn", source.total as f64, "Count")
                    .value("RowsRejected", source.rejected as f64, "Count")
                    .value("QualityGateFailures", 1.0, "Count")
                    .emit();
            }
            return Err(e);
        }
    };

    let mut o = outcome(&object, &out_bucket, Status::Converted, started);
    o.source_etag = Some(etag);
    o.output_key = Some(summary.output_key);
    o.quarantine_key = summary.quarantine_key;
    o.record(summary.summary, &t_dataset);
    tracing::info!(
        bucket = %o.bucket, key = %o.source_key, output = ?o.output_key, rows_in = o.rows_in, rows_out = o.rows_out,
        rows_rejected = o.rows_rejected, bytes_in = o.bytes_in, bytes_out = o.bytes_out, duration_ms = o.duration_ms,
        "converted object"
    );
    dataset_metrics(&t_dataset)
        .value("FilesConverted", 1.0, "Count")
        .value("RowsIn", o.rows_in as f64, "Count")
        .value("RowsOut", o.rows_out as f64, "Count")
        .value("RowsRejected", o.rows_rejected as f64, "Count")
        .value("BytesIn", o.bytes_in as f64, "Bytes")
        .value("DurationMs", o.duration_ms as f64, "Milliseconds")
        .emit();
    Ok(o)
}

/// The invocation's correlation id as S3 user metadata, on every object it writes.
fn correlation_meta() -> Option<(String, String)> {
    correlation::current().map(|id| (correlation::META.to_owned(), id))
}

/// Metrics per dataset (what the data alarms watch: rejection ratio, freshness, volume), and per function.
fn dataset_metrics(dataset: &str) -> MetricSet {
    MetricSet::new("Tributary")
        .dimension("Function", "csv-to-parquet")
        .dimension("Dataset", dataset)
        .rollup(&["Function"])
}

/// The dataset's schema registry for `dataset`, when `GLUE_DATABASE` is set.
fn registration(deps: &Deps, dataset: &str, out_bucket: &str) -> Option<Registration> {
    let (glue, database) = (deps.glue.as_ref()?, deps.config.glue_database.as_ref()?);
    Some(Registration {
        dataset: dataset.to_owned(),
        store: Arc::new(GlueStore::new(
            glue.clone(),
            database,
            out_bucket,
            &deps.config.prefixes.curated,
            Handle::current(),
        )),
        policy: deps.config.schema_policy,
    })
}

/// The dataset's declared schema, `schemas/<dataset>.json`, if any.
async fn declared_schema(deps: &Deps, bucket: &str, key: &str) -> Result<Option<Schema>, Error> {
    match get_optional(&deps.s3, bucket, key, MAX_SCHEMA_BYTES).await? {
        Some(bytes) => Ok(Some(Schema::from_json(&bytes).map_err(|source| {
            Error::Schema {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                source,
            }
        })?)),
        None => Ok(None),
    }
}

/// Replays a quarantine object through its dataset's current schema: rows that now fit go to a curated object
/// beside the original's (`<name>.replay.parquet`), rows that still do not to `<name>.replay.csv` under the
/// quarantine prefix, with fresh reasons and their original lines. The curated object records the quarantine
/// object's ETag, so replaying it again changes nothing; the rows still bad are replayed from the new object.
async fn replay(url: &str, deps: &Deps) -> Result<Outcome, Error> {
    let started = Instant::now();
    let config = &deps.config;
    let bad = |reason: &str| {
        Error::Event(tributary_shared::event::EventError::Invalid {
            shape: "replay event",
            reason: format!("{url:?}: {reason}"),
        })
    };
    let (bucket, key) = url
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(|| bad("expected s3://bucket/key"))?;
    let rest = key
        .strip_prefix(config.prefixes.quarantine.as_str())
        .and_then(|r| r.strip_suffix(".csv"))
        .ok_or_else(|| bad("expected a .csv object under the quarantine prefix"))?;
    let dataset = rest
        .split_once('/')
        .map(|(d, _)| d)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| bad("expected <quarantine prefix><dataset>/…"))?;
    let out_bucket = config
        .output_bucket
        .clone()
        .unwrap_or_else(|| bucket.to_owned());
    let output_key = format!("{}{rest}.replay.parquet", config.prefixes.curated);
    let still_bad_key = format!("{}{rest}.replay.csv", config.prefixes.quarantine);
    let object = ObjectRef {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        etag: None,
        size: None,
        event_time: None,
    };
    let source = head(&deps.s3, bucket, key).await?.ok_or_else(|| {
        Error::Aws(tributary_shared::aws::AwsError::other(
            "HeadObject",
            url,
            tributary_shared::ErrorKind::NotFound,
            "the quarantine object does not exist",
        ))
    })?;
    let etag = source.etag.clone();
    if let Some(existing) = head(&deps.s3, &out_bucket, &output_key).await?
        && existing.metadata.get(SOURCE_ETAG_META) == Some(&etag)
    {
        let mut o = outcome(&object, &out_bucket, Status::Skipped, started);
        o.source_etag = Some(etag);
        o.output_key = Some(output_key);
        o.bytes_out = existing.size;
        o.reason = Some("this quarantine object was replayed before".into());
        return Ok(o);
    }
    let body = get_optional(&deps.s3, bucket, key, crate::replay::MAX_REPLAY_BYTES)
        .await?
        .ok_or_else(|| {
            Error::Aws(tributary_shared::aws::AwsError::other(
                "GetObject",
                url,
                tributary_shared::ErrorKind::NotFound,
                "the quarantine object was deleted while being replayed",
            ))
        })?;
    let unwrapped = crate::replay::unwrap(body.as_ref()).map_err(|e| Error::Convert {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        source: ConvertError::Read(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.to_string(),
        )),
    })?;
    // The declaration lives beside the raw source, which may be another bucket than the quarantine's.
    let schema_bucket = source
        .metadata
        .get(SOURCE_BUCKET_META)
        .map_or(bucket, String::as_str);
    let schema_key = format!("{}{dataset}.json", config.prefixes.schemas);
    // Lineage names the raw object the rows came from, which the quarantine object records.
    let raw_key = source
        .metadata
        .get(SOURCE_KEY_META)
        .map_or(key, String::as_str);
    let mut opts = Options::new(raw_key, Utc::now());
    opts.schema = declared_schema(deps, schema_bucket, &schema_key).await?;
    opts.registration = registration(deps, dataset, &out_bucket);
    // Without the dataset's schema, the rows would be typed by inference from the rows that failed.
    if opts.schema.is_none() && opts.registration.is_none() {
        return Err(bad(&format!(
            "a replay types rows by the dataset's schema, and {dataset:?} has none here: set GLUE_DATABASE or \
             declare s3://{schema_bucket}/{schema_key}"
        )));
    }
    opts.metadata = vec![("tributary.source_etag".into(), etag.clone())];
    opts.correlation_id = correlation::current();
    let spec = UploadSpec {
        bucket: out_bucket.clone(),
        key: output_key.clone(),
        content_type: "application/vnd.apache.parquet".to_owned(),
        metadata: [
            (SOURCE_ETAG_META.to_owned(), etag.clone()),
            (SOURCE_KEY_META.to_owned(), key.to_owned()),
        ]
        .into_iter()
        .chain(correlation_meta())
        .collect(),
        part_size: config.part_size,
        concurrency: config.upload_concurrency,
    };
    let runtime = Handle::current();
    let mut output = S3Writer::new(deps.s3.clone(), spec, runtime.clone());
    let (bucket_owned, key_owned) = (bucket.to_owned(), key.to_owned());
    let (s3, still_bad_bucket, still_bad_target) =
        (deps.s3.clone(), out_bucket.clone(), still_bad_key.clone());
    let (summary, still_bad) = tokio::task::spawn_blocking(move || {
        let mut still_bad = Vec::new();
        match convert(unwrapped.csv.as_slice(), &mut output, &mut still_bad, &opts) {
            Ok(summary) => {
                let still_bad = unwrapped
                    .restore_lines(&still_bad)
                    .map_err(|e| Error::Internal(format!("restoring quarantine lines: {e}")))?;
                // The rows still bad are stored before the curated object completes: that object is what marks
                // the replay done, so a replay that fails in between runs again rather than losing them.
                if !still_bad.is_empty() {
                    let stored = runtime.block_on(put(
                        &s3,
                        &still_bad_bucket,
                        &still_bad_target,
                        still_bad.clone().into(),
                        "text/csv",
                    ));
                    if let Err(e) = stored {
                        output.abort()?;
                        return Err(Error::Aws(e));
                    }
                }
                output.finish()?;
                Ok((summary, still_bad))
            }
            Err(source) => {
                output.abort()?;
                Err(Error::Convert {
                    bucket: bucket_owned,
                    key: key_owned,
                    source,
                })
            }
        }
    })
    .await
    .map_err(|e| Error::Internal(format!("replay task failed: {e}")))??;
    let mut o = outcome(&object, &out_bucket, Status::Converted, started);
    if !still_bad.is_empty() {
        o.quarantine_key = Some(still_bad_key);
    }
    o.source_etag = Some(etag);
    o.output_key = Some(output_key);
    o.record(summary, dataset);
    // What was read: the quarantine object, not the CSV it unwrapped to.
    o.bytes_in = body.len() as u64;
    tracing::info!(source = url, output = ?o.output_key, rows_out = o.rows_out, rows_rejected = o.rows_rejected, "replayed quarantined rows");
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
