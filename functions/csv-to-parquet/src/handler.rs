//! The Lambda handler: reads the event, skips what is not an input or was already converted, streams the
//! object through the converter into multipart uploads, applies the quality gate, and reports a summary that
//! Step Functions can branch on.

use crate::backfill;
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
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::io::AsyncRead;
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;
use tributary_shared::Classify;
use tributary_shared::correlation;
use tributary_shared::event::{ObjectRef, objects_created};
use tributary_shared::metrics::MetricSet;
use tributary_shared::s3;
use tributary_shared::s3::{
    RESUME_ATTEMPTS, Replace, S3Writer, UploadSpec, get_optional, head, put, resuming_body,
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
/// The bucket of the source, on curated and quarantine objects (lineage).
const SOURCE_BUCKET_META: &str = "source-bucket";
const MAX_SCHEMA_BYTES: u64 = 1024 * 1024;

pub use crate::outcome::{Outcome, Status, Steps};

/// Handles one event. A single object yields its outcome; several yield `{"results": [...]}`. An event
/// `{"replay": "s3://bucket/quarantine/…csv"}` replays a quarantine object instead.
pub async fn handle(event: Value, deps: &Deps) -> Result<Value, Error> {
    // The state machine wraps its event with the execution's id (see tributary_shared::correlation).
    let event = correlation::unwrap(&event);
    if let Some(details) = event.get("backfill_report") {
        return backfill_report(details, deps).await;
    }
    if event.get("Items").is_some() && event.get("BatchInput").is_some() {
        return backfill_batch(event, deps).await;
    }
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

/// One batch of a backfill's Distributed Map: each object converted (or replayed) as its own event would be. An
/// object that fails for a reason a retry will not fix is reported and the batch goes on; a passing failure (S3
/// throttling, a lost race) fails the batch, whose retry skips what it already converted.
async fn backfill_batch(event: &Value, deps: &Deps) -> Result<Value, Error> {
    let batch: backfill::Batch = serde_json::from_value(event.clone()).map_err(|e| {
        Error::Event(tributary_shared::event::EventError::Invalid {
            shape: "backfill batch",
            reason: e.to_string(),
        })
    })?;
    let bucket = &batch.input.bucket;
    // One load per batch, into its dataset's table: a batch of several datasets would load them into one.
    let mut datasets: Vec<&str> = batch
        .items
        .iter()
        .filter_map(backfill::Item::dataset)
        .collect();
    datasets.sort_unstable();
    datasets.dedup();
    if datasets.len() > 1 {
        return Err(Error::Event(tributary_shared::event::EventError::Invalid {
            shape: "backfill batch",
            reason: format!(
                "its objects belong to several datasets ({}): backfill one dataset's prefix at a time",
                datasets.join(", ")
            ),
        }));
    }
    let mut results = Vec::with_capacity(batch.items.len());
    for item in &batch.items {
        if item.archived() {
            let reason = format!(
                "the object is in {} and cannot be read until it is restored (RestoreObject), then backfilled again",
                item.storage_class.as_deref().unwrap_or("an archive class")
            );
            results.push(backfill::failed(bucket, &item.key, "InvalidInput", &reason));
            continue;
        }
        let answer = match batch.input.mode {
            backfill::Mode::Convert => {
                let object = ObjectRef {
                    bucket: bucket.clone(),
                    key: item.key.clone(),
                    etag: item.etag(),
                    size: item.size,
                    event_time: item.written(),
                };
                process(object, deps).await
            }
            backfill::Mode::Replay => replay(&format!("s3://{bucket}/{}", item.key), deps).await,
        };
        match answer {
            Ok(outcome) => results.push(backfill::compact(
                &serde_json::to_value(&outcome).map_err(|e| Error::Internal(e.to_string()))?,
            )),
            Err(e) if e.kind().retryable() => return Err(e),
            Err(e) => {
                let message = tributary_shared::error::chain(&e);
                tracing::warn!(bucket = %bucket, key = %item.key, error_type = e.error_type(), error = %message, "backfill object failed");
                results.push(backfill::failed(
                    bucket,
                    &item.key,
                    e.error_type(),
                    &message,
                ));
            }
        }
    }
    let files = backfill::files(&results);
    Ok(serde_json::json!({ "results": results, "files": files }))
}

/// The largest ResultWriter file a backfill summary reads.
const MAX_RESULT_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The summary of a whole backfill, from the Distributed Map's ResultWriter (`{"Bucket", "Key"}` of its
/// manifest), stored beside the manifest as `summary.json`.
async fn backfill_report(details: &Value, deps: &Deps) -> Result<Value, Error> {
    let bad = |reason: &str| {
        Error::Event(tributary_shared::event::EventError::Invalid {
            shape: "backfill report",
            reason: reason.to_owned(),
        })
    };
    let (Some(bucket), Some(key)) = (details["Bucket"].as_str(), details["Key"].as_str()) else {
        return Err(bad(
            "expected {\"Bucket\", \"Key\"} of the map's ResultWriter manifest",
        ));
    };
    let read = async |bucket: &str, key: &str| -> Result<Value, Error> {
        let body = get_optional(&deps.s3, bucket, key, MAX_RESULT_FILE_BYTES)
            .await?
            .ok_or_else(|| bad(&format!("s3://{bucket}/{key} does not exist")))?;
        serde_json::from_slice(&body).map_err(|e| bad(&format!("s3://{bucket}/{key}: {e}")))
    };
    let manifest = read(bucket, key).await?;
    let results_bucket = manifest["DestinationBucket"].as_str().unwrap_or(bucket);
    let mut entries = [Vec::new(), Vec::new()];
    for (status, list) in ["SUCCEEDED", "FAILED"].iter().zip(entries.iter_mut()) {
        for file in manifest["ResultFiles"][status]
            .as_array()
            .into_iter()
            .flatten()
        {
            let file_key = file["Key"]
                .as_str()
                .ok_or_else(|| bad("a result file has no Key"))?;
            if let Value::Array(found) = read(results_bucket, file_key).await? {
                list.extend(found);
            }
        }
    }
    let summary = backfill::summarize(&entries[0], &entries[1]);
    let mut answer = serde_json::to_value(&summary).map_err(|e| Error::Internal(e.to_string()))?;
    let folder = key.rsplit_once('/').map_or("", |(folder, _)| folder);
    let summary_key = format!("{folder}/summary.json");
    answer["results"] = Value::String(format!("s3://{bucket}/{key}"));
    answer["summary"] = Value::String(format!("s3://{bucket}/{summary_key}"));
    let body = serde_json::to_vec_pretty(&answer).map_err(|e| Error::Internal(e.to_string()))?;
    put(
        &deps.s3,
        bucket,
        &summary_key,
        body.into(),
        "application/json",
    )
    .await?;
    tracing::info!(
        objects = summary.objects, converted = summary.converted, skipped = summary.skipped,
        failed = summary.failed, summary = %answer["summary"], "backfill summarized"
    );
    Ok(answer)
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
    // Whether the key is an input at all, and its dataset's schema key, do not depend on the date.
    let schema_key = match targets(&object.key, &config.prefixes, Utc::now().date_naive()) {
        Ok(t) => t.schema_key,
        Err(reason) => {
            tracing::info!(bucket = %object.bucket, key = %object.key, %reason, "ignoring object");
            let mut o = outcome(&object, &out_bucket, Status::Ignored, started);
            o.reason = Some(reason.to_string());
            return Ok(o);
        }
    };

    // Declarations are configuration, kept with the outputs (the source may be a locked landing bucket).
    let schema = declared_schema(deps, &out_bucket, &schema_key).await?;
    // A large object is read as parallel ranged GETs; the first answers the object's identity.
    let opened = s3::open(&deps.s3, &object.bucket, &object.key, config.read).await?;
    let source = opened.object;
    // The version read is the one converted, whatever version the event named.
    let etag = source
        .etag
        .clone()
        .or_else(|| object.etag.clone())
        .unwrap_or_default();
    // The curated key's date is the source version's own (its Last-Modified), so every path to one version (its
    // event, a redelivery, a backfill, a task payload) names the same output, and all but the first are skipped.
    let date = source
        .last_modified
        .or(object.event_time)
        .unwrap_or_else(Utc::now)
        .date_naive();
    let t = targets(&object.key, &config.prefixes, date)
        .map_err(|reason| Error::Internal(reason.to_string()))?;

    // Already converted from this exact version? What is there otherwise is what the upload may replace: a
    // concurrent conversion of the same version (a redelivery, a backfill beside the live event) then finds the key
    // taken, and only one curated object is ever loaded.
    let mut replace = Replace::Any;
    if !etag.is_empty() {
        match existing_output(deps, &out_bucket, &t, &etag).await? {
            Existing::Converted(bytes) => {
                tracing::info!(bucket = %object.bucket, key = %object.key, output = %t.output_key, "source version already converted; skipping");
                return Ok(skipped(
                    &object,
                    &out_bucket,
                    t.output_key,
                    bytes,
                    Some(etag),
                    started,
                ));
            }
            Existing::Other(current) => replace = Replace::Version(current),
            Existing::Nothing => replace = Replace::Nothing,
        }
    }

    let mut opts = Options::new(&object.key, Utc::now());
    opts.schema = schema;
    opts.batch_rows = config.batch_rows;
    opts.row_group_bytes = config.row_group_bytes;
    opts.compression = config.compression;
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
    let spec = |key: &str, content_type: &str, replace: Replace| UploadSpec {
        bucket: out_bucket.clone(),
        key: key.to_owned(),
        content_type: content_type.to_owned(),
        metadata: metadata.clone(),
        part_size: config.part_size,
        concurrency: config.upload_concurrency,
        replace,
    };
    let runtime = Handle::current();
    let output = S3Writer::new(
        deps.s3.clone(),
        spec(&t.output_key, "application/vnd.apache.parquet", replace),
        runtime.clone(),
    );
    let quarantine = S3Writer::new(
        deps.s3.clone(),
        spec(&t.quarantine_key, "text/csv", Replace::Any),
        runtime,
    );
    // A connection cut mid-file resumes from the byte it stopped at, so one dropped stream does not cost the
    // whole conversion.
    let body: Pin<Box<dyn AsyncRead + Send>> = if opened.partial {
        Box::pin(s3::ranged_body(
            deps.s3.clone(),
            &object.bucket,
            &object.key,
            source,
            config.read,
            RESUME_ATTEMPTS,
        ))
    } else {
        Box::pin(resuming_body(
            deps.s3.clone(),
            &object.bucket,
            &object.key,
            source,
            RESUME_ATTEMPTS,
        ))
    };
    let body = SyncIoBridge::new(body);
    let max_reject_ratio = config.max_reject_ratio;
    let t_dataset = t.dataset.clone();
    let output_key = t.output_key.clone();
    let output_target = t.clone();
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
        // Another conversion of this version wrote the curated object first: this one is a redelivery.
        Err(Error::Aws(e)) if e.kind == tributary_shared::ErrorKind::Conflict => {
            if let Existing::Converted(bytes) =
                existing_output(deps, &out_bucket, &output_target, &etag).await?
            {
                tracing::info!(output = %output_key, "a concurrent conversion of this source version wrote the output first; skipping");
                return Ok(skipped(
                    &object,
                    &out_bucket,
                    output_key,
                    bytes,
                    Some(etag),
                    started,
                ));
            }
            return Err(Error::Aws(e));
        }
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
    o.steps = Some(summary.steps);
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
        .value("S3ReadMs", summary.steps.s3_read_ms as f64, "Milliseconds")
        .value("ConvertMs", summary.steps.convert_ms as f64, "Milliseconds")
        .value(
            "S3UploadMs",
            summary.steps.s3_upload_ms as f64,
            "Milliseconds",
        )
        .value(
            "SchemaVersionsRegistered",
            if o.schema_registered { 1.0 } else { 0.0 },
            "Count",
        )
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
    // The declaration is kept with the outputs, as for a first conversion.
    let schema_bucket = out_bucket.as_str();
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
    opts.compression = config.compression;
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
        // A replay already done is found by its HEAD above; two replays of one quarantine object at once write
        // the same rows.
        replace: Replace::Any,
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
/// What is at a conversion's output key, for the source version `etag`.
enum Existing {
    Nothing,
    /// The output of this source version, of this many bytes.
    Converted(u64),
    /// Another version's output, with its own ETag (the upload replaces only that one).
    Other(String),
}

async fn existing_output(
    deps: &Deps,
    bucket: &str,
    t: &Targets,
    etag: &str,
) -> Result<Existing, Error> {
    Ok(match head(&deps.s3, bucket, &t.output_key).await? {
        None => Existing::Nothing,
        Some(h) if h.metadata.get(SOURCE_ETAG_META).map(String::as_str) == Some(etag) => {
            Existing::Converted(h.size)
        }
        Some(h) => Existing::Other(h.etag),
    })
}

/// The outcome of a source version whose output is already there.
fn skipped(
    object: &ObjectRef,
    out_bucket: &str,
    output_key: String,
    bytes: u64,
    source_etag: Option<String>,
    started: Instant,
) -> Outcome {
    let mut o = outcome(object, out_bucket, Status::Skipped, started);
    o.source_etag = source_etag;
    o.output_key = Some(output_key);
    o.bytes_out = bytes;
    o.reason = Some("output already holds this source ETag".into());
    o
}

struct Finished {
    summary: Summary,
    output_key: String,
    quarantine_key: Option<String>,
    steps: Steps,
}

/// A reader or writer that adds the time spent in its calls to `spent` (nanoseconds).
struct Timed<T> {
    inner: T,
    spent: Arc<AtomicU64>,
}

impl<T> Timed<T> {
    fn new(inner: T, spent: &Arc<AtomicU64>) -> Self {
        Self {
            inner,
            spent: Arc::clone(spent),
        }
    }

    fn time<V>(&mut self, call: impl FnOnce(&mut T) -> V) -> V {
        let started = Instant::now();
        let value = call(&mut self.inner);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.spent.fetch_add(nanos, Ordering::Relaxed);
        value
    }
}

impl<R: std::io::Read> std::io::Read for Timed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.time(|r| r.read(buf))
    }
}

impl<W: std::io::Write> std::io::Write for Timed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.time(|w| w.write(buf))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.time(std::io::Write::flush)
    }
}

fn millis(nanos: u64) -> u64 {
    nanos / 1_000_000
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
    let (read, upload) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let converted = {
        let mut out = Timed::new(&mut output, &upload);
        let mut bad = Timed::new(&mut quarantine, &upload);
        convert(Timed::new(body, &read), &mut out, &mut bad, opts)
    };
    let converting = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let summary = match converted {
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
    let finishing = Instant::now();
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
    let quarantined = finishing.elapsed();
    let finishing = Instant::now();
    output.finish()?;
    let (read, upload) = (read.load(Ordering::Relaxed), upload.load(Ordering::Relaxed));
    let steps = Steps {
        s3_read_ms: millis(read),
        convert_ms: millis(converting),
        s3_upload_ms: millis(upload)
            + elapsed_ms(finishing)
            + millis(u64::try_from(quarantined.as_nanos()).unwrap_or(0)),
    };
    Ok(Finished {
        summary,
        output_key: t.output_key.clone(),
        quarantine_key,
        steps,
    })
}
