output "bucket_name" {
  description = "The data bucket: every output of the pipeline (curated/, quarantine/, events/, orders/validated/, ...)."
  value       = aws_s3_bucket.data.id
}

output "bucket_arn" {
  description = "ARN of the data bucket."
  value       = aws_s3_bucket.data.arn
}

output "landing_bucket_name" {
  description = "The landing bucket, under Object Lock: where producers put raw inputs (raw/<dataset>/, orders/incoming/)."
  value       = aws_s3_bucket.landing.id
}

output "landing_bucket_arn" {
  description = "ARN of the landing bucket."
  value       = aws_s3_bucket.landing.arn
}

output "replica_bucket_names" {
  description = "The cross-region replicas by source (landing, and curated when replication.curated); null without replication."
  value       = local.replication ? { for name, bucket in aws_s3_bucket.replica : name => bucket.id } : null
}

output "prefixes" {
  description = "The layout the functions are configured with: raw/ and orders/incoming/ in the landing bucket, the rest in the data bucket."
  value       = local.prefixes
}

output "raw_csv_path" {
  description = "How raw/ CSVs are processed: \"state-machine\" (EventBridge -> Step Functions) or \"s3-notification\" (straight to csv-to-parquet)."
  value       = local.warehouse ? "state-machine" : "s3-notification"
}

output "stream_name" {
  description = "The Kinesis stream kinesis-normalizer reads."
  value       = aws_kinesis_stream.events.name
}

output "stream_arn" {
  description = "ARN of the Kinesis stream."
  value       = aws_kinesis_stream.events.arn
}

output "latest_table_name" {
  description = "DynamoDB table of the latest event per entity (partition key entity_id)."
  value       = aws_dynamodb_table.latest.name
}

output "orders_table_name" {
  description = "DynamoDB table of accepted orders (partition key order_id, TTL expires_at)."
  value       = aws_dynamodb_table.orders.name
}

output "state_machine_arn" {
  description = "ARN of the CSV state machine (null without a warehouse)."
  value       = one(aws_sfn_state_machine.csv_pipeline[*].arn)
}

output "function_names" {
  description = "Deployed function names by function."
  value       = { for name, fn in aws_lambda_function.fn : name => fn.function_name }
}

output "notifications_topic_arn" {
  description = "SNS topic for pipeline results and alarms."
  value       = aws_sns_topic.notifications.arn
}

output "failure_queue_urls" {
  description = "SQS queues holding failed work: Kinesis batches the normalizer gave up on (where they were, not their records: redrive them with `tributary redrive` or the normalizer's {\"redrive\": {}} mode), and asynchronous events that failed every retry."
  value = {
    kinesis = aws_sqs_queue.kinesis_failures.id
    async   = aws_sqs_queue.async_failures.id
  }
}

output "copy_role_arn" {
  description = "Role Redshift assumes for COPY (created here unless redshift.copy_role_arn was given): associate it with the cluster or workgroup. Null without a warehouse."
  value       = local.copy_role_arn
}

output "glue_database" {
  description = "The Glue database of the datasets: one table per dataset, queryable in Athena as <database>.<dataset> (`-` in a dataset's name becomes `_`)."
  value       = aws_glue_catalog_database.datasets.name
}

output "athena_workgroup" {
  description = "The Athena workgroup for queries over the datasets; results go to athena-results/ in the bucket, encrypted."
  value       = aws_athena_workgroup.datasets.name
}

output "webhook_url" {
  description = "Where senders POST signed purchase orders (null when order_webhook.enabled = false)."
  value       = local.webhook ? "${aws_apigatewayv2_stage.webhook[0].invoke_url}orders" : null
}

output "orders_state_machine_arn" {
  description = "ARN of the orders state machine each webhook delivery starts (null without the webhook)."
  value       = one(aws_sfn_state_machine.orders[*].arn)
}

output "webhook_secret_arn" {
  description = "The webhook's signing secret: put its value before the first delivery (null without the webhook)."
  value       = one(aws_secretsmanager_secret.webhook[*].arn)
}

output "seen_table_name" {
  description = "kinesis-normalizer's dedup window table (event_id, TTL on expires_at)."
  value       = aws_dynamodb_table.events_seen.name
}

output "backfill_state_machine_arn" {
  description = "The backfill state machine (with a warehouse): start it with {\"prefix\": \"raw/<dataset>/\"}, or {\"prefix\": \"quarantine/<dataset>/\", \"mode\": \"replay\"}."
  value       = local.warehouse ? aws_sfn_state_machine.backfill[0].arn : null
}
