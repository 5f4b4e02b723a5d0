//! Redrive from the stream: the event source mapping's on-failure queue holds where a failed batch was (shard,
//! sequence range), not its records. A redrive reads those messages, fetches each range back from the stream
//! (`GetShardIterator` `AT_SEQUENCE_NUMBER`, then `GetRecords` up to the range's end), stores the records exactly
//! as the live path does ([`process`] with [`Delivery::Redrive`]), and deletes a message only once all its
//! records are stored. Run twice, it changes nothing: event objects are named by their records, claims and
//! latest-state writes are conditional, and what the mapping's last attempt stored is found and left out.
//!
//! A range the stream no longer holds (past its retention, or its shard gone) is reported by name and left in the
//! queue, unless the request says to delete it.

use crate::batch::{Data, Input, Source};
use crate::error::Error;
use crate::failure::{self, BatchInfo, Fetched};
use crate::handler::{Delivery, Deps, process};
use crate::normalize::RecordMeta;
use aws_sdk_kinesis::types::ShardIteratorType;
use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use tributary_shared::aws::AwsError;

/// What to redrive: `{"redrive": {"queue_url": "...", "max_messages": 100, "delete_aged_out": false}}`; every
/// field optional (the queue defaults to `REDRIVE_QUEUE_URL`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub queue_url: Option<String>,
    pub max_messages: Option<usize>,
    #[serde(default)]
    pub delete_aged_out: bool,
}

/// Messages handled by one invocation unless the request says otherwise.
pub const DEFAULT_MAX_MESSAGES: usize = 100;
/// Long enough that no other redrive takes a message while this one stores its records (Lambda's longest run).
const VISIBILITY_SECS: i32 = 900;
/// `GetRecords` calls for one range, at most: a range is one failed batch, at most 10,000 records.
const MAX_GET_RECORDS: usize = 100;

/// What a redrive did, message by message.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub queue_url: String,
    /// Ranges whose records are all stored; their messages are deleted.
    pub redriven: Vec<Range>,
    /// Ranges the stream no longer holds (whole or in part): what was left of them is stored; their messages stay
    /// in the queue unless `delete_aged_out`.
    pub aged_out: Vec<Range>,
    /// Ranges with records that could not be stored this time; their messages stay, for the next redrive.
    pub failed: Vec<Range>,
    /// Messages that are not on-failure records for a Kinesis batch; they stay.
    pub unreadable: Vec<Unreadable>,
    pub records_fetched: usize,
    /// `max_messages` was reached: run again for the rest.
    pub more: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Range {
    pub message_id: String,
    /// `stream shard start..=end`.
    pub range: String,
    pub records: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_left: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub deleted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    pub message_id: String,
    pub reason: String,
}

/// Runs a redrive request (the Lambda mode; `tributary redrive` calls [`redrive`]).
pub async fn run(request: &serde_json::Value, deps: &Deps) -> Result<Report, Error> {
    let request: Request = serde_json::from_value(request.clone())
        .map_err(|e| Error::BadRequest(format!("redrive request: {e}")))?;
    let queue_url = request
        .queue_url
        .clone()
        .or_else(|| deps.config.redrive_queue_url.clone())
        .ok_or_else(|| {
            Error::BadRequest(
                "no queue to redrive: give redrive.queue_url or set REDRIVE_QUEUE_URL".into(),
            )
        })?;
    redrive(deps, &queue_url, &request).await
}

/// Redrives up to `max_messages` messages of `queue_url`.
pub async fn redrive(deps: &Deps, queue_url: &str, request: &Request) -> Result<Report, Error> {
    let max = request.max_messages.unwrap_or(DEFAULT_MAX_MESSAGES).max(1);
    let mut report = Report {
        queue_url: queue_url.to_owned(),
        ..Report::default()
    };
    let mut handled = 0;
    let mut seen = HashSet::new();
    // Receipts of the messages left in the queue: made visible again at the end, for the next redrive.
    let mut left = Vec::new();
    while handled < max {
        let want = i32::try_from((max - handled).min(10)).unwrap_or(10);
        let received = deps
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(want)
            .visibility_timeout(VISIBILITY_SECS)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ReceiveMessage", queue_url, &e))?;
        let messages = received.messages();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let id = message.message_id().unwrap_or_default().to_owned();
            let receipt = message.receipt_handle().unwrap_or_default().to_owned();
            if !seen.insert(id.clone()) {
                continue;
            }
            handled += 1;
            let keep = redrive_one(
                deps,
                &id,
                message.body().unwrap_or_default(),
                request,
                &mut report,
            )
            .await?;
            if keep {
                left.push(receipt);
            } else {
                deps.sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(&receipt)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DeleteMessage", queue_url, &e))?;
            }
        }
    }
    report.more = handled >= max;
    for receipt in left {
        // Best effort: a message not made visible now is visible again when its timeout ends.
        if let Err(e) = deps
            .sqs
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await
        {
            tracing::warn!(error = %AwsError::from_sdk("ChangeMessageVisibility", queue_url, &e), "message left invisible until its timeout");
        }
    }
    tracing::info!(
        redriven = report.redriven.len(),
        aged_out = report.aged_out.len(),
        failed = report.failed.len(),
        unreadable = report.unreadable.len(),
        records = report.records_fetched,
        "redrive finished"
    );
    Ok(report)
}

/// Redrives one message; returns whether it stays in the queue.
async fn redrive_one(
    deps: &Deps,
    id: &str,
    body: &str,
    request: &Request,
    report: &mut Report,
) -> Result<bool, Error> {
    let record = match failure::parse(body) {
        Ok(record) => record,
        Err(e) => {
            tracing::warn!(message_id = %id, reason = %e, "not a Kinesis on-failure record; left in the queue");
            report.unreadable.push(Unreadable {
                message_id: id.to_owned(),
                reason: e.to_string(),
            });
            return Ok(true);
        }
    };
    let batch = &record.batch;
    let inputs = match fetch(&deps.kinesis, batch).await {
        Ok(inputs) => inputs,
        // This range cannot be read now (throttled, a wrong region or stream, ...): it stays, the others go on.
        Err(e) => {
            tracing::warn!(message_id = %id, range = %batch.name(), error = %e, "range not fetched; left in the queue");
            report.failed.push(Range {
                message_id: id.to_owned(),
                range: batch.name(),
                records: 0,
                first_left: None,
                error: Some(e.to_string()),
                deleted: false,
            });
            return Ok(true);
        }
    };
    report.records_fetched += inputs.len();
    let count = inputs.len();
    let range = |error: Option<String>, first_left: Option<String>, deleted: bool| Range {
        message_id: id.to_owned(),
        range: batch.name(),
        records: count,
        first_left,
        error,
        deleted,
    };
    let judged = failure::judge(
        batch,
        inputs.first().map(|i| i.meta.sequence_number.as_str()),
    );
    let stored = if inputs.is_empty() {
        Ok(())
    } else {
        match process(Source::Kinesis, inputs, Delivery::Redrive, deps).await {
            Ok(crate::batch::BatchResponse::Kinesis(r)) if r.batch_item_failures.is_empty() => {
                Ok(())
            }
            Ok(_) => Err("some records were not stored".to_owned()),
            Err(e) => Err(e.to_string()),
        }
    };
    match (judged, stored) {
        (_, Err(error)) => {
            tracing::warn!(message_id = %id, range = %batch.name(), %error, "range not redriven; left in the queue");
            report.failed.push(range(Some(error), None, false));
            Ok(true)
        }
        (Fetched::Whole, Ok(())) => {
            tracing::info!(message_id = %id, range = %batch.name(), records = count, "range redriven");
            report.redriven.push(range(None, None, true));
            Ok(false)
        }
        (Fetched::AgedOut { first_left }, Ok(())) => {
            tracing::warn!(message_id = %id, range = %batch.name(), first_left = ?first_left, stored = count, "range aged out of the stream");
            report
                .aged_out
                .push(range(None, first_left, request.delete_aged_out));
            Ok(!request.delete_aged_out)
        }
    }
}

/// The range's records that the stream still holds, in order, as the live path reads them.
async fn fetch(kinesis: &aws_sdk_kinesis::Client, batch: &BatchInfo) -> Result<Vec<Input>, Error> {
    let target = batch.name();
    let iterator = kinesis
        .get_shard_iterator()
        .stream_arn(&batch.stream_arn)
        .shard_id(&batch.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(&batch.start_sequence_number)
        .send()
        .await;
    let mut iterator = match iterator {
        Ok(out) => out.shard_iterator().map(str::to_owned),
        // The shard is gone (closed by a reshard, then past the retention), if its stream is still there: nothing
        // of the range is left. A stream that cannot be found is an error, not an age: a wrong ARN or region must
        // not make messages look expired.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            kinesis
                .describe_stream_summary()
                .stream_arn(&batch.stream_arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeStreamSummary", &target, &e))?;
            tracing::warn!(range = %target, error = %AwsError::from_sdk("GetShardIterator", &target, &e), "the range's shard is gone from the stream");
            None
        }
        Err(e) => return Err(AwsError::from_sdk("GetShardIterator", &target, &e).into()),
    };
    let mut inputs = Vec::new();
    let mut calls = 0;
    'read: while let Some(it) = iterator.take() {
        calls += 1;
        if calls > MAX_GET_RECORDS {
            return Err(Error::Internal(format!(
                "{target}: no record past the range's end after {MAX_GET_RECORDS} GetRecords calls"
            )));
        }
        let out = kinesis
            .get_records()
            .stream_arn(&batch.stream_arn)
            .shard_iterator(it)
            .limit(10_000)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetRecords", &target, &e))?;
        for r in out.records() {
            let seq = r.sequence_number();
            if failure::compare(seq, &batch.end_sequence_number).is_gt() {
                break 'read;
            }
            let arrival = r
                .approximate_arrival_timestamp()
                .and_then(|t| t.to_millis().ok())
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                .unwrap_or_else(Utc::now);
            inputs.push(Input {
                meta: RecordMeta {
                    shard_id: batch.shard_id.as_str().into(),
                    sequence_number: seq.to_owned(),
                    partition_key: r.partition_key().into(),
                    arrival,
                },
                data: Data::Bytes(r.data().as_ref().to_vec()),
            });
        }
        // The end of what the shard holds now: the range cannot go on past it.
        if out.records().is_empty() && out.millis_behind_latest().is_none_or(|ms| ms == 0) {
            break;
        }
        iterator = out.next_shard_iterator().map(str::to_owned);
    }
    Ok(inputs)
}
