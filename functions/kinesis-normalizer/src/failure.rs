//! What the event source mapping's on-failure destination holds for a Kinesis batch that ran out of retries: not
//! the records, only where they were (stream, shard, first and last sequence number). Read here, without I/O, with
//! the checks a redrive makes on what it fetched back.

use serde::Deserialize;
use std::cmp::Ordering;

/// The on-failure destination's record (Lambda's "invocation record" for stream sources). Only the batch's
/// location is read; `requestContext.condition` says why it failed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureRecord {
    #[serde(rename = "KinesisBatchInfo")]
    pub batch: BatchInfo,
    #[serde(default)]
    pub request_context: Option<RequestContext>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    pub stream_arn: String,
    #[serde(default)]
    pub batch_size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    #[serde(default)]
    pub condition: Option<String>,
}

impl BatchInfo {
    /// `stream shard start..=end`, how reports name a range.
    pub fn name(&self) -> String {
        format!(
            "{} {} {}..={}",
            self.stream_arn, self.shard_id, self.start_sequence_number, self.end_sequence_number
        )
    }
}

/// Why a message cannot be redriven as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FailureError {
    #[error(
        "not a Kinesis on-failure record (no KinesisBatchInfo with shardId, sequence numbers and streamArn): {0}"
    )]
    NotAFailureRecord(String),
    #[error("sequence numbers must be decimal digits: {0:?}")]
    BadSequence(String),
}

/// Reads one queue message's body.
pub fn parse(body: &str) -> Result<FailureRecord, FailureError> {
    let record: FailureRecord =
        serde_json::from_str(body).map_err(|e| FailureError::NotAFailureRecord(e.to_string()))?;
    let b = &record.batch;
    for seq in [&b.start_sequence_number, &b.end_sequence_number] {
        if seq.is_empty() || !seq.bytes().all(|c| c.is_ascii_digit()) {
            return Err(FailureError::BadSequence(seq.clone()));
        }
    }
    Ok(record)
}

/// Orders two Kinesis sequence numbers (decimal strings of up to 128 digits, too long for an integer type).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Whether `seq` falls in the batch's range.
pub fn in_range(batch: &BatchInfo, seq: &str) -> bool {
    compare(seq, &batch.start_sequence_number).is_ge()
        && compare(seq, &batch.end_sequence_number).is_le()
}

/// What a fetch from `start` found, judged: the range is whole only when its first record is still in the stream.
/// Kinesis starts an `AT_SEQUENCE_NUMBER` iterator at the oldest record left when the asked one has aged out, so
/// a first record after `start` means the records before it are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Whole,
    /// The stream no longer holds the range's start (or any of it, with `first_left` `None`).
    AgedOut {
        first_left: Option<String>,
    },
}

pub fn judge(batch: &BatchInfo, first_fetched: Option<&str>) -> Fetched {
    match first_fetched {
        Some(first) if compare(first, &batch.start_sequence_number).is_eq() => Fetched::Whole,
        Some(first) if in_range(batch, first) => Fetched::AgedOut {
            first_left: Some(first.to_owned()),
        },
        _ => Fetched::AgedOut { first_left: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample in `events/data/`, as the event source mapping's on-failure destination writes it.
    const RECORD: &str = include_str!("../../../events/data/kinesis-on-failure-record.json");

    #[test]
    fn reads_the_destinations_record() {
        let r = parse(RECORD).expect("record");
        assert_eq!(r.batch.shard_id, "shardId-000000000001");
        assert_eq!(r.batch.batch_size, Some(500));
        assert_eq!(
            r.request_context.and_then(|c| c.condition).as_deref(),
            Some("RetryAttemptsExhausted")
        );
        assert!(matches!(
            parse(r#"{"event_id": "1"}"#),
            Err(FailureError::NotAFailureRecord(_))
        ));
        let bad = RECORD.replace(
            "49601189658422359378836298521827638475320189012309704722",
            "49x",
        );
        assert_eq!(parse(&bad), Err(FailureError::BadSequence("49x".into())));
    }

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert!(compare("9", "10").is_lt());
        assert!(compare("0010", "10").is_eq());
        assert!(
            compare(
                "49601189658422359378836298522902373528957594348623495186",
                "49601189658422359378836298521827638475320189012309704722"
            )
            .is_gt()
        );
    }

    #[test]
    fn a_fetch_that_starts_after_the_range_start_has_aged_out() {
        let b = parse(RECORD).expect("record").batch;
        assert_eq!(judge(&b, Some(&b.start_sequence_number)), Fetched::Whole);
        let later = "49601189658422359378836298522000000000000000000000000000";
        assert_eq!(
            judge(&b, Some(later)),
            Fetched::AgedOut {
                first_left: Some(later.into())
            }
        );
        assert_eq!(judge(&b, None), Fetched::AgedOut { first_left: None });
        let past_end = "49601189658422359378836298523000000000000000000000000000";
        assert_eq!(
            judge(&b, Some(past_end)),
            Fetched::AgedOut { first_left: None }
        );
    }
}
