# The events stream, the normalizer's event source mapping, and the queues where failures wait for an operator.

resource "aws_kinesis_stream" "events" {
  # The AWS managed key needs no key policy or grants for producers and the normalizer.
  name             = "${var.name_prefix}-events"
  shard_count      = var.kinesis.stream_mode == "PROVISIONED" ? var.kinesis.shard_count : null
  retention_period = var.kinesis.retention_hours
  encryption_type  = "KMS"
  kms_key_id       = "alias/aws/kinesis"

  stream_mode_details {
    stream_mode = var.kinesis.stream_mode
  }
}

resource "aws_lambda_event_source_mapping" "events" {
  event_source_arn  = aws_kinesis_stream.events.arn
  function_name     = aws_lambda_function.fn["kinesis-normalizer"].arn
  starting_position = "TRIM_HORIZON"

  batch_size                         = var.kinesis.batch_size
  maximum_batching_window_in_seconds = var.kinesis.batching_window_seconds
  parallelization_factor             = var.kinesis.parallelization_factor

  # The normalizer names the first failed record; Lambda retries from there. A batch that fails as a whole is split
  # in two until the bad records are isolated, retried at most max_retry_attempts times and never past
  # max_record_age_seconds, then its metadata goes to the failure queue and the shard moves on.
  function_response_types        = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = var.kinesis.max_retry_attempts
  maximum_record_age_in_seconds  = var.kinesis.max_record_age_seconds

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.kinesis_failures.arn
    }
  }

  # Lambda checks at creation that the function's role can read the stream and send to the queue.
  depends_on = [aws_iam_role_policy.fn]
}

# Batches the normalizer gave up on (shard, sequence range, reason): replay them from the stream while it retains them.
resource "aws_sqs_queue" "kinesis_failures" {
  name                      = "${var.name_prefix}-kinesis-failures"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

# Asynchronous invocations that failed every retry (S3-triggered functions), and raw/ events EventBridge could not
# deliver to the state machine.
resource "aws_sqs_queue" "async_failures" {
  name                      = local.async_failures_name
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  # Inline rather than a separate aws_sqs_queue_policy: one attribute-propagation wait instead of two.
  policy = data.aws_iam_policy_document.async_failures.json
}

locals {
  async_failures_name = "${var.name_prefix}-async-failures"
  # Built, since the queue's policy cannot refer to the queue itself.
  async_failures_arn = "arn:${local.partition}:sqs:${local.region}:${local.account}:${local.async_failures_name}"
}

data "aws_iam_policy_document" "async_failures" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [local.async_failures_arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  dynamic "statement" {
    for_each = local.warehouse ? [local.raw_csv_rule_arn] : []
    content {
      sid       = "EventBridgeDeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [local.async_failures_arn]

      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [statement.value]
      }
    }
  }
}
