//! The Lambda handler: plan the batch, write events and dead letters to S3 and the newest event per entity to
//! DynamoDB, and report every record that was not stored in `batchItemFailures`.

use crate::batch::{
    BatchResponse, Input, Plan, Source, dead_letter, earlier_objects, entity_writes, events_of,
    objects, read_event, read_event_text, record_outcomes, redelivered, response, stored_earlier,
};
use crate::config::Config;
use crate::error::Error;
use crate::sink::{Claim, claim, write_latest};
use bytes::Bytes;
use chrono::Utc;
use futures_util::{StreamExt, stream};
use serde_json::Value;
use std::collections::HashMap;
use tributary_shared::aws::AwsError;
use tributary_shared::metrics::MetricSet;
use tributary_shared::s3;

/// Everything the handler needs, built once per cold start.
#[derive(Debug)]
pub struct Deps {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// For a redrive: the stream the failed records are read back from, and the on-failure queue.
    pub kinesis: aws_sdk_kinesis::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub config: Config,
}

/// Objects written to S3 at once.
const PUT_CONCURRENCY: usize = 8;

/// Puts every `(key, body, content type)`, a few at a time; one result per object, in order.
async fn put_all(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    objects: Vec<(String, Bytes, &'static str)>,
) -> Vec<Result<(), AwsError>> {
    stream::iter(objects)
        .map(|(key, body, content_type)| async move {
            s3::put(client, bucket, &key, body, content_type).await
        })
        .buffered(PUT_CONCURRENCY)
        .collect()
        .await
}

/// Handles one Kinesis or SQS batch, answering with the partial-batch response; or, given `{"redrive": {...}}`,
/// redrives the stream's on-failure queue (see [`crate::redrive`]) and answers with its report.
///
/// The event comes as its text. A batch is read from it in one pass ([`read_event_text`]) rather than built
/// into a `Value` first, which took 28 ms of a 10 MB batch's CPU before any record was read. An event that is
/// not a `{"Records": [...]}` batch, or whose text holds `"redrive"` anywhere, is read as a `Value`, where a
/// `redrive` member makes it a redrive request as before.
pub async fn handle(event: &str, deps: &Deps) -> Result<Value, Error> {
    let batch = match memchr::memmem::find(event.as_bytes(), b"\"redrive\"") {
        None => read_event_text(event),
        Some(_) => None,
    };
    let (source, inputs) = match batch {
        Some(read) => read?,
        None => {
            let event: Value = serde_json::from_str(event)
                .map_err(|e| Error::BadRequest(format!("the event cannot be read as JSON: {e}")))?;
            if let Some(request) = event.get("redrive") {
                let report = crate::redrive::run(request, deps).await?;
                return serde_json::to_value(report).map_err(|e| Error::Internal(e.to_string()));
            }
            read_event(&event)?
        }
    };
    let response = process(source, inputs, Delivery::Live, deps).await?;
    serde_json::to_value(response).map_err(|e| Error::Internal(e.to_string()))
}

/// How the records came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// From the event source mapping: a redelivery is the mapping's retry of the same batch.
    Live,
    /// Fetched back from the stream by a redrive: the mapping's last attempt may have stored the first records
    /// (see [`crate::batch::earlier_objects`]); those are not stored again.
    Redrive,
}

/// Stores one batch of records: events and dead letters to S3, the newest event per entity to DynamoDB.
pub async fn process(
    source: Source,
    inputs: Vec<Input>,
    delivery: Delivery,
    deps: &Deps,
) -> Result<BatchResponse, Error> {
    let started = std::time::Instant::now();
    let c = &deps.config;
    if inputs.is_empty() {
        return Ok(BatchResponse::Kinesis(Default::default()));
    }
    let now = Utc::now();
    let mut plan = Plan::new(source, inputs, now, c.max_record_bytes);
    let mut errors: Vec<AwsError> = Vec::new();

    // The dedup window: an event whose id another record claimed within the window is dropped. An event whose
    // claim could not be made is not stored now; its record comes again.
    let mut claim_failed = vec![false; plan.events.len()];
    if let Some(dedup) = &c.dedup {
        let claims: Vec<(&str, String)> = plan
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.event_id.as_str(), plan.origin(i)))
            .collect();
        let answers = claim(
            &deps.dynamodb,
            &dedup.table,
            &claims,
            now.timestamp(),
            dedup.window_secs,
            c.write_concurrency,
            c.write_attempts,
        )
        .await;
        let mut seen = vec![false; answers.len()];
        for (i, answer) in answers.into_iter().enumerate() {
            match answer {
                Ok(Claim::Mine) => {}
                Ok(Claim::Seen) => seen[i] = true,
                Err(e) => {
                    tracing::warn!(event_id = %plan.events[i].event_id, error = %e, "dedup claim not made");
                    claim_failed[i] = true;
                    errors.push(e);
                }
            }
        }
        claim_failed = claim_failed
            .into_iter()
            .zip(&seen)
            .filter(|(_, dropped)| !**dropped)
            .map(|(failed, _)| failed)
            .collect();
        plan.drop_seen(&seen);
    }

    // Poison records first, each to its own dead-letter object (its key is the record's, so a redelivery
    // rewrites the same one): whether each one is done decides which records come again, below.
    let poison: Vec<(usize, String, Value)> = plan
        .poisoned()
        .map(|(i, p)| {
            let (key, doc) = dead_letter(&plan, i, p, &c.dead_letter_prefix);
            (i, key, doc)
        })
        .collect();
    let letters = poison
        .iter()
        .map(|(_, key, doc)| {
            (
                key.clone(),
                Bytes::from(doc.to_string()),
                "application/json",
            )
        })
        .collect();
    let mut poison_ok = HashMap::new();
    for ((i, key, doc), result) in poison
        .iter()
        .zip(put_all(&deps.s3, &c.bucket, letters).await)
    {
        tracing::warn!(key = %key, reason = %doc["reason"], "poison record dead-lettered");
        if let Err(e) = &result {
            tracing::warn!(key = %key, error = %e, "dead letter not written");
        }
        poison_ok.insert(*i, result.is_ok());
        if let Err(e) = result {
            errors.push(e);
        }
    }

    let mut event_ok: Vec<bool> = claim_failed.iter().map(|failed| !failed).collect();

    // Latest state first, the newest event per entity: conditional writes, so a redelivery repeats them
    // harmlessly. An entity whose newest event could not be claimed waits, with every event it covers, for that
    // record's redelivery: the claim may yet say another record's copy is the one to keep.
    let (writes, unclaimed): (Vec<_>, Vec<_>) = entity_writes(&plan, &c.entity_key)
        .into_iter()
        .partition(|w| !claim_failed[w.event]);
    for write in &unclaimed {
        write.covers.iter().for_each(|&i| event_ok[i] = false);
    }
    let written = write_latest(
        &deps.dynamodb,
        &c.table,
        &plan,
        &writes,
        &c.entity_key,
        c.write_concurrency,
        c.write_attempts,
    )
    .await;
    for (write, result) in writes.iter().zip(written) {
        if let Err(e) = result {
            tracing::warn!(entity = %write.entity, error = %e, "latest state not written");
            write.covers.iter().for_each(|&i| event_ok[i] = false);
            errors.push(e);
        }
    }

    // Then the events, one object per type and hour, but none of a record the source will deliver again: its
    // redelivery writes them, once.
    let held = events_of(&plan, &redelivered(&plan, &event_ok, &poison_ok, &[]));
    for (ok, held) in event_ok.iter_mut().zip(held) {
        *ok &= !held;
    }
    // A redrive leaves out what the mapping's last attempt stored (those events count as done).
    let stored = match delivery {
        Delivery::Live => vec![false; plan.events.len()],
        Delivery::Redrive => {
            let groups = earlier_objects(&plan, &c.events_prefix, |e| event_ok[e]);
            let mut found = Vec::with_capacity(groups.len());
            for (stem, _) in &groups {
                found.push(s3::list_keys(&deps.s3, &c.bucket, stem).await?);
            }
            stored_earlier(&plan, &groups, &found)
        }
    };
    let planned = objects(&plan, &c.events_prefix, c.gzip, |e| {
        event_ok[e] && !stored[e]
    })
    .map_err(|e| Error::Internal(e.to_string()))?;
    let content_type = if c.gzip {
        "application/gzip"
    } else {
        "application/x-ndjson"
    };
    let bodies = planned
        .iter()
        .map(|o| (o.key.clone(), Bytes::from(o.body.clone()), content_type))
        .collect();
    let puts = put_all(&deps.s3, &c.bucket, bodies).await;
    for (object, result) in planned.iter().zip(&puts) {
        if let Err(e) = result {
            tracing::warn!(key = %object.key, error = %e, "event object not written");
            object.events.iter().for_each(|&i| event_ok[i] = false);
            errors.push(e.clone());
        }
    }
    // A failed object means more records come again (for Kinesis, all from its first record on). An object
    // already written with any of their events is removed, so the redelivery does not write those twice.
    let written: Vec<&[usize]> = planned
        .iter()
        .zip(&puts)
        .filter(|(_, r)| r.is_ok())
        .map(|(o, _)| o.events.as_slice())
        .collect();
    let held = events_of(&plan, &redelivered(&plan, &event_ok, &poison_ok, &written));
    for (object, result) in planned.iter().zip(&puts) {
        if result.is_ok() && object.events.iter().any(|&e| held[e]) {
            object.events.iter().for_each(|&i| event_ok[i] = false);
            if let Err(e) = s3::delete(&deps.s3, &c.bucket, &object.key).await {
                tracing::warn!(key = %object.key, error = %e, "event object of a redelivered record not removed; its events may be written twice");
            }
        }
    }

    // Colliding keys lose nothing (each keeps its own spelling) but tell of a producer sending two spellings.
    let collisions = plan.collisions().count();
    if let Some((record, first)) = plan.collisions().next() {
        tracing::warn!(
            collisions,
            sequence_number = %plan.inputs[record].meta.sequence_number,
            first = %first,
            "keys that share a snake_case name kept their own spelling"
        );
    }

    let outcomes = record_outcomes(&plan, &event_ok, &poison_ok);
    let failed = outcomes.iter().filter(|ok| !**ok).count();
    let dead_lettered = poison_ok.values().filter(|ok| **ok).count();
    tracing::info!(
        records = plan.inputs.len(),
        events = plan.events.len(),
        duplicates = plan.duplicates(),
        seen_before = plan.seen_before(),
        dead_lettered,
        key_collisions = collisions,
        failed,
        "batch processed"
    );
    MetricSet::new("Tributary")
        .dimension("Function", "kinesis-normalizer")
        .value("RecordsIn", plan.inputs.len() as f64, "Count")
        .value("Duplicates", plan.duplicates() as f64, "Count")
        .value(
            "DuplicatesDropped",
            (plan.duplicates() + plan.seen_before()) as f64,
            "Count",
        )
        .value("KeyCollisions", collisions as f64, "Count")
        .value("DeadLettered", dead_lettered as f64, "Count")
        .value("RecordsFailed", failed as f64, "Count")
        .value(
            "DurationMs",
            started.elapsed().as_secs_f64() * 1000.0,
            "Milliseconds",
        )
        .emit();
    response(&plan, &outcomes).ok_or_else(|| {
        let first = errors.first();
        Error::AllFailed {
            kind: first.map_or(tributary_shared::ErrorKind::Internal, |e| e.kind),
            first: first.map_or_else(|| "unknown".to_owned(), ToString::to_string),
        }
    })
}
