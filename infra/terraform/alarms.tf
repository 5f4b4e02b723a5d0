# Pipeline notifications (state machine results and alarms) and the alarms that watch the pipeline.

# The topic's own key: CloudWatch alarms cannot publish to a topic encrypted with the AWS managed aws/sns key
# (its key policy cannot be changed to let cloudwatch.amazonaws.com use it), so encryption needs a customer key.
data "aws_iam_policy_document" "notifications_key" {
  #checkov:skip=CKV_AWS_109:A key policy's "*" resource means this key; the account statement delegates to IAM as AWS's default key policy does.
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource means this key; the account statement delegates to IAM as AWS's default key policy does.
  #checkov:skip=CKV_AWS_356:A key policy's "*" resource means this key.
  statement {
    sid       = "AccountAdministersThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "notifications" {
  description             = "${var.name_prefix}: encrypts the pipeline notifications topic"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.notifications_key.json
}

resource "aws_kms_alias" "notifications" {
  name          = "alias/${var.name_prefix}-notifications"
  target_key_id = aws_kms_key.notifications.key_id
}

resource "aws_sns_topic" "notifications" {
  name              = "${var.name_prefix}-pipeline-notifications"
  kms_master_key_id = aws_kms_key.notifications.arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.notification_emails)

  topic_arn = aws_sns_topic.notifications.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  alarm_actions = [aws_sns_topic.notifications.arn]
}

# Any failed invocation. For the normalizer that is a batch where every record failed; partial failures are
# retried by the event source mapping and show up as iterator age or in the failure queue.
resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.functions

  alarm_name          = "${var.name_prefix}-${each.key}-errors"
  alarm_description   = "${var.name_prefix}-${each.key} returned errors (see its log group)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.fn[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "kinesis_iterator_age" {
  alarm_name          = "${var.name_prefix}-kinesis-normalizer-iterator-age"
  alarm_description   = "kinesis-normalizer is more than ${var.iterator_age_alarm_seconds} s behind ${aws_kinesis_stream.events.name}."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.fn["kinesis-normalizer"].function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  threshold           = var.iterator_age_alarm_seconds * 1000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = {
    "kinesis-failures" = aws_sqs_queue.kinesis_failures.name
    "async-failures"   = aws_sqs_queue.async_failures.name
  }

  alarm_name          = "${var.name_prefix}-${each.key}-not-empty"
  alarm_description   = "Messages are waiting in ${each.value}: failed work to inspect and replay."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

locals {
  state_machines = merge(
    local.warehouse ? { "csv-pipeline" = aws_sfn_state_machine.csv_pipeline[0].arn } : {},
    local.webhook ? { "orders" = aws_sfn_state_machine.orders[0].arn } : {},
    local.warehouse ? { "backfill" = aws_sfn_state_machine.backfill[0].arn } : {},
  )
}

# The CSV pipeline's alarm was once `count`-based: keep its history through the change to `for_each`.
moved {
  from = aws_cloudwatch_metric_alarm.state_machine_failures[0]
  to   = aws_cloudwatch_metric_alarm.state_machine_failures["csv-pipeline"]
}

resource "aws_cloudwatch_metric_alarm" "state_machine_failures" {
  for_each = local.state_machines

  alarm_name          = "${var.name_prefix}-${each.key}-failures"
  alarm_description   = "${each.key} state machine executions failed, timed out or were aborted."
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "unsuccessful"
    expression  = "FILL(failed, 0) + FILL(timed_out, 0) + FILL(aborted, 0)"
    label       = "Unsuccessful executions"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { failed = "ExecutionsFailed", timed_out = "ExecutionsTimedOut", aborted = "ExecutionsAborted" }
    content {
      id = metric_query.key

      metric {
        namespace   = "AWS/States"
        metric_name = metric_query.value
        dimensions  = { StateMachineArn = each.value }
        stat        = "Sum"
        period      = 300
      }
    }
  }
}

# --- alarms on the data, not only on errors --------------------------------------------------------------------------
# From the functions' EMF metrics (namespace Tributary): kinesis-normalizer's per batch, csv-to-parquet's per dataset.

resource "aws_cloudwatch_metric_alarm" "stream_data" {
  for_each = {
    dead-letters = {
      metric      = "DeadLettered"
      description = "kinesis-normalizer dead-lettered records it could not read (poison): see dead-letter/kinesis/."
    }
    failed-records = {
      metric      = "RecordsFailed"
      description = "kinesis-normalizer could not store records (they are retried, then sent to the failure queue)."
    }
  }

  alarm_name          = "${var.name_prefix}-kinesis-normalizer-${each.key}"
  alarm_description   = each.value.description
  namespace           = "Tributary"
  metric_name         = each.value.metric
  dimensions          = { Function = "kinesis-normalizer" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# A dataset's rejection ratio over the last hour, failed quality gates included.
resource "aws_cloudwatch_metric_alarm" "dataset_rejections" {
  for_each = toset(var.data_alarms.datasets)

  alarm_name          = "${var.name_prefix}-dataset-${each.key}-rejections"
  alarm_description   = "More than ${var.data_alarms.rejection_ratio * 100} % of dataset ${each.key}'s rows were rejected in the last hour (see quarantine/${each.key}/)."
  evaluation_periods  = 1
  threshold           = var.data_alarms.rejection_ratio
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "ratio"
    expression  = "IF(rows_in > 0, rejected / rows_in, 0)"
    label       = "Rejected share of rows"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { rows_in = "RowsIn", rejected = "RowsRejected" }
    content {
      id = metric_query.key

      metric {
        namespace   = "Tributary"
        metric_name = metric_query.value
        dimensions  = { Function = "csv-to-parquet", Dataset = each.key }
        stat        = "Sum"
        period      = 3600
      }
    }
  }
}

# Freshness: no curated file for the dataset within freshness_hours (missing data is breaching: silence is the alarm).
resource "aws_cloudwatch_metric_alarm" "dataset_freshness" {
  for_each = toset(var.data_alarms.datasets)

  alarm_name          = "${var.name_prefix}-dataset-${each.key}-freshness"
  alarm_description   = "No curated file for dataset ${each.key} in the last ${var.data_alarms.freshness_hours} h."
  namespace           = "Tributary"
  metric_name         = "FilesConverted"
  dimensions          = { Function = "csv-to-parquet", Dataset = each.key }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = var.data_alarms.freshness_hours
  datapoints_to_alarm = var.data_alarms.freshness_hours
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Volume: a file's rows far from the dataset's recent level, by CloudWatch anomaly detection on rows out.
resource "aws_cloudwatch_metric_alarm" "dataset_volume" {
  for_each = toset(var.data_alarms.datasets)

  alarm_name          = "${var.name_prefix}-dataset-${each.key}-volume"
  alarm_description   = "Dataset ${each.key}'s rows out left the band of its recent level (anomaly detection, ${var.data_alarms.volume_band_width} standard deviations)."
  evaluation_periods  = 1
  threshold_metric_id = "band"
  comparison_operator = "LessThanLowerOrGreaterThanUpperThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "band"
    expression  = "ANOMALY_DETECTION_BAND(rows, ${var.data_alarms.volume_band_width})"
    label       = "Expected rows out"
    return_data = true
  }

  metric_query {
    id          = "rows"
    return_data = true

    metric {
      namespace   = "Tributary"
      metric_name = "RowsOut"
      dimensions  = { Function = "csv-to-parquet", Dataset = each.key }
      stat        = "Maximum"
      period      = 3600
    }
  }
}
