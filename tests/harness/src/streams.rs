//! Kinesis streams and SQS queues in the emulator, for the stream redrive's tests.

use crate::fixture;
use serde_json::{Value, json};

/// A stream of one shard in the emulator, holding `payloads`: its ARN, the shard and each record's sequence number.
pub async fn stream_with(payloads: &[Value]) -> (String, String, Vec<String>) {
    let kinesis = aws_sdk_kinesis::Client::new(&crate::sdk_config().await);
    let name = crate::unique_bucket("redrive");
    kinesis
        .create_stream()
        .stream_name(&name)
        .shard_count(1)
        .send()
        .await
        .expect("create stream");
    let arn = kinesis
        .describe_stream_summary()
        .stream_name(&name)
        .send()
        .await
        .expect("stream")
        .stream_description_summary()
        .expect("summary")
        .stream_arn()
        .to_owned();
    let (mut shard, mut seqs) = (String::new(), Vec::new());
    for p in payloads {
        let put = kinesis
            .put_record()
            .stream_arn(&arn)
            .partition_key("pk")
            .data(aws_sdk_kinesis::primitives::Blob::new(p.to_string()))
            .send()
            .await
            .expect("put record");
        shard = put.shard_id().to_owned();
        seqs.push(put.sequence_number().to_owned());
    }
    (arn, shard, seqs)
}

/// The on-failure destination's record (the sample in `events/data/`) for `shard` `start..=end` of `arn`.
pub fn failure_record(arn: &str, shard: &str, start: &str, end: &str) -> String {
    let mut record = fixture("data/kinesis-on-failure-record.json");
    let batch = &mut record["KinesisBatchInfo"];
    batch["streamArn"] = json!(arn);
    batch["shardId"] = json!(shard);
    batch["startSequenceNumber"] = json!(start);
    batch["endSequenceNumber"] = json!(end);
    record.to_string()
}

pub async fn queue_with(bodies: &[String]) -> (aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(&crate::sdk_config().await);
    let url = sqs
        .create_queue()
        .queue_name(crate::unique_bucket("failures"))
        .send()
        .await
        .expect("queue")
        .queue_url()
        .expect("url")
        .to_owned();
    for body in bodies {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }
    (sqs, url)
}

/// Every message body still in the queue.
pub async fn queue_bodies(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .expect("receive");
    out.messages()
        .iter()
        .filter_map(|m| m.body().map(str::to_owned))
        .collect()
}
